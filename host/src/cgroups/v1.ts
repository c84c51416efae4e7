// cgroup v1: one directory per hierarchy. Limits go to memory/cpu/pids, the device allow-list to
// devices, and the freezer (if mounted) lets kill() stop fork races.
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import type { TspodError } from '../errors.js';
import { ok, type Result } from '../result.js';
import type { Hierarchy } from './detect.js';
import { parseKeyValues, readText, treeBottomUp, waitFor, writeControl, writeIfPresent } from './io.js';
import { CFS_PERIOD_US, cpuShares, type Driver, type PodLimits, type Resource } from './types.js';

/**
 * The devices a pod may touch: null, zero, full, random, urandom, tty, ptmx and the pts slaves.
 * Anything else (disks, /dev/mem, kmsg) is denied even to root inside the pod.
 */
export const ALLOWED_DEVICES: readonly string[] = [
  'c 1:3 rwm', 'c 1:5 rwm', 'c 1:7 rwm', 'c 1:8 rwm', 'c 1:9 rwm', 'c 5:0 rwm', 'c 5:2 rwm', 'c 136:* rwm',
];

function seq(steps: Array<() => Result<void, TspodError>>): Result<void, TspodError> {
  for (const s of steps) {
    const r = s();
    if (r.isErr()) return r;
  }
  return ok(undefined);
}

/**
 * memsw (memory+swap) must stay >= the memory limit, so the order of the two writes depends on
 * whether the limit goes up or down; try limit first and, if refused, memsw first.
 */
function applyMemory(dir: string, bytes: number | undefined): Result<void, TspodError> {
  const v = bytes === undefined ? '-1' : String(bytes);
  const limit = join(dir, 'memory.limit_in_bytes');
  const memsw = join(dir, 'memory.memsw.limit_in_bytes');
  const first = writeControl(limit, v);
  if (first.isOk()) return writeIfPresent(memsw, v);
  return writeIfPresent(memsw, v).andThen(() => writeControl(limit, v));
}

function applyCpu(dir: string, millis: number | undefined): Result<void, TspodError> {
  return seq([
    () => writeControl(join(dir, 'cpu.cfs_period_us'), String(CFS_PERIOD_US)),
    () => writeControl(join(dir, 'cpu.cfs_quota_us'), millis === undefined ? '-1' : String(millis * 100)),
    () => writeControl(join(dir, 'cpu.shares'), String(millis === undefined ? 1024 : cpuShares(millis))),
  ]);
}

/** Rewrites the list only when it differs, so a repeated create() never opens a deny-all window. */
function applyDevices(dir: string): Result<void, TspodError> {
  const current = (readText(join(dir, 'devices.list')) ?? '').split('\n').filter((l) => l !== '').sort();
  if (current.join('\n') === [...ALLOWED_DEVICES].sort().join('\n')) return ok(undefined);
  const file = join(dir, 'devices.allow');
  return seq([() => writeControl(join(dir, 'devices.deny'), 'a'), ...ALLOWED_DEVICES.map((d) => () => writeControl(file, d))]);
}

/** v1 counters are per cgroup (not hierarchical), so sum the pod's sub-tree. */
function oomKills(dir: string): number {
  let total = 0;
  for (const d of treeBottomUp(dir)) {
    const oc = parseKeyValues(readText(join(d, 'memory.oom_control')));
    const kills = oc.get('oom_kill');
    if (kills !== undefined) {
      total += kills;
      continue;
    }
    // Kernels before 4.13 have no oom_kill line: under_oom or a hit limit is the best signal left.
    const failed = Number(readText(join(d, 'memory.failcnt'))?.trim() ?? '0') > 0;
    total += (oc.get('under_oom') ?? 0) > 0 || failed ? 1 : 0;
  }
  return total;
}

function freeze(dir: string, frozen: boolean): boolean {
  const state = join(dir, 'freezer.state');
  if (!existsSync(state)) return false;
  const want = frozen ? 'FROZEN' : 'THAWED';
  if (writeControl(state, want).isErr()) return false;
  // FREEZING means some task has not stopped yet; wait so nothing forks while we signal.
  return waitFor(() => readText(state)?.trim() === want, 1000);
}

export function v1Driver(h: Hierarchy, owns: ReadonlySet<Resource>): Driver {
  return {
    key: h.controllers.join(','),
    hierarchy: h,
    owns,
    prepare: () => ok(undefined),
    apply(dir: string, limits: PodLimits) {
      return seq([
        () => (owns.has('memory') ? applyMemory(dir, limits.memoryBytes) : ok(undefined)),
        () => (owns.has('cpu') ? applyCpu(dir, limits.cpuMillis) : ok(undefined)),
        () => (owns.has('pids') ? writeControl(join(dir, 'pids.max'), limits.pids === undefined ? 'max' : String(limits.pids)) : ok(undefined)),
        () => (owns.has('devices') ? applyDevices(dir) : ok(undefined)),
      ]);
    },
    oomKills: (dir) => (owns.has('memory') ? oomKills(dir) : undefined),
    freeze: (dir, frozen) => owns.has('freezer') && freeze(dir, frozen),
    killAll: () => false,
  };
}
