// cgroup v2: one unified directory. Controllers must be switched on in every ancestor's
// cgroup.subtree_control before a child gets their files. On hybrid hosts the v2 tree usually has
// no controllers: then it only carries membership (and cgroup.freeze / cgroup.kill, which are core
// files present in every non-root cgroup2 directory).
//
// GAP: the v2 device policy. cgroup2 has no devices.* files; the kernel enforces device access
// with a BPF_PROG_TYPE_CGROUP_DEVICE program attached to the cgroup (what runc/youki generate).
// tspod does not build or attach that program yet, so on a pure v2 host pods are NOT confined to
// ALLOWED_DEVICES by the cgroup; the mount namespace's minimal /dev and dropped capabilities
// (CAP_MKNOD) are then the only barrier.
import { existsSync } from 'node:fs';
import { join, relative } from 'node:path';
import { ErrorCodes, tspodError, type TspodError } from '../errors.js';
import { err, ok, type Result } from '../result.js';
import type { Hierarchy } from './detect.js';
import { makeDir, parseKeyValues, readText, waitFor, writeControl, writeIfPresent } from './io.js';
import { CFS_PERIOD_US, cpuShares, type Driver, type PodLimits, type Resource } from './types.js';

/** The runc/crun mapping from v1 shares [2, 262144] to v2 weight [1, 10000]. */
export function cpuWeight(millis: number): number {
  return 1 + Math.floor(((cpuShares(millis) - 2) * 9999) / 262_142);
}

function words(text: string | undefined): Set<string> {
  return new Set((text ?? '').split(/\s+/).filter((w) => w !== ''));
}

/** The directories from the mount point down to dir, top first. */
function chain(mountPoint: string, dir: string): string[] {
  const rel = relative(mountPoint, dir);
  const out = [mountPoint];
  if (rel === '') return out;
  for (const part of rel.split('/')) out.push(join(out[out.length - 1]!, part));
  return out;
}

function requested(r: Resource, limits: PodLimits): boolean {
  if (r === 'memory') return limits.memoryBytes !== undefined;
  if (r === 'cpu') return limits.cpuMillis !== undefined;
  return r === 'pids' && limits.pids !== undefined;
}

/**
 * "+memory" in an ancestor that has processes fails with EBUSY (the no-internal-processes rule);
 * that is only an error when the pod asked for that limit, since accounting alone is optional.
 */
function enableController(dirs: string[], c: Resource, needed: boolean): Result<void, TspodError> {
  for (const d of dirs) {
    if (words(readText(join(d, 'cgroup.subtree_control'))).has(c)) continue;
    const available = words(readText(join(d, 'cgroup.controllers'))).has(c);
    const r = available ? writeControl(join(d, 'cgroup.subtree_control'), `+${c}`) : undefined;
    if (r?.isOk()) continue;
    if (!needed) return ok(undefined);
    const why = r?.isErr() ? r.error.why : `the ${c} controller is not available there`;
    return err(tspodError(ErrorCodes.CONFIG, `enable the ${c} controller in ${d}`, why,
      'cgroup2 cannot enable controllers in a cgroup that holds processes; set TSPOD_CGROUP_PARENT to a cgroup of its own (e.g. /tspod) or run tspod in a unit with Delegate=yes'));
  }
  return ok(undefined);
}

function prepare(h: Hierarchy, owns: ReadonlySet<Resource>, parentDir: string, limits: PodLimits): Result<void, TspodError> {
  const made = makeDir(parentDir);
  if (made.isErr()) return made;
  const dirs = chain(h.mountPoint, parentDir);
  for (const c of owns) {
    if (c === 'devices' || c === 'freezer') continue;
    const r = enableController(dirs, c, requested(c, limits));
    if (r.isErr()) return r;
  }
  return ok(undefined);
}

function apply(dir: string, owns: ReadonlySet<Resource>, limits: PodLimits): Result<void, TspodError> {
  const steps: Array<() => Result<void, TspodError>> = [];
  const mem = limits.memoryBytes === undefined ? 'max' : String(limits.memoryBytes);
  const cpu = limits.cpuMillis === undefined ? 'max' : String(limits.cpuMillis * 100);
  const weight = limits.cpuMillis === undefined ? 100 : cpuWeight(limits.cpuMillis);
  if (owns.has('memory')) {
    steps.push(() => writeControl(join(dir, 'memory.max'), mem));
    // No swap at all when limited, so a pod cannot page its way past memory.max.
    steps.push(() => writeIfPresent(join(dir, 'memory.swap.max'), limits.memoryBytes === undefined ? 'max' : '0'));
  }
  if (owns.has('cpu')) {
    steps.push(() => writeControl(join(dir, 'cpu.max'), `${cpu} ${CFS_PERIOD_US}`));
    steps.push(() => writeControl(join(dir, 'cpu.weight'), String(weight)));
  }
  if (owns.has('pids')) steps.push(() => writeControl(join(dir, 'pids.max'), limits.pids === undefined ? 'max' : String(limits.pids)));
  for (const s of steps) {
    const r = s();
    if (r.isErr()) return r;
  }
  return ok(undefined);
}

function freeze(dir: string, frozen: boolean): boolean {
  const file = join(dir, 'cgroup.freeze');
  if (!existsSync(file) || writeControl(file, frozen ? '1' : '0').isErr()) return false;
  const want = frozen ? 1 : 0;
  return waitFor(() => parseKeyValues(readText(join(dir, 'cgroup.events'))).get('frozen') === want, 1000);
}

export function v2Driver(h: Hierarchy, owns: ReadonlySet<Resource>): Driver {
  return {
    key: 'unified',
    hierarchy: h,
    owns,
    prepare: (parentDir, limits) => prepare(h, owns, parentDir, limits),
    apply: (dir, limits) => apply(dir, owns, limits),
    // memory.events is hierarchical (unless mounted with memory_localevents), so the pod dir suffices.
    oomKills: (dir) => (owns.has('memory') ? parseKeyValues(readText(join(dir, 'memory.events'))).get('oom_kill') ?? 0 : undefined),
    freeze,
    killAll: (dir) => existsSync(join(dir, 'cgroup.kill')) && writeControl(join(dir, 'cgroup.kill'), '1').isOk(),
  };
}
