// `tspod reconcile (--dir DIR | --git URL [--branch B] [--path SUB]) [--interval 30s] [--once]`
// and `tspod reconcile status ...`: the GitOps loop (apply/reconcile.ts), in the foreground under
// any supervisor; one event line per action on stderr.
import { watch, type FSWatcher } from 'node:fs';
import { setTimeout as sleep } from 'node:timers/promises';
import { fail, parseFlags, usageError, type CommandContext } from './command.js';
import { parseDurationMs } from '../pods/spec.js';
import { requireRoot } from './pods-cli.js';
import type { Source } from '../apply/reconcile.js';

const HELP = `Usage: tspod reconcile (--dir DIR | --git URL [--branch B] [--path SUBDIR]) [--interval 30s] [--once]
       tspod reconcile status (--dir DIR | --git URL [--branch B] [--path SUBDIR]) [--format json]

Keeps the pods declared in DIR (or a git repository) running as declared: creates, replaces and
prunes (its own pods only). A revision with lint errors is refused; the last good one keeps
running. --dir is also watched for changes. --once: one pass, exit 0 converged, 1 refused, 254 failed.
`;

const OPTIONS = {
  dir: { type: 'string' }, git: { type: 'string' }, branch: { type: 'string' }, path: { type: 'string' },
  interval: { type: 'string', default: '30s' }, once: { type: 'boolean' }, format: { type: 'string', default: 'text' },
} as const;

export async function run(ctx: CommandContext, argv: string[]): Promise<number> {
  const isStatus = argv[0] === 'status';
  const parsed = parseFlags(ctx, 'reconcile', isStatus ? argv.slice(1) : argv, OPTIONS, HELP);
  if (typeof parsed === 'number') return parsed;
  const v = parsed.values;
  if (!v.dir === !v.git) return fail(ctx, usageError('reconcile', 'give exactly one of --dir and --git'));
  const source: Source = { ...(v.dir && { dir: v.dir }), ...(v.git && { git: v.git }), ...(v.branch && { branch: v.branch }), ...(v.path && { path: v.path }) };
  const r = await import('../apply/reconcile.js');
  const set = r.setOf(source);
  if (isStatus) return printStatus(ctx, r.readStatus(ctx.globals.dir, set), set, v.format === 'json');
  const intervalMs = parseDurationMs(v.interval!);
  if (intervalMs === undefined) return fail(ctx, usageError('reconcile', '--interval must be a duration like 30s'));
  const denied = requireRoot(ctx, 'reconcile');
  if (denied !== undefined) return denied;
  const lock = r.lockSet(ctx.globals.dir, set);
  if (lock.isErr()) return fail(ctx, lock.error);
  if (v.once) return pass(ctx, source, set);
  // A change seen during a pass is not lost: `dirty` makes the next wait end at once.
  let dirty = false;
  let wake: (() => void) | undefined;
  let watcher: FSWatcher | undefined;
  if (v.dir) {
    watcher = watch(v.dir, { recursive: true }, () => {
      dirty = true;
      wake?.();
    });
  }
  try {
    for (;;) {
      dirty = false;
      try {
        await pass(ctx, source, set);
      } catch (e) {
        // One bad pass must not end the loop: it is reported and retried.
        ctx.stderr.write(`reconcile ${set}: pass failed: ${(e as Error).message}\n`);
      }
      if (!dirty) await Promise.race([sleep(intervalMs), new Promise<void>((res) => (wake = res))]);
      wake = undefined;
      await sleep(300); // let an editor finish writing
    }
  } finally {
    watcher?.close();
  }
}

/** One level-triggered pass; writes the status file. */
async function pass(ctx: CommandContext, source: Source, set: string): Promise<number> {
  const r = await import('../apply/reconcile.js');
  const log = (line: string): void => void ctx.stderr.write(`reconcile ${set}: ${line}\n`);
  const previous = r.readStatus(ctx.globals.dir, set);
  const base = { set, source: r.describeSource(source), lastPass: new Date().toISOString() };
  const co = r.checkout(ctx.globals.dir, set, source);
  if (co.isErr()) {
    r.writeStatus(ctx.globals.dir, { ...base, ...(previous?.lastGoodRevision && { lastGoodRevision: previous.lastGoodRevision }), lastError: co.error.why, pods: previous?.pods ?? [] });
    return fail(ctx, co.error);
  }
  const revision = co.value.revision;
  const { loadDeclared } = await import('../apply/declared.js');
  const { join } = await import('node:path');
  const declared = await loadDeclared([co.value.dir], set, join(r.stateDir(ctx.globals.dir, set), 'declared-cache.json'));
  const keep = { ...(revision && { revision }), ...(previous?.lastGoodRevision && { lastGoodRevision: previous.lastGoodRevision }) };
  if (declared.isErr() || !declared.value.valid) {
    const why = declared.isErr() ? declared.error.why : 'the pod files have lint errors';
    if (declared.isOk()) {
      const { formatText } = await import('../podfile/report-format.js');
      ctx.stderr.write(formatText(declared.value.reports));
    }
    log(`refused ${revision ?? 'the directory'}: ${why}; the running pods are left as they are`);
    r.writeStatus(ctx.globals.dir, { ...base, ...keep, lastError: `refused: ${why}`, pods: previous?.pods ?? [] });
    return 1;
  }
  const { listPods } = await import('../pods/state.js');
  const { plan } = await import('../apply/plan.js');
  const actual = listPods(ctx.globals.dir, true);
  if (declared.value.pods.length === 0 && actual.some((p) => p.manifest?.origin?.set === set && p.state === 'running')) {
    // An empty source (an unmounted directory, a half-saved edit) would prune everything.
    const why = 'the source declares no pods while this set has running pods';
    log(`refused: ${why}; remove the pods with \`tspod delete\` if that is meant`);
    r.writeStatus(ctx.globals.dir, { ...base, ...keep, lastError: `refused: ${why}`, pods: previous?.pods ?? [] });
    return 1;
  }
  const actions = plan(declared.value.pods, actual, set, true);
  if (actions.isErr()) {
    r.writeStatus(ctx.globals.dir, { ...base, ...keep, lastError: actions.error.why, pods: previous?.pods ?? [] });
    return fail(ctx, actions.error);
  }
  const { converge } = await import('../apply/converge.js');
  const { podOps } = await import('./apply-ops.js');
  const outcomes = await converge(actions.value, await podOps(ctx), log);
  const pods = outcomes.filter((o) => o.action.kind !== 'prune').map((o) => ({
    name: o.action.kind === 'prune' ? o.action.current.name : o.action.pod.name,
    ...(o.uuid && { uuid: o.uuid }),
    condition: o.error ? ('Degraded' as const) : ('Ready' as const),
    ...(o.error && { reason: `${o.error.what}: ${o.error.why}` }),
  }));
  const failed = outcomes.find((o) => o.error);
  r.writeStatus(ctx.globals.dir, {
    ...base, ...(revision && { revision }), ...(failed ? keep : revision ? { lastGoodRevision: revision } : {}),
    ...(failed && { lastError: failed.error!.why }), pods,
  });
  return failed ? 254 : 0;
}

function printStatus(ctx: CommandContext, status: import('../apply/reconcile.js').ReconcileStatus | undefined, set: string, json: boolean): number {
  if (!status) {
    ctx.stderr.write(`tspod: no reconcile pass has run for this source yet (set ${set})\n`);
    return 254;
  }
  if (json) {
    ctx.stdout.write(`${JSON.stringify(status, null, 2)}\n`);
    return 0;
  }
  const lines = [`set=${status.set}`, `source=${status.source}`, `revision=${status.revision ?? '-'}`, `last-good-revision=${status.lastGoodRevision ?? '-'}`,
    `last-pass=${status.lastPass}`, `last-error=${status.lastError ?? '-'}`, ...status.pods.map((p) => `pod-${p.name}=${p.condition}${p.reason ? ` (${p.reason})` : ''}`)];
  ctx.stdout.write(`${lines.join('\n')}\n`);
  return 0;
}
