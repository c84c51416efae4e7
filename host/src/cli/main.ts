// The CLI edge: global flags, lazy dispatch to one module per command, exit codes.
// Command modules are imported only when used, so `tspod --help` loads no heavy module.
import { formatError, EXIT_USAGE } from '../errors.js';
import { usageError, type CommandContext, type CommandModule, type GlobalOptions } from './command.js';

interface CommandEntry {
  readonly summary: string;
  readonly load: () => Promise<CommandModule>;
}

const COMMANDS: Record<string, CommandEntry> = {
  version: { summary: 'Print tspod, core and Node versions and the features of this build', load: async () => import('./version.js') },
  util: { summary: 'Plumbing for scripts and tests: sha256, sha512, extract', load: async () => import('./util.js') },
};

export const DEFAULT_DIR = '/var/lib/tspod';

function mainHelp(): string {
  const width = Math.max(...Object.keys(COMMANDS).map((n) => n.length));
  const lines = Object.entries(COMMANDS).map(([name, c]) => `  ${name.padEnd(width)}  ${c.summary}`);
  return [
    'tspod: a daemonless container engine for signed appc and OCI images',
    '',
    'Usage: tspod [global flags] COMMAND [args]',
    '',
    'Commands:',
    ...lines,
    '',
    'Global flags:',
    `  --dir DIR   data directory (env TSPOD_DIR; default ${DEFAULT_DIR})`,
    '  --debug     print causes and stack traces with errors',
    '  --help, -h  this help; `tspod COMMAND --help` for a command',
    '',
    'Exit codes: 0 success, 2 usage error, 254 tspod failure (see docs/errors.md).',
    '',
  ].join('\n');
}

interface ParsedGlobals {
  readonly globals: GlobalOptions;
  readonly rest: string[];
  readonly help: boolean;
  readonly error?: string;
}

/** Global flags come before the command (as in rkt); everything after belongs to the command. */
export function parseGlobals(argv: string[], env: NodeJS.ProcessEnv): ParsedGlobals {
  let dir = env['TSPOD_DIR'] || DEFAULT_DIR;
  let debug = false;
  let help = false;
  let i = 0;
  for (; i < argv.length; i++) {
    const a = argv[i]!;
    if (!a.startsWith('-')) break;
    if (a === '--debug') debug = true;
    else if (a === '--help' || a === '-h') help = true;
    else if (a === '--dir' || a.startsWith('--dir=')) {
      const v = a === '--dir' ? argv[++i] : a.slice('--dir='.length);
      if (!v) return { globals: { dir, debug }, rest: [], help, error: '--dir needs a directory' };
      dir = v;
    } else return { globals: { dir, debug }, rest: [], help, error: `unknown global flag ${a}` };
  }
  return { globals: { dir, debug }, rest: argv.slice(i), help };
}

export async function main(argv: string[]): Promise<number> {
  const parsed = parseGlobals(argv, process.env);
  if (parsed.error) {
    process.stderr.write(formatError(usageError('', parsed.error)));
    return EXIT_USAGE;
  }
  const [name, ...args] = parsed.rest;
  if (name === undefined) {
    (parsed.help ? process.stdout : process.stderr).write(mainHelp());
    return parsed.help ? 0 : EXIT_USAGE;
  }
  if (name === 'help' && args.length === 0) {
    process.stdout.write(mainHelp());
    return 0;
  }
  const entry = COMMANDS[name];
  if (!entry) {
    process.stderr.write(formatError(usageError('', `unknown command ${JSON.stringify(name)}`)));
    return EXIT_USAGE;
  }
  const ctx: CommandContext = { globals: parsed.globals, stdout: process.stdout, stderr: process.stderr };
  const mod = await entry.load();
  return mod.run(ctx, parsed.help ? ['--help', ...args] : args);
}
