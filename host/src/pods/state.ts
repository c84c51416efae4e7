// Reading pods back from disk: which state each is in (the directory it sits in, and for pods in
// run/ whether their lock is held), what its apps exited with, and finding one by UUID, UUID
// prefix or name. Correct after a killed CLI or a SIGKILLed pod: nothing here trusts a process.
import { closeSync, constants, existsSync, openSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import * as libc from '../../../native/src/libc.js';
import { cgroupManager } from '../cgroups/index.js';
import { podNetworks, type NetStatus } from '../cni/attach.js';
import { ErrorCodes, tspodError, type TspodError } from '../errors.js';
import { err, ok, type Result } from '../result.js';
import { appCgroupId, appDir, isUuid, podDir, POD_FILES, POD_STATES, type PodDirState } from './layout.js';
import type { PodManifest } from './prepare.js';

export type PodState = 'embryo' | 'prepared' | 'running' | 'exited' | 'exited-garbage' | 'garbage';

export interface AppStatus {
  readonly name: string;
  readonly image: string;
  readonly imageId: string;
  /** Present once the app has exited: its code, or 128 + signal. */
  readonly exitCode?: number;
  /** The kernel's OOM killer ended a process of this app (its memory limit). */
  readonly oomKilled?: boolean;
  /** How often the restart policy restarted it. */
  readonly restarts?: number;
  /** healthy / unhealthy, for apps with a health check, once checked. */
  readonly health?: string;
}

export interface PodInfo {
  readonly uuid: string;
  readonly name: string;
  readonly state: PodState;
  readonly dir: string;
  readonly dirState: PodDirState;
  readonly manifest?: PodManifest;
  readonly stage1?: string;
  /** Host PID of the pod init, while it runs. */
  readonly pid?: number;
  readonly createdAt?: string;
  readonly startedAt?: string;
  readonly apps: readonly AppStatus[];
  /** CNI networks joined, with the pod's addresses on each. */
  readonly networks: readonly NetStatus[];
}

function readText(path: string): string | undefined {
  try {
    return readFileSync(path, 'utf8').trim();
  } catch {
    return undefined;
  }
}

/** Whether the pod's processes hold its lock: a non-blocking probe, released at once. */
export function isLocked(dir: string): boolean {
  const path = join(dir, POD_FILES.lock);
  if (!existsSync(path)) return false;
  let fd: number;
  try {
    fd = openSync(path, constants.O_RDONLY);
  } catch {
    return false;
  }
  try {
    return libc.flock(fd, libc.LOCK_SH | libc.LOCK_NB) === -libc.errno.EWOULDBLOCK;
  } finally {
    closeSync(fd);
  }
}

function readManifest(dir: string): PodManifest | undefined {
  const text = readText(join(dir, POD_FILES.manifest));
  if (!text) return undefined;
  try {
    return JSON.parse(text) as PodManifest;
  } catch {
    return undefined;
  }
}

let manager: ReturnType<typeof cgroupManager> | undefined;

/**
 * OOM kills per app with a memory limit, from the app cgroups (kept until gc, so exited pods
 * still tell). Apps without a limit are not asked: reading cgroups for every pod would make
 * listing hundreds of pods (reconcile) slow for nothing.
 */
function oomKills(m: PodManifest): Map<string, number> {
  const out = new Map<string, number>();
  if (m.stage1 === 'fly' || !m.apps.some((a) => a.limits.memory !== undefined)) return out;
  manager ??= cgroupManager();
  if (manager.isErr()) return out;
  const cgroups = manager.value;
  m.apps.forEach((a, i) => {
    if (a.limits.memory === undefined) return;
    const cg = cgroups.open(appCgroupId(m.uuid, i));
    if (cg.isOk() && cg.value) out.set(a.name, cgroups.oomKilled(cg.value));
  });
  return out;
}

function stateOf(dirState: PodDirState, dir: string): PodState {
  if (dirState !== 'run') return dirState;
  return isLocked(dir) ? 'running' : 'exited';
}

/**
 * A pod as read from disk. `brief` reads only what planning needs (manifest and state), not the
 * per-app files, cgroups and networks: a reconcile pass lists hundreds of pods.
 */
export function podInfo(dataDir: string, dirState: PodDirState, uuid: string, brief = false): PodInfo {
  const dir = podDir(dataDir, dirState, uuid);
  const manifest = readManifest(dir);
  const state = stateOf(dirState, dir);
  if (brief) {
    return {
      uuid, name: manifest?.name ?? '', state, dir, dirState, networks: [],
      apps: (manifest?.apps ?? []).map((a) => ({ name: a.name, image: a.image.name, imageId: a.image.id })),
      ...(manifest && { manifest, stage1: manifest.stage1, createdAt: manifest.createdAt }),
    };
  }
  const pid = Number(readText(join(dir, POD_FILES.pid)));
  const startedAt = readText(join(dir, POD_FILES.started));
  const createdAt = readText(join(dir, POD_FILES.created));
  const ooms = manifest && dirState === 'run' ? oomKills(manifest) : new Map<string, number>();
  const apps = (manifest?.apps ?? []).map((a) => {
    const code = readText(join(appDir(dir, a.name), 'exit'));
    const restarts = Number(readText(join(appDir(dir, a.name), 'restarts')) ?? 0);
    const health = readText(join(appDir(dir, a.name), 'health'));
    return {
      name: a.name, image: a.image.name, imageId: a.image.id,
      ...(restarts > 0 && { restarts }), ...(health && { health }),
      ...(code !== undefined && code !== '' && { exitCode: Number(code) }),
      ...((ooms.get(a.name) ?? 0) > 0 && { oomKilled: true }),
    };
  });
  return {
    uuid, name: manifest?.name ?? '', state, dir, dirState, apps, networks: podNetworks(dir),
    ...(manifest && { manifest, stage1: manifest.stage1 }),
    ...(state === 'running' && Number.isInteger(pid) && pid > 0 && { pid }),
    ...(createdAt && { createdAt }),
    ...(startedAt && { startedAt }),
  };
}

/** Every pod on the host, oldest first. */
export function listPods(dataDir: string, brief = false): PodInfo[] {
  const pods: PodInfo[] = [];
  for (const dirState of POD_STATES) {
    let names: string[];
    try {
      names = readdirSync(join(dataDir, 'pods', dirState));
    } catch {
      continue;
    }
    for (const uuid of names.filter(isUuid)) pods.push(podInfo(dataDir, dirState, uuid, brief));
  }
  return pods.sort((a, b) => (a.createdAt ?? '').localeCompare(b.createdAt ?? ''));
}

/** A pod by full UUID, unique UUID prefix, or name. */
export function resolvePod(dataDir: string, ref: string): Result<PodInfo, TspodError> {
  const pods = listPods(dataDir);
  const exact = pods.filter((p) => p.uuid === ref || (p.name === ref && p.state !== 'garbage' && p.state !== 'exited-garbage'));
  const matches = exact.length > 0 ? exact : ref.length >= 2 ? pods.filter((p) => p.uuid.startsWith(ref)) : [];
  if (matches.length === 1) return ok(matches[0]!);
  if (matches.length === 0) return err(tspodError(ErrorCodes.NOT_FOUND, `find pod ${ref}`, 'no pod has that UUID, UUID prefix or name', 'see `tspod list`'));
  return err(tspodError(ErrorCodes.NOT_FOUND, `find pod ${ref}`, `${matches.length} pods match it`, 'give more of the UUID'));
}

/** Names in use by pods that are not garbage (names are unique on the host). */
export function takenNames(dataDir: string): Set<string> {
  return new Set(listPods(dataDir).filter((p) => p.state !== 'garbage' && p.state !== 'exited-garbage').map((p) => p.name));
}
