// Desired (pod files) against actual (pods on disk), and the actions that converge them. Pods
// belong to an apply set through the origin recorded at prepare; a pod of another set, or started
// by hand, is never touched, and a declared name it holds is a conflict, not a takeover.
import { ErrorCodes, tspodError, type TspodError } from '../errors.js';
import { err, ok, type Result } from '../result.js';
import type { PodInfo } from '../pods/state.js';
import type { DeclaredPod } from './declared.js';

export type Action =
  | { readonly kind: 'create'; readonly pod: DeclaredPod }
  | { readonly kind: 'unchanged'; readonly pod: DeclaredPod; readonly current: PodInfo }
  | { readonly kind: 'replace'; readonly pod: DeclaredPod; readonly current: PodInfo; readonly reason: 'changed' | 'not running' }
  | { readonly kind: 'prune'; readonly current: PodInfo };

/** The pod that currently stands for a name: the running one, else the newest not collected. */
export function currentPods(pods: readonly PodInfo[]): Map<string, PodInfo> {
  const out = new Map<string, PodInfo>();
  const live = pods.filter((p) => p.state !== 'garbage' && p.state !== 'exited-garbage' && p.state !== 'embryo' && p.name);
  for (const p of live) {
    const seen = out.get(p.name);
    if (!seen || (p.state === 'running' && seen.state !== 'running') || (seen.state !== 'running' && (p.createdAt ?? '') > (seen.createdAt ?? ''))) out.set(p.name, p);
  }
  return out;
}

/** Declared pods in an order where every pod comes after the ones in its `after`. */
export function startOrder(pods: readonly DeclaredPod[]): Result<DeclaredPod[], TspodError> {
  const byName = new Map(pods.map((p) => [p.name, p]));
  const done = new Set<string>();
  const visiting = new Set<string>();
  const out: DeclaredPod[] = [];
  const visit = (p: DeclaredPod, path: string[]): TspodError | undefined => {
    if (done.has(p.name)) return undefined;
    if (visiting.has(p.name)) return tspodError(ErrorCodes.CONFIG, `order pod ${p.name}`, `its after list forms a cycle: ${[...path, p.name].join(' -> ')}`, 'remove one of the after entries');
    visiting.add(p.name);
    for (const dep of p.after) {
      const d = byName.get(dep);
      if (!d) continue; // a pod started elsewhere: waited for at start, not ordered here
      const e = visit(d, [...path, p.name]);
      if (e) return e;
    }
    visiting.delete(p.name);
    done.add(p.name);
    out.push(p);
    return undefined;
  };
  for (const p of pods) {
    const e = visit(p, []);
    if (e) return err(e);
  }
  return ok(out);
}

export function plan(declared: readonly DeclaredPod[], actual: readonly PodInfo[], set: string, prune: boolean): Result<Action[], TspodError> {
  const ordered = startOrder(declared);
  if (ordered.isErr()) return err(ordered.error);
  const current = currentPods(actual);
  const actions: Action[] = [];
  for (const pod of ordered.value) {
    const cur = current.get(pod.name);
    if (!cur) {
      actions.push({ kind: 'create', pod });
      continue;
    }
    const origin = cur.manifest?.origin;
    if (!origin || origin.set !== set) {
      return err(tspodError(ErrorCodes.EXISTS, `apply ${pod.file}`, `a pod named ${pod.name} exists and was not created by this apply set (${origin ? `set ${origin.set}` : 'started by hand'})`,
        'rename the pod in the file, or remove the other pod (`tspod rm`)'));
    }
    if (origin.hash !== pod.hash) actions.push({ kind: 'replace', pod, current: cur, reason: 'changed' });
    else if (cur.state !== 'running') actions.push({ kind: 'replace', pod, current: cur, reason: 'not running' });
    else actions.push({ kind: 'unchanged', pod, current: cur });
  }
  if (prune) {
    const names = new Set(declared.map((d) => d.name));
    for (const cur of current.values()) {
      if (cur.manifest?.origin?.set === set && !names.has(cur.name)) actions.push({ kind: 'prune', current: cur });
    }
  }
  return ok(actions);
}

export function describeAction(a: Action): string {
  switch (a.kind) {
    case 'create': return `create ${a.pod.name} (${a.pod.file})`;
    case 'unchanged': return `unchanged ${a.pod.name} (${a.current.uuid})`;
    case 'replace': return `replace ${a.pod.name} (${a.current.uuid}: ${a.reason})`;
    case 'prune': return `prune ${a.current.name} (${a.current.uuid})`;
  }
}
