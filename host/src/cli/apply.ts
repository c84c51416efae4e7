// `tspod apply [--dry-run] [--prune] [--set NAME] PATH...`: converges the host to the pod files.
// Every file is linted first: one error and nothing changes. Unchanged pods are left alone,
// changed ones replaced (new prepared before the old stops), new ones started detached; with
// --prune, pods this apply set created that are no longer declared are removed.
import { fail, parseFlags, usageError, type CommandContext } from './command.js';
import { requireRoot } from './pods-cli.js';

const HELP = `Usage: tspod apply [--dry-run] [--prune] [--set NAME] PATH...

PATH: pod files, or directories of them (*.toml). Prints one line per pod:
create / unchanged / replace / prune. Exit 0 when everything converged, 1 when a file has lint
errors (nothing is changed), 254 when a pod could not be converged.
  --dry-run    print the plan only
  --prune      remove pods of this apply set that no file declares any more
  --set NAME   the apply set (default "default"): pods of other sets, or started by hand, are never touched
`;

export async function run(ctx: CommandContext, argv: string[]): Promise<number> {
  const parsed = parseFlags(ctx, 'apply', argv, { 'dry-run': { type: 'boolean' }, prune: { type: 'boolean' }, set: { type: 'string', default: 'default' } }, HELP);
  if (typeof parsed === 'number') return parsed;
  if (parsed.positionals.length === 0) return fail(ctx, usageError('apply', 'name at least one pod file or directory'));
  return applyPaths(ctx, parsed.positionals, { dryRun: parsed.values['dry-run'] ?? false, prune: parsed.values.prune ?? false, set: parsed.values.set! });
}

export interface ApplyOptions {
  readonly dryRun: boolean;
  readonly prune: boolean;
  readonly set: string;
}

/** Shared by apply, diff and reconcile: 0 converged (or no change), 1 lint errors or changes (diff), 254 failures. */
export async function applyPaths(ctx: CommandContext, paths: readonly string[], o: ApplyOptions, diff = false): Promise<number> {
  const { loadDeclared } = await import('../apply/declared.js');
  const declared = await loadDeclared(paths, o.set);
  if (declared.isErr()) return fail(ctx, declared.error);
  if (!declared.value.valid) {
    const { formatText } = await import('../podfile/report-format.js');
    ctx.stderr.write(formatText(declared.value.reports));
    ctx.stderr.write('tspod: nothing was applied: fix the errors above (`tspod lint` shows them too)\n');
    return diff ? 2 : 1;
  }
  const { listPods } = await import('../pods/state.js');
  const { plan, describeAction } = await import('../apply/plan.js');
  const actions = plan(declared.value.pods, listPods(ctx.globals.dir, true), o.set, o.prune);
  if (actions.isErr()) return fail(ctx, actions.error);
  if (o.dryRun || diff) {
    for (const a of actions.value) ctx.stdout.write(`${describeAction(a)}\n`);
    return diff && actions.value.some((a) => a.kind !== 'unchanged') ? 1 : 0;
  }
  const denied = requireRoot(ctx, 'apply');
  if (denied !== undefined) return denied;
  // One converger per set at a time (two applies, or an apply and a delete, would race).
  const { acquireLock } = await import('../store/lock.js');
  const { mkdirSync } = await import('node:fs');
  const { join } = await import('node:path');
  mkdirSync(join(ctx.globals.dir, 'apply'), { recursive: true });
  const lock = await acquireLock(join(ctx.globals.dir, 'apply', `${o.set.replace(/[^a-zA-Z0-9_.-]/g, '_')}.lock`), 'exclusive');
  if (lock.isErr()) return fail(ctx, lock.error);
  const { converge } = await import('../apply/converge.js');
  const { podOps } = await import('./apply-ops.js');
  let outcomes;
  try {
    outcomes = await converge(actions.value, await podOps(ctx), (line) => ctx.stdout.write(`${line}\n`));
  } finally {
    lock.value.release();
  }
  for (const a of actions.value.filter((x) => x.kind === 'unchanged')) ctx.stdout.write(`${describeAction(a)}\n`);
  const failed = outcomes.filter((x) => x.error);
  for (const f of failed) fail(ctx, f.error!);
  return failed.length > 0 ? 254 : 0;
}
