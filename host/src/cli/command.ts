// What every CLI command module exports. Commands parse their own flags (node:util parseArgs),
// call one library function, and map its Result to an exit code; only cli/ prints or exits.
import type { Writable } from 'node:stream';
import { formatError, exitCodeFor, ErrorCodes, tspodError, type TspodError } from '../errors.js';

export interface GlobalOptions {
  /** Data directory (--dir, TSPOD_DIR, default /var/lib/tspod). */
  readonly dir: string;
  readonly debug: boolean;
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
