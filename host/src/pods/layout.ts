// Pods on disk, rkt's way (rkt.md): a directory per pod under the state it is in, moved between
// states by atomic rename, and "running" meaning its lock file is flock'ed by the pod's processes.
// No daemon keeps anything in memory: every command reads this.
//
//   pods/embryo/UUID          being created (a crash here leaves garbage gc removes)
//   pods/prepared/UUID        ready to run (`prepare`)
//   pods/run/UUID             started; running while UUID/lock is locked, exited after
//   pods/exited-garbage/UUID  exited and collected by gc, removed after the grace period
//   pods/garbage/UUID         prepared pods expired by gc, or being deleted
import { join } from 'node:path';

export const POD_STATES = ['embryo', 'prepared', 'run', 'exited-garbage', 'garbage'] as const;
export type PodDirState = (typeof POD_STATES)[number];

export function podsRoot(dataDir: string): string {
  return join(dataDir, 'pods');
}

export function podDir(dataDir: string, state: PodDirState, uuid: string): string {
  return join(podsRoot(dataDir), state, uuid);
}

/** Serialises moves between states (run, gc, rm) so two commands never move one pod twice. */
export function podsLockPath(dataDir: string): string {
  return join(podsRoot(dataDir), 'lock');
}

/** Inside a pod dir. */
export const POD_FILES = {
  manifest: 'pod.json',
  lock: 'lock',
  conf: 'stage1.conf',
  pid: 'pid',
  apps: 'apps',
  volumes: 'volumes',
  etc: 'etc',
  created: 'created',
  started: 'started',
  result: 'result.json',
} as const;

export function appDir(pod: string, app: string): string {
  return join(pod, POD_FILES.apps, app);
}

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;

export function isUuid(s: string): boolean {
  return UUID.test(s);
}

/** An app's cgroup id: a sibling of the pod's (UUID), named UUID-INDEX (hex), under the cgroup parent. */
export function appCgroupId(uuid: string, index: number): string {
  return `${uuid}-${index.toString(16)}`;
}
