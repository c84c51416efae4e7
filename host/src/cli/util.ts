// `tspod util`: plumbing for scripts and tests. Each subcommand lives in its own module.
import { fail, usageError, type CommandContext, type CommandModule } from './command.js';

const HELP = `Usage: tspod util SUBCOMMAND [args]

Plumbing for scripts and tests:
  sha256 FILE|-         print the SHA-256 digest (like sha256sum), computed by the WASM core
  sha512 FILE|-         print the SHA-512 digest (like sha512sum)
      --state-out F     save the hash state after the input instead of printing a digest
      --state-in F      resume from a saved state, then hash the input
  extract ARCHIVE DIR   safely extract a plain or gzip tar into DIR (see \`tspod util extract --help\`)
`;

const SUBCOMMANDS: Record<string, () => Promise<CommandModule>> = {
  sha256: async () => (await import('./util-sha.js')).sha256Command,
  sha512: async () => (await import('./util-sha.js')).sha512Command,
  extract: async () => import('./util-extract.js'),
};

export async function run(ctx: CommandContext, argv: string[]): Promise<number> {
  const [sub, ...rest] = argv;
  if (sub === undefined || sub === '--help' || sub === '-h') {
    (sub === undefined ? ctx.stderr : ctx.stdout).write(HELP);
    return sub === undefined ? 2 : 0;
  }
  const load = SUBCOMMANDS[sub];
  if (!load) return fail(ctx, usageError('util', `unknown subcommand ${JSON.stringify(sub)}`));
  return (await load()).run(ctx, rest);
}
