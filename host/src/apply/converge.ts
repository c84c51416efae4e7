// Carrying out a plan. A replacement prepares (fetches, renders) the new pod before the old one is
// touched, so an image that cannot be fetched never takes the running pod down. Pods start in
// `after` order, each once the pods it names are running. Failures of one pod do not stop the
// others; every result is reported.
import { setTimeout as sleep } from 'node:timers/promises';
import { ErrorCodes, tspodError, type TspodError } from '../errors.js';
import { err, ok, type Result } from '../result.js';
import type { PodManifest } from '../pods/prepare.js';
import type { PodSpec } from '../pods/spec.js';
import type { PodInfo } from '../pods/state.js';
import { describeAction, type Action } from './plan.js';

/** What converging needs from the rest of tspod (the CLI wires the real ones). */
export interface PodOps {
  prepare(spec: PodSpec, replacing?: string): Promise<Result<PodManifest, TspodError>>;
  start(m: PodManifest): Promise<Result<number, TspodError>>;
  stop(pod: PodInfo): Promise<Result<void, TspodError>>;
  remove(pod: PodInfo): Promise<Result<void, TspodError>>;
  /** Names of pods running now (and healthy, where they have health checks). */
  running(): Set<string>;
  /** Removes a pod prepared for a replacement that could not go ahead. */
  discard(m: PodManifest): Promise<void>;
}

export interface Outcome {
  readonly action: Action;
  readonly uuid?: string;
  readonly error?: TspodError;
}

const DEPENDENCY_WAIT_MS = 30_000;

async function waitForDependencies(ops: PodOps, after: readonly string[]): Promise<string | undefined> {
  const deadline = Date.now() + DEPENDENCY_WAIT_MS;
  for (;;) {
    const running = ops.running();
    const missing = after.filter((n) => !running.has(n));
    if (missing.length === 0) return undefined;
    if (Date.now() >= deadline) return missing.join(', ');
    await sleep(100);
  }
}

async function startNew(ops: PodOps, a: Extract<Action, { kind: 'create' | 'replace' }>): Promise<Result<string, TspodError>> {
  const prepared = await ops.prepare(a.pod.spec, a.kind === 'replace' ? a.pod.name : undefined);
  if (prepared.isErr()) return err(prepared.error);
  if (a.kind === 'replace') {
    const stopped = a.current.state === 'running' ? await ops.stop(a.current) : ok(undefined);
    const removed = stopped.isOk() ? await ops.remove(a.current) : stopped;
    if (removed.isErr()) {
      // The old pod stays; the new one must not pile up pass after pass.
      await ops.discard(prepared.value);
      return err(removed.error);
    }
  }
  const started = await ops.start(prepared.value);
  return started.map(() => prepared.value.uuid);
}

/** One action, whatever it throws: a failure is that pod's outcome, never the whole pass's. */
async function guarded<T>(what: string, fn: () => Promise<Result<T, TspodError>>): Promise<Result<T, TspodError>> {
  try {
    return await fn();
  } catch (e) {
    return err(tspodError(ErrorCodes.INTERNAL, what, (e as Error).message, 'see the other messages; the next pass retries'));
  }
}

export async function converge(actions: readonly Action[], ops: PodOps, log: (line: string) => void): Promise<Outcome[]> {
  const outcomes: Outcome[] = [];
  for (const a of actions) {
    if (a.kind === 'unchanged') {
      outcomes.push({ action: a, uuid: a.current.uuid });
      continue;
    }
    if (a.kind === 'prune') {
      const current = a.current;
      const removed = await guarded(`prune ${current.name}`, async () => {
        const stopped = current.state === 'running' ? await ops.stop(current) : ok(undefined);
        return stopped.isOk() ? ops.remove(current) : stopped;
      });
      log(`${describeAction(a)}${removed.isErr() ? `: failed: ${removed.error.why}` : ''}`);
      outcomes.push({ action: a, uuid: a.current.uuid, ...(removed.isErr() && { error: removed.error }) });
      continue;
    }
    const missing = await waitForDependencies(ops, a.pod.after);
    if (missing) {
      const error = tspodError(ErrorCodes.POD_STATE, `start ${a.pod.name}`, `it starts after ${missing}, which is not running`, 'start that pod first, or fix after');
      log(`${describeAction(a)}: waiting failed: ${error.why}`);
      outcomes.push({ action: a, error });
      continue;
    }
    const r = await guarded(describeAction(a), () => startNew(ops, a));
    log(`${describeAction(a)}${r.isOk() ? ` -> ${r.value}` : `: failed: ${r.error.why}`}`);
    outcomes.push({ action: a, ...(r.isOk() ? { uuid: r.value } : { error: r.error }) });
  }
  return outcomes;
}
