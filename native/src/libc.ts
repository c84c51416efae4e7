// koffi bindings to the few libc calls Node's fs does not offer: *at() calls relative to a
// directory fd, openat2 (through syscall(2): glibc 2.36 has no wrapper), device nodes,
// nanosecond timestamps and xattrs on fds. Every call returns a number >= 0 or -errno, never
// throws, so callers decide what an errno means. koffi is loaded on first use only.
import { createRequire } from 'node:module';
import { constants as osConstants } from 'node:os';

type KoffiFn = (...args: unknown[]) => number;

interface Bindings {
  koffi: { errno(): number; sizeof(t: unknown): number };
  syscall: KoffiFn;
  openat: KoffiFn;
  mkdirat: KoffiFn;
  mknodat: KoffiFn;
  symlinkat: KoffiFn;
  linkat: KoffiFn;
  unlinkat: KoffiFn;
  fchownat: KoffiFn;
  close: KoffiFn;
  flock: KoffiFn;
  fchmodat: KoffiFn;
  utimensat: KoffiFn;
  futimens: KoffiFn;
  fsetxattr: KoffiFn;
  lsetxattr: KoffiFn;
  openHowType: unknown;
}

let bindings: Bindings | undefined;

function load(): Bindings {
  if (bindings) return bindings;
  const require = createRequire(import.meta.url);
  const koffi = require('koffi');
  const lib = koffi.load('libc.so.6');
  const openHowType = koffi.struct('tspod_open_how', { flags: 'uint64', mode: 'uint64', resolve: 'uint64' });
  koffi.struct('tspod_timespec', { tv_sec: 'int64', tv_nsec: 'long' });
  bindings = {
    koffi,
    openHowType,
    syscall: lib.func('long syscall(long, ...)'),
    openat: lib.func('int openat(int, const char *, int, ...)'),
    mkdirat: lib.func('int mkdirat(int, const char *, uint32)'),
    mknodat: lib.func('int mknodat(int, const char *, uint32, uint64)'),
    symlinkat: lib.func('int symlinkat(const char *, int, const char *)'),
    linkat: lib.func('int linkat(int, const char *, int, const char *, int)'),
    unlinkat: lib.func('int unlinkat(int, const char *, int)'),
    fchownat: lib.func('int fchownat(int, const char *, uint32, uint32, int)'),
    close: lib.func('int close(int)'),
    flock: lib.func('int flock(int, int)'),
    fchmodat: lib.func('int fchmodat(int, const char *, uint32, int)'),
    utimensat: lib.func('int utimensat(int, const char *, tspod_timespec *, int)'),
    futimens: lib.func('int futimens(int, tspod_timespec *)'),
    fsetxattr: lib.func('int fsetxattr(int, const char *, const uint8_t *, size_t, int)'),
    lsetxattr: lib.func('int lsetxattr(const char *, const char *, const uint8_t *, size_t, int)'),
  };
  return bindings;
}

/** Turns a libc return value into >= 0 or -errno (errno read right after the call). */
function checked(b: Bindings, ret: number | bigint): number {
  const n = Number(ret);
  return n < 0 ? -b.koffi.errno() : n;
}

// Linux constants (the same on x86_64 and aarch64 for everything used here).
export const O_RDONLY = 0o0;
export const O_WRONLY = 0o1;
export const O_CREAT = 0o100;
export const O_EXCL = 0o200;
export const O_TRUNC = 0o1000;
export const O_DIRECTORY = 0o200000;
export const O_NOFOLLOW = 0o400000;
export const O_CLOEXEC = 0o2000000;
export const O_PATH = 0o10000000;
export const AT_SYMLINK_NOFOLLOW = 0x100;
export const AT_REMOVEDIR = 0x200;
export const RESOLVE_NO_XDEV = 0x01;
export const RESOLVE_NO_MAGICLINKS = 0x02;
export const RESOLVE_NO_SYMLINKS = 0x04;
export const RESOLVE_BENEATH = 0x08;
export const RESOLVE_IN_ROOT = 0x10;
export const S_IFCHR = 0o020000;
export const S_IFBLK = 0o060000;
export const S_IFIFO = 0o010000;
const SYS_OPENAT2 = 437; // one number on every architecture since Linux 5.6

export function openat2(dirfd: number, path: string, flags: number, mode: number, resolve: number): number {
  const b = load();
  const how = { flags: BigInt(flags), mode: BigInt(mode), resolve: BigInt(resolve) };
  return checked(b, b.syscall(SYS_OPENAT2, 'int', dirfd, 'const char *', path, 'tspod_open_how *', how, 'size_t', 24));
}

export function openat(dirfd: number, path: string, flags: number, mode = 0): number {
  const b = load();
  return checked(b, b.openat(dirfd, path, flags, 'uint32', mode));
}

export function mkdirat(dirfd: number, name: string, mode: number): number {
  const b = load();
  return checked(b, b.mkdirat(dirfd, name, mode));
}

/** glibc's makedev() encoding of dev_t. */
export function makedev(major: number, minor: number): bigint {
  const ma = BigInt(major >>> 0);
  const mi = BigInt(minor >>> 0);
  return ((ma & 0xfffff000n) << 32n) | ((ma & 0xfffn) << 8n) | ((mi & 0xffffff00n) << 12n) | (mi & 0xffn);
}

export function mknodat(dirfd: number, name: string, mode: number, dev: bigint): number {
  const b = load();
  return checked(b, b.mknodat(dirfd, name, mode, dev));
}

export function symlinkat(target: string, dirfd: number, name: string): number {
  const b = load();
  return checked(b, b.symlinkat(target, dirfd, name));
}

export function linkat(olddirfd: number, oldname: string, newdirfd: number, newname: string): number {
  const b = load();
  return checked(b, b.linkat(olddirfd, oldname, newdirfd, newname, 0));
}

export function unlinkat(dirfd: number, name: string, removeDir: boolean): number {
  const b = load();
  return checked(b, b.unlinkat(dirfd, name, removeDir ? AT_REMOVEDIR : 0));
}

export function lchownat(dirfd: number, name: string, uid: number, gid: number): number {
  const b = load();
  return checked(b, b.fchownat(dirfd, name, uid, gid, AT_SYMLINK_NOFOLLOW));
}

function timespecs(sec: number, nsec: number): Array<{ tv_sec: bigint; tv_nsec: number }> {
  const t = { tv_sec: BigInt(Math.trunc(sec)), tv_nsec: nsec };
  return [t, t]; // atime = mtime, as GNU tar does when the archive holds no atime
}

/** Sets atime and mtime of dirfd/name without following a final symlink. */
export function lutimesat(dirfd: number, name: string, sec: number, nsec: number): number {
  const b = load();
  return checked(b, b.utimensat(dirfd, name, timespecs(sec, nsec), AT_SYMLINK_NOFOLLOW));
}

export function futimens(fd: number, sec: number, nsec: number): number {
  const b = load();
  return checked(b, b.futimens(fd, timespecs(sec, nsec)));
}

export function fsetxattr(fd: number, name: string, value: Uint8Array): number {
  const b = load();
  return checked(b, b.fsetxattr(fd, name, value, value.length, 0));
}

/** lsetxattr on a path; used with /proc/self/fd/N/name for nodes that cannot be opened. */
export function lsetxattr(path: string, name: string, value: Uint8Array): number {
  const b = load();
  return checked(b, b.lsetxattr(path, name, value, value.length, 0));
}

const errnoNames = new Map<number, string>(
  Object.entries(osConstants.errno).map(([name, num]) => [num, name]),
);

/** "ENOENT" for -2, for messages. */
export function errnoName(negErrno: number): string {
  return errnoNames.get(-negErrno) ?? `errno ${-negErrno}`;
}

export const errno = osConstants.errno;

export function fchmodat(dirfd: number, name: string, mode: number): number {
  const b = load();
  return checked(b, b.fchmodat(dirfd, name, mode, 0));
}

/** close(2) for fds opened here: Node's fs.closeSync warns in workers about fds it did not open. */
export function close(fd: number): number {
  const b = load();
  return checked(b, b.close(fd));
}

export const LOCK_SH = 1;
export const LOCK_EX = 2;
export const LOCK_NB = 4;
export const LOCK_UN = 8;

/** flock(2); with LOCK_NB a held lock gives -EWOULDBLOCK at once. */
export function flock(fd: number, op: number): number {
  const b = load();
  return checked(b, b.flock(fd, op));
}
