// `tspod delete [--set NAME] PATH...`: stops and removes the pods these files declare (only pods
// this apply set created; others are reported and left alone).
import { ErrorCodes, tspodError } from '../errors.js';
import { fail, parseFlags, usageError, type CommandContext } from './command.js';
import { requireRoot } from './pods-cli.js';

const HELP = 'Usage: tspod delete [--set NAME] PATH...\n\nStops and removes the pods the pod files declare.\n';

export async function run(ctx: CommandContext, argv: string[]): Promise<number> {
  const parsed = parseFlags(ctx, 'delete', argv, { set: { type: 'string', default: 'default' } }, HELP);
  if (typeof parsed === 'number') return parsed;
  if (parsed.positionals.length === 0) return fail(ctx, usageError('delete', 'name at least one pod file or directory'));
  const denied = requireRoot(ctx, 'delete');
  if (denied !== undefined) return denied;
  const { loadDeclared } = await import('../apply/declared.js');
  const declared = await loadDeclared(parsed.positionals, parsed.values.set!);
  if (declared.isErr()) return fail(ctx, declared.error);
  if (!declared.value.valid) {
    const { formatText } = await import('../podfile/report-format.js');
    ctx.stderr.write(formatText(declared.value.reports));
    ctx.stderr.write('tspod: nothing was deleted: fix the errors above\n');
    return 1;
  }
  const { listPods } = await import('../pods/state.js');
  const { currentPods } = await import('../apply/plan.js');
  const { podOps } = await import('./apply-ops.js');
  const ops = await podOps(ctx);
  const current = currentPods(listPods(ctx.globals.dir));
  let code = 0;
  for (const d of declared.value.pods) {
    const pod = current.get(d.name);
    if (!pod) continue;
    if (pod.manifest?.origin?.set !== parsed.values.set) {
      code = fail(ctx, tspodError(ErrorCodes.EXISTS, `delete ${d.name}`, 'that pod was not created by this apply set', 'remove it with `tspod rm` if you mean to'));
      continue;
    }
    const stopped = pod.state === 'running' ? await ops.stop(pod) : undefined;
    if (stopped?.isErr()) {
      code = fail(ctx, stopped.error);
      continue;
    }
    const removed = await ops.remove(pod);
    if (removed.isErr()) code = fail(ctx, removed.error);
    else ctx.stdout.write(`deleted ${d.name} (${pod.uuid})\n`);
  }
  return code;
}
