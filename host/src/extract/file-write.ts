// Creating one regular file inside an extraction root and giving it the archive's metadata,
// with the syscalls GNU tar makes as root: open(O_EXCL|O_NOFOLLOW), write, fchown, fchmod,
// xattrs, futimens. Shared by the main thread and the writer workers (plain data in, errno out).
import { fchownSync, fchmodSync, writeSync } from 'node:fs';
import * as libc from '../../../native/src/libc.js';

export interface NodeMeta {
  readonly mode: number;
  readonly uid: number;
  readonly gid: number;
  readonly mtimeSec: number;
  readonly mtimeNsec: number;
  readonly xattrs: ReadonlyArray<readonly [string, Uint8Array]>;
}

export interface OwnerPolicy {
  /** chown to the archive's uid/gid (root only, as GNU tar --same-owner). */
  readonly chown: boolean;
  /** The process umask: a mode it would clip needs an explicit fchmod. */
  readonly umask: number;
}

/** An errno failure with the operation that failed, for the error message. */
export interface SysFailure {
  readonly op: string;
  readonly errno: number;
}

const CREATE_FLAGS = libc.O_WRONLY | libc.O_CREAT | libc.O_EXCL | libc.O_NOFOLLOW | libc.O_CLOEXEC;

/** chown clears setuid/setgid, and open/mkdir/mknod apply the umask: then an explicit chmod is due. */
export function needsChmod(mode: number, policy: OwnerPolicy): boolean {
  return (mode & 0o7000) !== 0 || (mode & policy.umask) !== 0;
}

export function createFile(dirFd: number, name: string, mode: number): number {
  return libc.openat(dirFd, name, CREATE_FLAGS, mode & 0o777);
}

function errnoOf(e: unknown): number {
  const code = (e as NodeJS.ErrnoException).code;
  return code && code in libc.errno ? -(libc.errno as Record<string, number>)[code]! : -libc.errno.EIO;
}

export function writeAll(fd: number, data: Uint8Array): SysFailure | undefined {
  try {
    let off = 0;
    while (off < data.length) off += writeSync(fd, data, off, data.length - off);
    return undefined;
  } catch (e) {
    return { op: 'write', errno: errnoOf(e) };
  }
}

/** Owner, mode, xattrs and times of an open file; closes the fd in every case. */
export function finishFile(fd: number, meta: NodeMeta, policy: OwnerPolicy): SysFailure | undefined {
  try {
    if (policy.chown) fchownSync(fd, meta.uid, meta.gid);
    if (needsChmod(meta.mode, policy)) fchmodSync(fd, meta.mode & 0o7777);
  } catch (e) {
    libc.close(fd);
    return { op: 'chown/chmod', errno: errnoOf(e) };
  }
  for (const [name, value] of meta.xattrs) {
    const r = libc.fsetxattr(fd, name, value);
    if (r < 0) {
      libc.close(fd);
      return { op: `setxattr ${name}`, errno: r };
    }
  }
  const t = libc.futimens(fd, meta.mtimeSec, meta.mtimeNsec);
  libc.close(fd);
  return t < 0 ? { op: 'futimens', errno: t } : undefined;
}

/** Writes a whole small file in one go (the worker path). -EEXIST is returned for the caller to handle. */
export function writeWholeFile(
  dirFd: number, name: string, data: Uint8Array, meta: NodeMeta, policy: OwnerPolicy,
): SysFailure | undefined {
  const fd = createFile(dirFd, name, meta.mode);
  if (fd < 0) return { op: 'open', errno: fd };
  const w = writeAll(fd, data);
  if (w) {
    libc.close(fd);
    return w;
  }
  return finishFile(fd, meta, policy);
}
