// Opens directories inside an extraction root by relative path without ever following a symlink
// and without leaving the root: openat2(RESOLVE_BENEATH | RESOLVE_NO_SYMLINKS), or, where the
// kernel has no openat2, one openat(O_NOFOLLOW) per component (the same policy, more syscalls).
// Opened fds are cached because consecutive tar entries usually share a directory.
import * as libc from '../../../native/src/libc.js';

const DIR_FLAGS = libc.O_PATH | libc.O_DIRECTORY | libc.O_NOFOLLOW | libc.O_CLOEXEC;
const RESOLVE = libc.RESOLVE_BENEATH | libc.RESOLVE_NO_SYMLINKS | libc.RESOLVE_NO_MAGICLINKS | libc.RESOLVE_NO_XDEV;
const CACHE_LIMIT = 128;

let openat2Works: boolean | undefined;

/** Whether openat2 is usable here; TSPOD_NO_OPENAT2=1 forces the fallback (tests cover both). */
export function useOpenat2(): boolean {
  if (openat2Works === undefined) {
    if (process.env['TSPOD_NO_OPENAT2'] === '1') openat2Works = false;
    else {
      const fd = libc.openat2(-100, '/', DIR_FLAGS, 0, 0);
      openat2Works = fd >= 0;
      if (fd >= 0) libc.close(fd);
    }
  }
  return openat2Works;
}

export function splitParent(rel: string): [parent: string, name: string] {
  const i = rel.lastIndexOf('/');
  return i < 0 ? ['.', rel] : [rel.slice(0, i), rel.slice(i + 1)];
}

export class DirResolver {
  private readonly cache = new Map<string, number>();
  private readonly openat2: boolean;

  constructor(readonly rootFd: number) {
    this.openat2 = useOpenat2();
  }

  /** An O_PATH fd for root/rel (rel '.' is the root), or -errno: ELOOP or ENOTDIR for a symlink on the way. */
  open(rel: string): number {
    if (rel === '.' || rel === '') return this.rootFd;
    const hit = this.cache.get(rel);
    if (hit !== undefined) {
      // Refresh its place so the least recently used directory is evicted first.
      this.cache.delete(rel);
      this.cache.set(rel, hit);
      return hit;
    }
    const fd = this.openat2 ? libc.openat2(this.rootFd, rel, DIR_FLAGS, 0, RESOLVE) : this.openByComponents(rel);
    if (fd >= 0) this.remember(rel, fd);
    return fd;
  }

  private openByComponents(rel: string): number {
    const parts = rel.split('/');
    let fd = this.rootFd;
    for (const part of parts) {
      // The tar walker never yields '..' or empty parts, but this path must not trust that.
      if (part === '..' || part === '' || part === '.') {
        if (fd !== this.rootFd) libc.close(fd);
        return -libc.errno.EXDEV;
      }
      const next = libc.openat(fd, part, DIR_FLAGS);
      if (fd !== this.rootFd) libc.close(fd);
      // A symlink component gives ENOTDIR here where openat2 gives ELOOP; callers treat both alike.
      if (next < 0) return next;
      fd = next;
    }
    return fd;
  }

  private remember(rel: string, fd: number): void {
    if (this.cache.size >= CACHE_LIMIT) {
      const [oldest, oldFd] = this.cache.entries().next().value as [string, number];
      this.cache.delete(oldest);
      libc.close(oldFd);
    }
    this.cache.set(rel, fd);
  }

  /** Drop every cached fd: after anything in the tree was removed, a cached fd may be stale. */
  invalidate(): void {
    for (const fd of this.cache.values()) libc.close(fd);
    this.cache.clear();
  }

  close(): void {
    this.invalidate();
  }
}
