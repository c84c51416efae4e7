// `tspod rm POD...`: deletes pods that are not running (their dirs and cgroups).
import { fail, usageError, type CommandContext } from './command.js';
import { netContext, requireRoot } from './pods-cli.js';

const HELP = 'Usage: tspod rm POD...\n\nRemoves prepared or exited pods (UUID, unique UUID prefix, or name).\n';

export async function run(ctx: CommandContext, argv: string[]): Promise<number> {
  if (argv.includes('--help') || argv.includes('-h')) {
    ctx.stdout.write(HELP);
    return 0;
  }
  if (argv.length === 0) return fail(ctx, usageError('rm', 'name at least one POD'));
  const denied = requireRoot(ctx, 'rm');
  if (denied !== undefined) return denied;
  const { resolvePod } = await import('../pods/state.js');
  const { removePod } = await import('../pods/lifecycle.js');
  for (const ref of argv) {
    const pod = resolvePod(ctx.globals.dir, ref);
    if (pod.isErr()) return fail(ctx, pod.error);
    const removed = await removePod(ctx.globals.dir, pod.value, await netContext(ctx));
    if (removed.isErr()) return fail(ctx, removed.error);
    ctx.stdout.write(`${pod.value.uuid}\n`);
  }
  return 0;
}
