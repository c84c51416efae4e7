// The public shapes plus the one internal seam: a Driver per hierarchy. v1.ts and v2.ts implement
// it; manager.ts only talks to Drivers, so the v1/v2 differences never leak into the manager.
import type { TspodError } from '../errors.js';
import type { Result } from '../result.js';
import type { Hierarchy } from './detect.js';

export interface PodLimits { memoryBytes?: number; cpuMillis?: number; pids?: number; }

export interface PodCgroup {
  readonly id: string;
  /** Every cgroup.procs file a process must be written into to be in the pod (one per v1 hierarchy used + the v2 one). */
  readonly procsFiles: readonly string[];
  /** Directory per hierarchy, for diagnostics and `status`. */
  readonly paths: Readonly<Record<string, string>>;
}

export interface CgroupManager {
  readonly mode: 'v1' | 'v2' | 'hybrid';
  create(podId: string, limits: PodLimits): Result<PodCgroup, TspodError>;
  open(podId: string): Result<PodCgroup | undefined, TspodError>;
  oomKilled(cg: PodCgroup): number;
  pids(cg: PodCgroup): number[];
  kill(cg: PodCgroup, signal: NodeJS.Signals): void;
  remove(cg: PodCgroup): Result<void, TspodError>;
}

/** What a hierarchy can be responsible for. Each resource is owned by exactly one driver. */
export type Resource = 'memory' | 'cpu' | 'pids' | 'devices' | 'freezer';

export interface Driver {
  /** Key in PodCgroup.paths: the v1 controllers ("memory", "cpu,cpuacct") or "unified". */
  readonly key: string;
  readonly hierarchy: Hierarchy;
  /** Resources this driver sets limits for (decided by the manager: v1 wins on hybrid hosts). */
  readonly owns: ReadonlySet<Resource>;
  /** Called before the pod dir is made, with the parent's directory (v2: enable controllers). */
  prepare(parentDir: string, limits: PodLimits): Result<void, TspodError>;
  /** Writes the owned limits into the pod dir; unset limits are reset to unlimited. */
  apply(dir: string, limits: PodLimits): Result<void, TspodError>;
  /** OOM kills seen in the pod dir (and below); undefined when this driver does not own memory. */
  oomKills(dir: string): number | undefined;
  /** Freeze (true) or thaw (false); returns false when this hierarchy cannot freeze. */
  freeze(dir: string, frozen: boolean): boolean;
  /** Kill everything at once where the kernel offers it (v2 cgroup.kill); false if not. */
  killAll(dir: string): boolean;
}

export const CFS_PERIOD_US = 100_000;

/** v1 shares: 1024 per core, kernel minimum 2, maximum 262144. */
export function cpuShares(millis: number): number {
  return Math.min(262_144, Math.max(2, Math.round((millis * 1024) / 1000)));
}
