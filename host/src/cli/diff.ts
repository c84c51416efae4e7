// `tspod diff [--prune] [--set NAME] PATH...`: what `apply` would change. Exit 0 no change,
// 1 changes, 2 or more on errors (lint errors, usage, failures).
import { fail, parseFlags, usageError, type CommandContext } from './command.js';
import { applyPaths } from './apply.js';

const HELP = `Usage: tspod diff [--prune] [--set NAME] PATH...

Prints what \`tspod apply\` would do. Exit 0: no change; 1: changes; 2 or more: errors.
`;

export async function run(ctx: CommandContext, argv: string[]): Promise<number> {
  const parsed = parseFlags(ctx, 'diff', argv, { prune: { type: 'boolean' }, set: { type: 'string', default: 'default' } }, HELP);
  if (typeof parsed === 'number') return parsed;
  if (parsed.positionals.length === 0) return fail(ctx, usageError('diff', 'name at least one pod file or directory'));
  return applyPaths(ctx, parsed.positionals, { dryRun: true, prune: parsed.values.prune ?? false, set: parsed.values.set! }, true);
}
