// Stopping and removing pods, and garbage collection: signals to the pod init (which forwards
// them to the apps), then SIGKILL after the grace period (the kernel ends the whole PID namespace
// with its init); moves between states under the pods lock; cgroups removed with the pod.
import { rmSync, statSync, utimesSync } from 'node:fs';
import { setTimeout as sleep } from 'node:timers/promises';
import { cgroupManager } from '../cgroups/index.js';
import { teardownPodNetwork, type NetContext } from '../cni/attach.js';
import { ErrorCodes, tspodError, type TspodError } from '../errors.js';
import { err, ok, type Result } from '../result.js';
import { withLock } from '../store/lock.js';
import { podDir, podsLockPath } from './layout.js';
import { moveState } from './prepare.js';
import { cgroupIds } from './run.js';
import { isLocked, listPods, podInfo, type PodInfo } from './state.js';

/** Releases the pod's network (CNI DEL, netns) once nothing of it runs; idempotent. */
function releaseNetwork(net: NetContext, pod: PodInfo): Result<void, TspodError> {
  if (pod.manifest?.net !== 'cni') return ok(undefined);
  return teardownPodNetwork(net, pod.uuid, pod.dir);
}

export async function stopPod(pod: PodInfo, o: { force: boolean; timeoutMs: number }, net: NetContext): Promise<Result<void, TspodError>> {
  if (pod.state !== 'running') return err(tspodError(ErrorCodes.POD_STATE, `stop pod ${pod.uuid}`, `it is ${pod.state}, not running`, 'nothing to stop'));
  if (!pod.pid) return err(tspodError(ErrorCodes.POD_STATE, `stop pod ${pod.uuid}`, 'it has not recorded its pid yet', 'try again in a moment'));
  signal(pod.pid, o.force ? 'SIGKILL' : 'SIGTERM');
  const deadline = Date.now() + (o.force ? 5000 : o.timeoutMs);
  while (isLocked(pod.dir) && Date.now() < deadline) await sleep(50);
  if (isLocked(pod.dir) && !o.force) {
    signal(pod.pid, 'SIGKILL');
    for (let i = 0; i < 100 && isLocked(pod.dir); i++) await sleep(50);
  }
  if (isLocked(pod.dir)) return err(tspodError(ErrorCodes.POD_STATE, `stop pod ${pod.uuid}`, 'it is still running after SIGKILL', 'check `tspod status`; a process may be stuck in the kernel'));
  return releaseNetwork(net, pod);
}

function signal(pid: number, sig: NodeJS.Signals): void {
  try {
    process.kill(pid, sig);
  } catch {
    // Already gone: the lock tells.
  }
}

function removeCgroups(pod: PodInfo): Result<void, TspodError> {
  if (!pod.manifest || pod.manifest.stage1 === 'fly') return ok(undefined);
  const manager = cgroupManager();
  if (manager.isErr()) return err(manager.error);
  const ids = cgroupIds(pod.manifest);
  for (const id of [...ids.apps.values(), ids.pod]) {
    const cg = manager.value.open(id);
    if (cg.isErr()) return err(cg.error);
    if (!cg.value) continue;
    const removed = manager.value.remove(cg.value);
    if (removed.isErr()) return err(removed.error);
  }
  return ok(undefined);
}

/** Deletes a pod that is not running (prepared, exited, or garbage). */
export async function removePod(dataDir: string, pod: PodInfo, net: NetContext): Promise<Result<void, TspodError>> {
  return withLock(podsLockPath(dataDir), 'exclusive', async () => {
    const now = podInfo(dataDir, pod.dirState, pod.uuid);
    if (now.state === 'running' || now.state === 'embryo') {
      return err(tspodError(ErrorCodes.POD_STATE, `remove pod ${pod.uuid}`, `it is ${now.state}`, now.state === 'running' ? 'stop it first (`tspod stop`)' : 'wait for it to be prepared'));
    }
    const cg = removeCgroups(now);
    if (cg.isErr()) return err(cg.error);
    const released = releaseNetwork(net, now);
    if (released.isErr()) return err(released.error);
    const moved = now.dirState === 'garbage' ? ok(undefined) : moveState(dataDir, pod.uuid, now.dirState, 'garbage');
    if (moved.isErr()) return err(moved.error);
    rmSync(podDir(dataDir, 'garbage', pod.uuid), { recursive: true, force: true });
    return ok(undefined);
  });
}

export interface GcReport {
  readonly collected: string[];
  readonly removed: string[];
  /** Pods that could not be collected this time (gc goes on with the others). */
  readonly failed: Array<{ uuid: string; error: TspodError }>;
}

function ageMs(path: string): number {
  try {
    return Date.now() - statSync(path).mtimeMs;
  } catch {
    return 0;
  }
}

/**
 * rkt's gc: exited pods move to exited-garbage (their cgroups go); exited-garbage older than the
 * grace period is deleted; prepared pods older than expirePrepared, and embryos left by a crash
 * (older than a minute), are deleted.
 */
export async function gcPods(dataDir: string, o: { graceMs: number; expirePreparedMs: number }, net: NetContext): Promise<Result<GcReport, TspodError>> {
  const report: GcReport = { collected: [], removed: [], failed: [] };
  const release: string[] = [];
  const remove: string[] = [];
  // Under the pods lock only the quick part: deciding and renaming. CNI DEL, cgroup removal and
  // deleting directories come after, so a big gc does not hold up run and apply.
  const decided = await withLock(podsLockPath(dataDir), 'exclusive', async () => {
    for (const pod of listPods(dataDir, true)) {
      const r = decide(dataDir, pod, o);
      if (r.isErr()) report.failed.push({ uuid: pod.uuid, error: r.error });
      else if (r.value === 'collect') {
        report.collected.push(pod.uuid);
        release.push(pod.uuid);
      } else if (r.value === 'remove') remove.push(pod.uuid);
    }
    return ok(undefined);
  });
  if (decided.isErr()) return err(decided.error);
  for (const uuid of release) {
    const r = releasePod(net, podInfo(dataDir, 'exited-garbage', uuid, true));
    if (r.isErr()) report.failed.push({ uuid, error: r.error });
  }
  for (const uuid of remove) {
    // Released again (idempotent): a pod whose release failed at collection is retried here, and
    // kept (in garbage/, retried by the next gc) rather than deleted with its records.
    const pod = podInfo(dataDir, 'garbage', uuid, true);
    const r = releasePod(net, pod);
    if (r.isErr()) {
      report.failed.push({ uuid, error: r.error });
      continue;
    }
    rmSync(pod.dir, { recursive: true, force: true });
    report.removed.push(uuid);
  }
  return ok(report);
}

function releasePod(net: NetContext, pod: PodInfo): Result<void, TspodError> {
  try {
    const cg = removeCgroups(pod);
    if (cg.isErr()) return err(cg.error);
    // A SIGKILLed pod left its veth, rules, lease and netns: DEL from the stored results.
    return releaseNetwork(net, pod);
  } catch (e) {
    return err(tspodError(ErrorCodes.IO, `release pod ${pod.uuid}`, (e as Error).message, 'gc retries it next time'));
  }
}

/** Under the pods lock: exited pods are collected, expired ones moved to garbage/ for removal. */
function decide(dataDir: string, pod: PodInfo, o: { graceMs: number; expirePreparedMs: number }): Result<'collect' | 'remove' | 'keep', TspodError> {
  try {
    if (pod.state === 'exited') {
      const moved = moveState(dataDir, pod.uuid, 'run', 'exited-garbage');
      if (moved.isErr()) return err(moved.error);
      // The grace period counts from collection.
      const now = new Date();
      utimesSync(podDir(dataDir, 'exited-garbage', pod.uuid), now, now);
      return ok('collect');
    }
    const expired = (pod.state === 'exited-garbage' && ageMs(pod.dir) >= o.graceMs)
      || (pod.state === 'prepared' && ageMs(pod.dir) >= o.expirePreparedMs)
      // An embryo whose lock is held is being prepared (a slow fetch); only abandoned ones go.
      || (pod.state === 'embryo' && ageMs(pod.dir) >= 60_000 && !isLocked(pod.dir))
      || pod.state === 'garbage';
    if (!expired) return ok('keep');
    const moved = pod.dirState === 'garbage' ? ok(undefined) : moveState(dataDir, pod.uuid, pod.dirState, 'garbage');
    return moved.map(() => 'remove' as const);
  } catch (e) {
    return err(tspodError(ErrorCodes.IO, `collect pod ${pod.uuid}`, (e as Error).message, 'check the data directory; gc retries it next time'));
  }
}
