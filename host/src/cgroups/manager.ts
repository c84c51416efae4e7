// The CgroupManager: one Driver per hierarchy in use, each resource owned by exactly one of them
// (v1 wins on hybrid hosts because that is where the kernel has the controllers bound).
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describeErrno, ErrorCodes, tspodError, type TspodError } from '../errors.js';
import { err, ok, type Result } from '../result.js';
import { cgroupDir, detectLayout, validCgroupPath, validPodId, type CgroupLayout, type Hierarchy } from './detect.js';
import { makeDir, readPids, readText, removeDirPatiently, treeBottomUp, waitFor } from './io.js';
import type { CgroupManager, Driver, PodCgroup, PodLimits, Resource } from './types.js';
import { v1Driver } from './v1.js';
import { v2Driver } from './v2.js';

const RESOURCES: readonly Resource[] = ['memory', 'cpu', 'pids', 'devices', 'freezer'];
/** cpuacct is joined too (no limits) so per-pod CPU accounting exists on split cpu/cpuacct mounts. */
const V1_USED = new Set(['memory', 'cpu', 'cpuacct', 'pids', 'devices', 'freezer']);

export interface ManagerOptions { parent?: string }

/**
 * v1: every hierarchy with a controller tspod uses. cpuset is left out on purpose: a new cpuset
 * cgroup starts with empty cpus/mems and refuses tasks until filled; name=systemd belongs to
 * systemd. v2: always joined for membership; owns what v1 does not and its root offers.
 */
export function planDrivers(layout: CgroupLayout): Driver[] {
  const drivers: Driver[] = [];
  const taken = new Set<Resource>();
  for (const h of layout.v1) {
    if (!h.controllers.some((c) => V1_USED.has(c))) continue;
    const owns = new Set(RESOURCES.filter((r) => h.controllers.includes(r) && !taken.has(r)));
    owns.forEach((r) => taken.add(r));
    drivers.push(v1Driver(h, owns));
  }
  if (layout.v2) {
    const v2 = layout.v2;
    // The freezer is a core cgroup2 feature (cgroup.freeze), not a listed controller.
    const owns = new Set(RESOURCES.filter((r) => !taken.has(r) && (r === 'freezer' || v2.controllers.includes(r))));
    owns.delete('devices'); // needs an eBPF program: see the GAP note in v2.ts
    drivers.push(v2Driver(v2, owns));
  }
  return drivers;
}

function limitsProblem(l: PodLimits): string | undefined {
  const bad = (v: number | undefined, min: number) => v !== undefined && (!Number.isSafeInteger(v) || v < min);
  if (bad(l.memoryBytes, 4096)) return `memoryBytes ${l.memoryBytes} is not an integer >= 4096`;
  // The kernel's smallest CFS quota is 1 ms per 100 ms period, i.e. 10 millicores.
  if (bad(l.cpuMillis, 10)) return `cpuMillis ${l.cpuMillis} is not an integer >= 10`;
  if (bad(l.pids, 1)) return `pids ${l.pids} is not a positive integer`;
  return undefined;
}

function configError(what: string, why: string, hint: string): TspodError {
  return tspodError(ErrorCodes.CONFIG, what, why, hint);
}

class Manager implements CgroupManager {
  readonly mode: CgroupLayout['mode'];

  constructor(layout: CgroupLayout, private readonly drivers: Driver[], private readonly parent: string | undefined) {
    this.mode = layout.mode;
  }

  /** Default parent: where tspod itself runs, + /tspod, so pods stay inside tspod's own slice. */
  private parentDir(h: Hierarchy): string {
    const cg = this.parent ?? join(h.current.replace(/ \(deleted\)$/, ''), 'tspod');
    return cgroupDir(h, cg);
  }

  private podDirs(podId: string): Record<string, string> {
    return Object.fromEntries(this.drivers.map((d) => [d.key, join(this.parentDir(d.hierarchy), podId)]));
  }

  private checkId(podId: string): Result<void, TspodError> {
    if (validPodId(podId)) return ok(undefined);
    return err(tspodError(ErrorCodes.INTERNAL, `use pod id ${JSON.stringify(podId)} as a cgroup name`,
      'a pod id must be lower-case hex digits and dashes (a UUID)', 'this is a bug in the caller; report it'));
  }

  create(podId: string, limits: PodLimits): Result<PodCgroup, TspodError> {
    const id = this.checkId(podId);
    if (id.isErr()) return err(id.error);
    const problem = limitsProblem(limits) ?? this.unownedLimit(limits);
    if (problem) return err(configError(`set limits for pod ${podId}`, problem, 'fix the pod\'s resource limits'));
    const paths = this.podDirs(podId);
    for (const d of this.drivers) {
      const r = d.prepare(this.parentDir(d.hierarchy), limits)
        .andThen(() => makeDir(paths[d.key]!))
        .andThen(() => d.apply(paths[d.key]!, limits));
      if (r.isErr()) return err(r.error);
    }
    return ok(podCgroup(podId, paths));
  }

  private unownedLimit(l: PodLimits): string | undefined {
    const owned = (r: Resource) => this.drivers.some((d) => d.owns.has(r));
    if (l.memoryBytes !== undefined && !owned('memory')) return 'no memory controller is available on this host';
    if (l.cpuMillis !== undefined && !owned('cpu')) return 'no cpu controller is available on this host';
    if (l.pids !== undefined && !owned('pids')) return 'no pids controller is available on this host';
    return undefined;
  }

  open(podId: string): Result<PodCgroup | undefined, TspodError> {
    const id = this.checkId(podId);
    if (id.isErr()) return err(id.error);
    const existing = Object.entries(this.podDirs(podId)).filter(([, dir]) => existsSync(dir));
    return ok(existing.length === 0 ? undefined : podCgroup(podId, Object.fromEntries(existing)));
  }

  private dirsOf(cg: PodCgroup): Array<[Driver, string]> {
    return this.drivers.flatMap((d): Array<[Driver, string]> => {
      const dir = cg.paths[d.key];
      return dir !== undefined && existsSync(dir) ? [[d, dir]] : [];
    });
  }

  oomKilled(cg: PodCgroup): number {
    return this.dirsOf(cg).reduce((n, [d, dir]) => n + (d.oomKills(dir) ?? 0), 0);
  }

  pids(cg: PodCgroup): number[] {
    const all = new Set<number>();
    for (const [, dir] of this.dirsOf(cg)) {
      for (const sub of treeBottomUp(dir)) readPids(join(sub, 'cgroup.procs')).forEach((p) => all.add(p));
    }
    return [...all].sort((a, b) => a - b);
  }

  kill(cg: PodCgroup, signal: NodeJS.Signals): void {
    const dirs = this.dirsOf(cg);
    const fz = dirs.find(([d]) => d.owns.has('freezer'));
    // Frozen tasks cannot fork, so the pid list read below is complete; signals land on thaw.
    fz?.[0].freeze(fz[1], true);
    for (const pid of this.pids(cg)) {
      try {
        process.kill(pid, signal);
      } catch {
        // Already gone (ESRCH) is the common case and fine.
      }
    }
    if (signal === 'SIGKILL') dirs.forEach(([d, dir]) => d.killAll(dir));
    fz?.[0].freeze(fz[1], false);
  }

  remove(cg: PodCgroup): Result<void, TspodError> {
    const dirs = this.dirsOf(cg);
    if (dirs.length === 0) return ok(undefined);
    this.kill(cg, 'SIGKILL');
    waitFor(() => this.pids(cg).length === 0, 2000);
    let first: TspodError | undefined;
    for (const [, dir] of dirs) {
      for (const sub of treeBottomUp(dir)) {
        const r = removeDirPatiently(sub, 1000);
        if (r.isErr()) first ??= r.error;
      }
    }
    return first ? err(first) : ok(undefined);
  }
}

function podCgroup(id: string, paths: Record<string, string>): PodCgroup {
  return { id, paths, procsFiles: Object.values(paths).map((p) => join(p, 'cgroup.procs')) };
}

/** A manager for an already detected layout (tests use this with sample text). */
export function managerFor(layout: CgroupLayout, opts?: ManagerOptions): Result<CgroupManager, TspodError> {
  const parent = opts?.parent ?? process.env['TSPOD_CGROUP_PARENT'];
  if (parent !== undefined && (!validCgroupPath(parent) || parent === '/')) {
    return err(configError(`use cgroup parent ${JSON.stringify(parent)}`, 'it must be an absolute cgroup path below the root, without "." or ".." parts',
      'set TSPOD_CGROUP_PARENT (or --cgroup-parent) to a path like /tspod'));
  }
  return ok(new Manager(layout, planDrivers(layout), parent));
}

function readProc(path: string): Result<string, TspodError> {
  try {
    return ok(readFileSync(path, 'utf8'));
  } catch (e) {
    return err(tspodError(ErrorCodes.IO, `read ${path}`, describeErrno(e), 'tspod needs /proc mounted'));
  }
}

export function cgroupManager(opts?: ManagerOptions): Result<CgroupManager, TspodError> {
  const v2Controllers = (mp: string) => (readText(join(mp, 'cgroup.controllers')) ?? '').split(/\s+/).filter((c) => c !== '');
  return readProc('/proc/self/mountinfo')
    .andThen((mi) => readProc('/proc/self/cgroup').map((pc) => [mi, pc] as const))
    .andThen(([mi, pc]) => detectLayout(mi, pc, v2Controllers))
    .andThen((layout) => managerFor(layout, opts));
}
