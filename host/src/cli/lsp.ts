// `tspod lsp --stdio`: a language server for pod files (diagnostics, hover, completion). The LSP
// library and the lint engine are loaded only here, so other commands do not pay for them.
import { fail, parseFlags, usageError, type CommandContext } from './command.js';

const HELP = `Usage: tspod lsp --stdio

Serves the Language Server Protocol for pod files (TOML) on stdin/stdout: diagnostics from
\`tspod lint\`, hover documentation and completion from the pod schema. Editors start it; it
exits when the editor sends shutdown and exit.
  --stdio   talk LSP over stdin/stdout (the only transport)
`;

export async function run(ctx: CommandContext, argv: string[]): Promise<number> {
  const parsed = parseFlags(ctx, 'lsp', argv, { stdio: { type: 'boolean' } }, HELP);
  if (typeof parsed === 'number') return parsed;
  if (parsed.positionals.length > 0) return fail(ctx, usageError('lsp', `unexpected argument ${JSON.stringify(parsed.positionals[0])}`));
  if (!parsed.values.stdio) return fail(ctx, usageError('lsp', 'missing --stdio (the only transport)'));
  const [{ startServer }, { lintPodText }] = await Promise.all([import('../lsp/server.js'), import('../podfile/lint.js')]);
  // stdout carries the protocol: a stray console.log from any module would corrupt it.
  for (const name of ['log', 'info', 'debug'] as const) console[name] = console.error;
  startServer(process.stdin, ctx.stdout, lintPodText);
  // The LSP library ends the process on `exit` (0 after `shutdown`) or when stdin closes; until
  // then the open stdin keeps Node running, so this promise is never meant to settle.
  return new Promise<number>(() => undefined);
}
