// What every CLI command module exports. Commands parse their own flags (node:util parseArgs),
// call one library function, and map its Result to an exit code; only cli/ prints or exits.
import type { Writable } from 'node:stream';
import { parseArgs, type ParseArgsConfig } from 'node:util';
import { formatError, exitCodeFor, ErrorCodes, tspodError, type TspodError } from '../errors.js';

/** rkt's --insecure-options values; `all-fetch` and `all` expand to the fetch ones. */
export type InsecureOption = 'image' | 'tls' | 'http' | 'pubkey' | 'ondisk' | 'capabilities' | 'paths' | 'seccomp';

export interface GlobalOptions {
  /** Data directory (--dir, TSPOD_DIR, default /var/lib/tspod). */
  readonly dir: string;
  readonly debug: boolean;
  /** Vendor configuration (--system-config, default /usr/lib/tspod): trusted keys shipped with the OS. */
  readonly systemConfig: string;
  /** Administrator configuration (--local-config, default /etc/tspod); wins over the system one. */
  readonly localConfig: string;
  /** Security checks the user chose to skip (--insecure-options); each is warned about when used. */
  readonly insecure: ReadonlySet<InsecureOption>;
  /** Trust keys that discovery finds over HTTPS without asking (--trust-keys-from-https). */
  readonly trustKeysFromHttps: boolean;
}

export interface CommandContext {
  readonly globals: GlobalOptions;
  readonly stdout: Writable;
  readonly stderr: Writable;
}

export interface CommandModule {
  run(ctx: CommandContext, argv: string[]): Promise<number>;
}

/** Prints a TspodError to stderr and returns the exit code it maps to. */
export function fail(ctx: CommandContext, e: TspodError): number {
  ctx.stderr.write(formatError(e, ctx.globals.debug));
  return exitCodeFor(e);
}

export function usageError(command: string, why: string): TspodError {
  const cmd = command ? `tspod ${command}` : 'tspod';
  return tspodError(ErrorCodes.USAGE, command || 'command line', why, `run \`${cmd} --help\` for usage`);
}

type FlagOptions = NonNullable<ParseArgsConfig['options']>;
type Parsed<O extends FlagOptions> = ReturnType<typeof parseArgs<{ args: string[]; options: O & { help: { type: 'boolean'; short: 'h' } }; allowPositionals: true }>>;

/**
 * Every command's prologue: parse its flags (plus --help/-h). A bad flag prints a usage error and
 * `--help` prints `help`; both return the exit code for the command to return.
 */
export function parseFlags<O extends FlagOptions>(ctx: CommandContext, command: string, argv: string[], options: O, help: string): Parsed<O> | number {
  let parsed: Parsed<O>;
  try {
    parsed = parseArgs({ args: argv, options: { ...options, help: { type: 'boolean', short: 'h' } } as O & { help: { type: 'boolean'; short: 'h' } }, allowPositionals: true });
  } catch (e) {
    return fail(ctx, usageError(command, (e as Error).message));
  }
  if ((parsed.values as { help?: boolean }).help) {
    ctx.stdout.write(help);
    return 0;
  }
  return parsed;
}

export interface Subcommand {
  readonly summary: string;
  readonly load: () => Promise<CommandModule>;
}

/**
 * `tspod COMMAND SUBCOMMAND [args]`: help for the group, or the subcommand's module loaded and run.
 * Without a subcommand the help goes to stderr with exit 2 (a usage error); with --help to stdout.
 */
export async function runSubcommand(ctx: CommandContext, command: string, table: Readonly<Record<string, Subcommand>>, argv: string[]): Promise<number> {
  const [sub, ...rest] = argv;
  if (sub === undefined || sub === '--help' || sub === '-h') {
    const width = Math.max(...Object.keys(table).map((n) => n.length));
    const lines = Object.entries(table).map(([n, s]) => `  ${n.padEnd(width)}  ${s.summary}`);
    const help = [`Usage: tspod ${command} SUBCOMMAND [args]`, '', ...lines, '', `Run \`tspod ${command} SUBCOMMAND --help\` for details.`, ''].join('\n');
    (sub === undefined ? ctx.stderr : ctx.stdout).write(help);
    return sub === undefined ? 2 : 0;
  }
  const entry = table[sub];
  if (!entry) return fail(ctx, usageError(command, `unknown subcommand ${JSON.stringify(sub)}`));
  return (await entry.load()).run(ctx, rest);
}
