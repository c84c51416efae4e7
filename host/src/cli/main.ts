// The CLI edge: global flags, lazy dispatch to one module per command, exit codes.
// Command modules are imported only when used, so `tspod --help` loads no heavy module.
import { formatError, EXIT_USAGE, ErrorCodes, tspodError } from '../errors.js';
import { Failure } from '../failure.js';
import { fail, usageError, type CommandContext, type CommandModule, type GlobalOptions, type InsecureOption } from './command.js';

interface CommandEntry {
  readonly summary: string;
  readonly load: () => Promise<CommandModule>;
}

/** Modules are named after their command; loaded by name so a missing one fails only when used. */
async function load(module: string): Promise<CommandModule> {
  return (await import(`./${module}.js`)) as CommandModule;
}

const COMMANDS: Record<string, CommandEntry> = {
  fetch: { summary: 'Fetch images into the store (signature verified) and print their IDs', load: () => load('fetch') },
  image: { summary: 'Manage images: list, rm, cat-manifest, export, extract, render, gc, build, sign', load: () => load('image') },
  trust: { summary: 'Trust keys for image name prefixes; list and remove them', load: () => load('trust') },
  run: { summary: 'Run a pod from images or a pod file (foreground, or --detach)', load: () => load('run') },
  prepare: { summary: 'Prepare a pod to run later with run-prepared', load: () => load('prepare') },
  'run-prepared': { summary: 'Run a prepared pod', load: () => load('run-prepared') },
  list: { summary: 'List pods and their state', load: () => load('list') },
  status: { summary: 'Show a pod: state, pid, app exit codes (--wait for it to exit)', load: () => load('status') },
  stop: { summary: 'Stop running pods (SIGTERM, then SIGKILL after --timeout)', load: () => load('stop') },
  rm: { summary: 'Remove prepared or exited pods', load: () => load('rm') },
  gc: { summary: 'Collect exited pods, delete expired ones and crash leftovers', load: () => load('gc') },
  enter: { summary: 'Run a command inside a running app, confined as the app is', load: () => load('enter') },
  logs: { summary: "Print (or follow) a detached pod's app output", load: () => load('logs') },
  'cat-manifest': { summary: 'Print the manifest of a pod', load: () => load('cat-manifest') },
  apply: { summary: 'Converge the host to pod files: create, replace, prune (--dry-run shows the plan)', load: () => load('apply') },
  diff: { summary: 'Show what apply would change (exit 1 when something would)', load: () => load('diff') },
  delete: { summary: 'Stop and remove the pods that pod files declare', load: () => load('delete') },
  reconcile: { summary: 'GitOps loop: keep the pods of a directory or git repository converged', load: () => load('reconcile') },
  systemd: { summary: 'Generate a systemd unit for a pod file', load: () => load('systemd') },
  lint: { summary: 'Check pod files (TOML) and print diagnostics as text, JSON or SARIF', load: () => load('lint') },
  lsp: { summary: 'A language server for pod files over stdio (diagnostics, hover, completion)', load: () => load('lsp') },
  pod: { summary: 'Pod file tools: convert between the TOML pod file and the appc pod manifest', load: () => load('pod') },
  fsck: { summary: 'Check the image store against its hashes; --repair removes what is broken', load: () => load('fsck') },
  version: { summary: 'Print tspod, core and Node versions and the features of this build', load: async () => import('./version.js') },
  util: { summary: 'Plumbing for scripts and tests: sha256, sha512, extract', load: async () => import('./util.js') },
};

export const DEFAULT_DIR = '/var/lib/tspod';
export const DEFAULT_SYSTEM_CONFIG = '/usr/lib/tspod';
export const DEFAULT_LOCAL_CONFIG = '/etc/tspod';

const INSECURE_VALUES: Record<string, readonly InsecureOption[]> = {
  none: [],
  image: ['image'], tls: ['tls'], http: ['http'], pubkey: ['pubkey'], ondisk: ['ondisk'],
  capabilities: ['capabilities'], paths: ['paths'], seccomp: ['seccomp'],
  'all-fetch': ['image', 'tls', 'http', 'pubkey'],
  'all-run': ['capabilities', 'paths', 'seccomp'],
  all: ['image', 'tls', 'http', 'pubkey', 'ondisk', 'capabilities', 'paths', 'seccomp'],
};

/** Parses a comma list of --insecure-options values, or says which one is unknown. */
export function parseInsecure(list: string): Set<InsecureOption> | string {
  const out = new Set<InsecureOption>();
  for (const v of list.split(',').map((x) => x.trim()).filter(Boolean)) {
    const opts = INSECURE_VALUES[v];
    if (!opts) return `unknown --insecure-options value ${JSON.stringify(v)} (one of: ${Object.keys(INSECURE_VALUES).join(', ')})`;
    for (const o of opts) out.add(o);
  }
  return out;
}

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
    `  --dir DIR                  data directory (env TSPOD_DIR; default ${DEFAULT_DIR})`,
    `  --system-config DIR        vendor configuration and trusted keys (default ${DEFAULT_SYSTEM_CONFIG})`,
    `  --local-config DIR         administrator configuration and trusted keys (default ${DEFAULT_LOCAL_CONFIG})`,
    '  --insecure-options LIST    skip checks: image,tls,http,pubkey,ondisk,capabilities,paths,seccomp,',
    '                             all-fetch, all-run, all (default none)',
    '  --trust-keys-from-https    trust keys that discovery finds over HTTPS without asking',
    '  --debug                    print causes and stack traces with errors',
    '  --help, -h                 this help; `tspod COMMAND --help` for a command',
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

const VALUE_FLAGS = ['--dir', '--system-config', '--local-config', '--insecure-options'] as const;
type ValueFlag = (typeof VALUE_FLAGS)[number];

/** Global flags come before the command (as in rkt); everything after belongs to the command. */
export function parseGlobals(argv: string[], env: NodeJS.ProcessEnv): ParsedGlobals {
  const values: Record<ValueFlag, string> = {
    '--dir': env['TSPOD_DIR'] || DEFAULT_DIR,
    '--system-config': DEFAULT_SYSTEM_CONFIG,
    '--local-config': DEFAULT_LOCAL_CONFIG,
    '--insecure-options': 'none',
  };
  let debug = false;
  let help = false;
  let trustKeysFromHttps = false;
  let i = 0;
  const globals = (): GlobalOptions => {
    const insecure = parseInsecure(values['--insecure-options']);
    return {
      dir: values['--dir'], debug, systemConfig: values['--system-config'], localConfig: values['--local-config'],
      insecure: typeof insecure === 'string' ? new Set() : insecure, trustKeysFromHttps,
    };
  };
  const fail = (error: string): ParsedGlobals => ({ globals: globals(), rest: [], help, error });
  for (; i < argv.length; i++) {
    const a = argv[i]!;
    if (!a.startsWith('-')) break;
    const eq = a.indexOf('=');
    const flag = (eq > 0 ? a.slice(0, eq) : a) as ValueFlag;
    if (a === '--debug') debug = true;
    else if (a === '--trust-keys-from-https') trustKeysFromHttps = true;
    else if (a === '--help' || a === '-h') help = true;
    else if (VALUE_FLAGS.includes(flag)) {
      const v = eq > 0 ? a.slice(eq + 1) : argv[++i];
      if (!v) return fail(`${flag} needs a value`);
      values[flag] = v;
    } else return fail(`unknown global flag ${a}`);
  }
  const insecure = parseInsecure(values['--insecure-options']);
  if (typeof insecure === 'string') return fail(insecure);
  return { globals: globals(), rest: argv.slice(i), help };
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
  try {
    const mod = await entry.load();
    return await mod.run(ctx, parsed.help ? ['--help', ...args] : args);
  } catch (e) {
    if (e instanceof Failure) return fail(ctx, e.error);
    // A bug, not a user error: still exit 254 (never 1, which `lint` uses for "errors found").
    const why = e instanceof Error ? e.message : String(e);
    return fail(ctx, tspodError(ErrorCodes.INTERNAL, `tspod ${name}`, why, 'this is a bug in tspod: run again with --debug and report it', e));
  }
}
