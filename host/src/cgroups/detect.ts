// Finding the cgroup hierarchies from /proc/self/mountinfo and this process's place in them from
// /proc/self/cgroup. Everything here is pure text parsing (the one filesystem read, cgroup2's
// cgroup.controllers, is passed in) so v1, v2 and hybrid hosts can be unit-tested with sample text.
import { posix } from 'node:path';
import { ErrorCodes, tspodError, type TspodError } from '../errors.js';
import { err, ok, type Result } from '../result.js';

/** The v1 controllers the kernel knows; anything else in a cgroup mount's options is a mount flag. */
export const V1_CONTROLLERS: ReadonlySet<string> = new Set([
  'cpu', 'cpuacct', 'cpuset', 'memory', 'devices', 'freezer', 'net_cls', 'net_prio', 'blkio',
  'perf_event', 'hugetlb', 'pids', 'rdma', 'misc',
]);

export interface MountEntry {
  readonly mountPoint: string;
  /** The directory of the mounted filesystem shown at mountPoint (not "/" for bind mounts). */
  readonly root: string;
  readonly fstype: string;
  readonly superOptions: readonly string[];
}

export interface Hierarchy {
  readonly version: 1 | 2;
  /** Directory where the hierarchy is mounted. */
  readonly mountPoint: string;
  /** The hierarchy path that mountPoint shows (mountinfo field 4). */
  readonly mountRoot: string;
  /** v1: the controllers bound to it (and name=X); v2: the contents of cgroup.controllers. */
  readonly controllers: readonly string[];
  /** This process's cgroup in the hierarchy (from /proc/self/cgroup), "/" if unknown. */
  readonly current: string;
}

export interface CgroupLayout {
  readonly mode: 'v1' | 'v2' | 'hybrid';
  readonly v1: readonly Hierarchy[];
  readonly v2: Hierarchy | undefined;
}

/** mountinfo escapes space, tab, newline and backslash as \ooo. */
function unescapeOctal(s: string): string {
  return s.replace(/\\([0-7]{3})/g, (_, o: string) => String.fromCharCode(parseInt(o, 8)));
}

export function parseMountinfo(text: string): MountEntry[] {
  const out: MountEntry[] = [];
  for (const line of text.split('\n')) {
    const sep = line.indexOf(' - ');
    if (sep < 0) continue;
    const pre = line.slice(0, sep).split(' ');
    const post = line.slice(sep + 3).split(' ');
    if (pre.length < 5 || post.length < 3) continue;
    out.push({
      root: unescapeOctal(pre[3]!), mountPoint: unescapeOctal(pre[4]!),
      fstype: post[0]!, superOptions: post[2]!.split(','),
    });
  }
  return out;
}

/** "hierarchy-id:controllers:path" lines. Keys: each controller ("memory", "name=systemd"), "" for v2. */
export function parseProcCgroup(text: string): Map<string, string> {
  const out = new Map<string, string>();
  for (const line of text.split('\n')) {
    const m = /^(\d+):([^:]*):(.*)$/.exec(line.trim());
    if (!m) continue;
    const [, id, ctrls, path] = m as unknown as [string, string, string, string];
    if (id === '0' && ctrls === '') out.set('', path);
    else for (const c of ctrls.split(',')) if (c !== '') out.set(c, path);
  }
  return out;
}

function v1Controllers(opts: readonly string[]): string[] {
  return opts.filter((o) => V1_CONTROLLERS.has(o) || o.startsWith('name='));
}

/**
 * Builds the layout. The same hierarchy can be mounted twice (bind mounts, containers); the first
 * mount wins, as it does for the kernel's own /proc/self/cgroup view.
 */
export function detectLayout(
  mountinfo: string, procCgroup: string, readV2Controllers: (mountPoint: string) => string[],
): Result<CgroupLayout, TspodError> {
  const current = parseProcCgroup(procCgroup);
  const v1: Hierarchy[] = [];
  const seen = new Set<string>();
  let v2: Hierarchy | undefined;
  for (const m of parseMountinfo(mountinfo)) {
    if (m.fstype === 'cgroup') {
      const controllers = v1Controllers(m.superOptions);
      const key = [...controllers].sort().join(',');
      if (controllers.length === 0 || seen.has(key)) continue;
      seen.add(key);
      v1.push({ version: 1, mountPoint: m.mountPoint, mountRoot: m.root, controllers, current: current.get(controllers[0]!) ?? '/' });
    } else if (m.fstype === 'cgroup2' && v2 === undefined) {
      v2 = { version: 2, mountPoint: m.mountPoint, mountRoot: m.root, controllers: readV2Controllers(m.mountPoint), current: current.get('') ?? '/' };
    }
  }
  const realV1 = v1.some((h) => h.controllers.some((c) => !c.startsWith('name=')));
  if (!realV1 && v2 === undefined) {
    return err(tspodError(ErrorCodes.CONFIG, 'find cgroup hierarchies', 'no cgroup or cgroup2 filesystem is mounted',
      'mount cgroup2 at /sys/fs/cgroup (or the v1 controllers) and try again'));
  }
  const mode = !realV1 ? 'v2' : v2 === undefined ? 'v1' : 'hybrid';
  return ok({ mode, v1, v2 });
}

/**
 * The directory of a hierarchy path. A mount may show a sub-tree (mountRoot != "/"): paths under
 * it are made relative; a path outside it (cgroup namespaces show "/" paths) is taken as relative
 * to the mount point, the best we can see.
 */
export function cgroupDir(h: Hierarchy, cgPath: string): string {
  const root = h.mountRoot;
  if (root !== '/' && (cgPath === root || cgPath.startsWith(root + '/'))) {
    return posix.join(h.mountPoint, cgPath.slice(root.length));
  }
  return posix.join(h.mountPoint, cgPath);
}

/** An absolute cgroup path without "." / ".." / empty segments, so it cannot climb out. */
export function validCgroupPath(p: string): boolean {
  if (!p.startsWith('/') || p.includes('\0')) return false;
  if (p === '/') return true;
  return p.slice(1).split('/').every((s) => s !== '' && s !== '.' && s !== '..');
}

/** Pod ids are UUID-ish: lower-case hex and dashes, so a pod id can never be a path trick. */
export function validPodId(id: string): boolean {
  return /^[0-9a-f][0-9a-f-]{0,63}$/.test(id);
}
