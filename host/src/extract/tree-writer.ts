// Turns tar entries into a tree inside an extraction root, with GNU tar's result as root
// (--same-permissions --numeric-owner --xattrs) and none of its escapes: every path is opened
// relative to a directory fd resolved without symlinks, the final component is never followed,
// and an entry whose parent is a symlink or a file in the tree is refused.
import { fstatSync, readdirSync, readFileSync } from 'node:fs';
import * as libc from '../../../native/src/libc.js';
import type { TarEntry } from '../core/tar.js';
import { DirResolver, splitParent } from './dir-resolver.js';
import { createFile, finishFile, needsChmod, writeAll, type NodeMeta, type OwnerPolicy, type SysFailure } from './file-write.js';
import { WriterPool } from './writer-pool.js';

/** What went wrong with one entry; the extractor turns it into a TspodError. */
export interface EntryFailure {
  readonly path: string;
  readonly kind: 'unsafe' | 'io';
  readonly why: string;
}

type Known = 'dir' | 'nondir';

interface DelayedDir {
  readonly rel: string;
  readonly meta: NodeMeta;
}

interface OpenFile {
  readonly fd: number;
  readonly path: string;
  readonly meta: NodeMeta;
  remaining: number;
}

export interface TreeCounts {
  files: number;
  dirs: number;
  symlinks: number;
  hardlinks: number;
  nodes: number;
}

const POOL_START_FILES = 64;
export const SMALL_FILE = 1 << 20;

function readUmask(): number {
  const m = /^Umask:\s*([0-7]+)/m.exec(readFileSync('/proc/self/status', 'utf8'));
  return m ? parseInt(m[1]!, 8) : 0o022;
}

function metaOf(e: TarEntry): NodeMeta {
  return { mode: e.mode, uid: e.uid, gid: e.gid, mtimeSec: e.mtimeSec, mtimeNsec: e.mtimeNsec, xattrs: e.xattrs };
}

function sysWhy(f: SysFailure): string {
  return `${f.op} failed: ${libc.errnoName(f.errno)}`;
}

export class TreeWriter {
  readonly counts: TreeCounts = { files: 0, dirs: 0, symlinks: 0, hardlinks: 0, nodes: 0 };
  private readonly resolver: DirResolver;
  private readonly known = new Map<string, Known>([['.', 'dir']]);
  /** Files handed to the writer threads and maybe not yet on disk. */
  private pooled = new Set<string>();
  private readonly delayedDirs: DelayedDir[] = [];
  private readonly policy: OwnerPolicy;
  private pool: WriterPool | undefined;
  private open: OpenFile | undefined;
  private filesSeen = 0;
  /** Overlay only: every path this archive put in the tree, with its ancestors; whiteouts spare them. */
  private readonly mine = new Set<string>(['.']);

  /**
   * overlay: the root already holds a tree (an earlier layer) that this archive's entries replace,
   * node by node, as appc dependencies are rendered. Without it the root starts empty.
   */
  /**
   * implicitDirMeta: metadata for a directory the archive needs but does not list (and for the
   * root); by default such directories are plain 0755 ones of the extracting user. A layer kept as
   * an overlayfs lower dir takes them from the layers below, or they would mask those.
   */
  constructor(
    private readonly rootFd: number, private readonly rootPath: string, private readonly writers: number,
    private readonly overlay = false,
    private readonly implicitDirMeta?: (rel: string) => NodeMeta | undefined,
  ) {
    this.resolver = new DirResolver(rootFd);
    this.policy = { chown: process.geteuid?.() === 0, umask: readUmask() };
  }

  /** Bytes of the file being streamed that are still to come. */
  get pendingBytes(): number {
    return this.open?.remaining ?? 0;
  }

  // ---- entries -------------------------------------------------------------------------------

  /** Handles one entry; `data` holds whatever of its bytes the current chunk has (maybe all). */
  async add(e: TarEntry, data: Uint8Array): Promise<EntryFailure | undefined> {
    if (e.path === '.') return this.rootEntry(e);
    if (this.overlay) this.markMine(e.path);
    const [parent, name] = splitParent(e.path);
    const parentFail = this.ensureDir(parent, e.path);
    if (parentFail) return parentFail;
    switch (e.type) {
      case 'dir': return this.addDir(e, parent, name);
      case 'file': return this.addFile(e, parent, name, data);
      case 'symlink': return this.addSymlink(e, parent, name);
      case 'hardlink': return this.addHardlink(e, parent, name);
      default: return this.addNode(e, parent, name);
    }
  }

  /** More bytes of the file being streamed; finishes it when complete. */
  continueFile(data: Uint8Array): EntryFailure | undefined {
    const f = this.open!;
    const w = writeAll(f.fd, data);
    f.remaining -= data.length;
    if (w) return this.abandonOpen(w);
    if (f.remaining > 0) return undefined;
    this.open = undefined;
    const fin = finishFile(f.fd, f.meta, this.policy);
    return fin ? { path: f.path, kind: 'io', why: sysWhy(fin) } : undefined;
  }

  private abandonOpen(f: SysFailure): EntryFailure {
    const o = this.open!;
    this.open = undefined;
    libc.close(o.fd);
    return { path: o.path, kind: 'io', why: sysWhy(f) };
  }

  private rootEntry(e: TarEntry): EntryFailure | undefined {
    if (e.type !== 'dir') return { path: e.rawPath, kind: 'unsafe', why: 'the archive root must be a directory' };
    this.delayedDirs.push({ rel: '.', meta: metaOf(e) });
    return undefined;
  }

  /** Makes sure rel is a directory, creating missing ones as GNU tar does (0755, not in the archive). */
  private ensureDir(rel: string, forEntry: string): EntryFailure | undefined {
    const k = this.known.get(rel);
    if (k === 'dir') return undefined;
    if (k === 'nondir') return this.throughNonDir(forEntry, rel);
    const [parent, name] = splitParent(rel);
    const up = this.ensureDir(parent, forEntry);
    if (up) return up;
    const pfd = this.resolver.open(parent);
    if (pfd < 0) return this.throughNonDir(forEntry, parent);
    const r = libc.mkdirat(pfd, name, 0o755);
    if (r < 0 && r !== -libc.errno.EEXIST) return { path: forEntry, kind: 'io', why: `mkdir ${rel} failed: ${libc.errnoName(r)}` };
    this.known.set(rel, 'dir');
    const meta = r === 0 ? this.implicitDirMeta?.(rel) : undefined;
    if (meta) this.delayedDirs.push({ rel, meta });
    return undefined;
  }

  private throughNonDir(entry: string, parent: string): EntryFailure {
    return {
      path: entry,
      kind: 'unsafe',
      why: `its parent ${parent} is a symlink or not a directory; tspod never writes through symlinks`,
    };
  }

  /** An fd for the parent directory (already ensured), or a failure naming the entry. */
  private parentFd(parent: string, entry: string): number | EntryFailure {
    const fd = this.resolver.open(parent);
    return fd >= 0 ? fd : this.throughNonDir(entry, parent);
  }

  /** Clears the way for a new node at rel when the archive already put something there. */
  private async replace(rel: string, pfd: number, name: string, newIsDir: boolean): Promise<EntryFailure | undefined> {
    const k = this.known.get(rel) ?? (this.overlay ? this.onDisk(pfd, name, rel) : undefined);
    if (k === undefined || (k === 'dir' && newIsDir)) return undefined;
    // The old node may still be in a writer thread's queue, or be a directory a thread has cached.
    const poolFail = await this.drainPool();
    if (poolFail) return poolFail;
    const r = libc.unlinkat(pfd, name, k === 'dir');
    if (r < 0) {
      const why = r === -libc.errno.ENOTEMPTY ? 'it would replace a non-empty directory' : `cannot remove the earlier ${rel}: ${libc.errnoName(r)}`;
      return { path: rel, kind: 'unsafe', why };
    }
    if (k === 'dir') this.forgetDirs();
    this.known.delete(rel);
    return undefined;
  }

  /** What an earlier layer left at pfd/name, looked at without following it; recorded as known. */
  private onDisk(pfd: number, name: string, rel: string): Known | undefined {
    const fd = libc.openat(pfd, name, libc.O_PATH | libc.O_NOFOLLOW | libc.O_CLOEXEC);
    if (fd < 0) return undefined;
    try {
      const k: Known = fstatSync(fd).isDirectory() ? 'dir' : 'nondir';
      this.known.set(rel, k);
      return k;
    } finally {
      libc.close(fd);
    }
  }

  private forgetDirs(): void {
    this.resolver.invalidate();
    if (this.pool) this.pool.generation++;
  }

  private async addDir(e: TarEntry, parent: string, name: string): Promise<EntryFailure | undefined> {
    const pfd = this.parentFd(parent, e.path);
    if (typeof pfd !== 'number') return pfd;
    const gone = await this.replace(e.path, pfd, name, true);
    if (gone) return gone;
    if (this.known.get(e.path) !== 'dir') {
      // Owner-writable until the end, when the archive's mode is applied (as GNU tar delays it).
      const r = libc.mkdirat(pfd, name, (e.mode & 0o777) | 0o700);
      if (r < 0) return { path: e.path, kind: 'io', why: `mkdir failed: ${libc.errnoName(r)}` };
      this.known.set(e.path, 'dir');
    }
    const x = this.setXattrsAt(pfd, name, e);
    if (x) return x;
    this.delayedDirs.push({ rel: e.path, meta: metaOf(e) });
    this.counts.dirs++;
    return undefined;
  }

  private async addFile(e: TarEntry, parent: string, name: string, data: Uint8Array): Promise<EntryFailure | undefined> {
    this.counts.files++;
    this.filesSeen++;
    const pfd = this.parentFd(parent, e.path);
    if (typeof pfd !== 'number') return pfd;
    const gone = await this.replace(e.path, pfd, name, false);
    if (gone) return gone;
    this.known.set(e.path, 'nondir');
    const whole = data.length === e.size && e.size <= SMALL_FILE;
    if (whole && this.writers > 0 && (this.pool || this.filesSeen > POOL_START_FILES)) {
      this.pooled.add(e.path);
      this.startPool().add(e.path, data, metaOf(e));
      return undefined;
    }
    const fd = createFile(pfd, name, e.mode);
    if (fd < 0) return { path: e.path, kind: 'io', why: `create failed: ${libc.errnoName(fd)}` };
    this.open = { fd, path: e.path, meta: metaOf(e), remaining: e.size };
    if (e.size === 0) {
      this.open = undefined;
      const fin = finishFile(fd, metaOf(e), this.policy);
      return fin ? { path: e.path, kind: 'io', why: sysWhy(fin) } : undefined;
    }
    return this.continueFile(data);
  }

  /** Reads straight into writer-thread buffers (plain tar input with the pool running). */
  chunkBufferSource(): (() => ArrayBuffer) | undefined {
    const pool = this.pool;
    return pool ? () => pool.takeBuffer() : undefined;
  }

  /** Around each input chunk: a chunk in a pool buffer is handed to a writer thread whole. */
  beginChunk(chunk: Uint8Array): void {
    if (this.pool && chunk.byteOffset === 0) this.pool.beginChunk(chunk.buffer as ArrayBuffer);
  }

  endChunk(): void {
    this.pool?.endChunk();
  }

  /** Starts the writer threads now, e.g. when the input is known to be large: they take ~50 ms to boot. */
  startPool(): WriterPool {
    this.pool ??= new WriterPool(this.writers, { rootFd: this.rootFd, policy: this.policy });
    return this.pool;
  }

  private async addSymlink(e: TarEntry, parent: string, name: string): Promise<EntryFailure | undefined> {
    const pfd = this.parentFd(parent, e.path);
    if (typeof pfd !== 'number') return pfd;
    const gone = await this.replace(e.path, pfd, name, false);
    if (gone) return gone;
    const r = libc.symlinkat(e.linkTarget, pfd, name);
    if (r < 0) return { path: e.path, kind: 'io', why: `symlink failed: ${libc.errnoName(r)}` };
    this.known.set(e.path, 'nondir');
    this.counts.symlinks++;
    return this.finishNode(e, pfd, name, false);
  }

  private async addNode(e: TarEntry, parent: string, name: string): Promise<EntryFailure | undefined> {
    const pfd = this.parentFd(parent, e.path);
    if (typeof pfd !== 'number') return pfd;
    const gone = await this.replace(e.path, pfd, name, false);
    if (gone) return gone;
    const type = e.type === 'char' ? libc.S_IFCHR : e.type === 'block' ? libc.S_IFBLK : libc.S_IFIFO;
    const dev = e.type === 'fifo' ? 0n : libc.makedev(e.devMajor, e.devMinor);
    const r = libc.mknodat(pfd, name, type | (e.mode & 0o777), dev);
    if (r < 0) return { path: e.path, kind: 'io', why: `mknod failed: ${libc.errnoName(r)}` };
    this.known.set(e.path, 'nondir');
    this.counts.nodes++;
    return this.finishNode(e, pfd, name, true);
  }

  /** Owner, mode, xattrs and times of a node that is not opened (symlink, device, fifo). */
  private finishNode(e: TarEntry, pfd: number, name: string, chmod: boolean): EntryFailure | undefined {
    const fail = (op: string, r: number): EntryFailure => ({ path: e.path, kind: 'io', why: `${op} failed: ${libc.errnoName(r)}` });
    if (this.policy.chown) {
      const r = libc.lchownat(pfd, name, e.uid, e.gid);
      if (r < 0) return fail('chown', r);
    }
    if (chmod && needsChmod(e.mode, this.policy)) {
      const r = libc.fchmodat(pfd, name, e.mode & 0o7777);
      if (r < 0) return fail('chmod', r);
    }
    const x = this.setXattrsAt(pfd, name, e);
    if (x) return x;
    const t = libc.lutimesat(pfd, name, e.mtimeSec, e.mtimeNsec);
    return t < 0 ? fail('utimensat', t) : undefined;
  }

  private setXattrsAt(pfd: number, name: string, e: TarEntry): EntryFailure | undefined {
    // lsetxattr through the directory fd's /proc link: the parent is pinned and the name is not followed.
    for (const [key, value] of e.xattrs) {
      const r = libc.lsetxattr(`/proc/self/fd/${pfd}/${name}`, key, value);
      if (r < 0) return { path: e.path, kind: 'io', why: `setxattr ${key} failed: ${libc.errnoName(r)}` };
    }
    return undefined;
  }

  private async addHardlink(e: TarEntry, parent: string, name: string): Promise<EntryFailure | undefined> {
    const target = e.linkTarget;
    const k = this.known.get(target);
    if (k === undefined && !this.overlay) return { path: e.path, kind: 'unsafe', why: `it links to ${target}, which the archive has not created before it` };
    if (k === 'dir') return { path: e.path, kind: 'unsafe', why: `it links to the directory ${target}` };
    if (this.pooled.has(target)) {
      const f = await this.drainPool();
      if (f) return f;
    }
    const pfd = this.parentFd(parent, e.path);
    if (typeof pfd !== 'number') return pfd;
    const gone = await this.replace(e.path, pfd, name, false);
    if (gone) return gone;
    const [tParent, tName] = splitParent(target);
    const tfd = this.parentFd(tParent, e.path);
    if (typeof tfd !== 'number') return tfd;
    const r = libc.linkat(tfd, tName, pfd, name);
    if (r < 0) return { path: e.path, kind: 'io', why: `link to ${target} failed: ${libc.errnoName(r)}` };
    this.known.set(e.path, 'nondir');
    this.counts.hardlinks++;
    return undefined;
  }

  // ---- whiteouts (OCI layers) ---------------------------------------------------------------

  private markMine(rel: string): void {
    for (let r = rel; r !== '.' && !this.mine.has(r); r = splitParent(r)[0]) this.mine.add(r);
  }

  /**
   * Sets an extended attribute on the directory `dir` (created if the archive has not yet), e.g.
   * overlayfs' opaque marker. The directory is reached without following any symlink.
   */
  setDirXattr(dir: string, name: string, value: Uint8Array, entry: string): EntryFailure | undefined {
    const made = this.ensureDir(dir, entry);
    if (made) return made;
    const [parent, base] = dir === '.' ? ['.', ''] : splitParent(dir);
    const pfd = this.resolver.open(parent);
    if (pfd < 0) return this.throughNonDir(entry, parent);
    const path = dir === '.' ? this.rootPath : `/proc/self/fd/${pfd}/${base}`;
    const r = libc.lsetxattr(path, name, value);
    return r < 0 ? { path: entry, kind: 'io', why: `setxattr ${name} on ${dir} failed: ${libc.errnoName(r)}` } : undefined;
  }

  /**
   * An OCI whiteout, from the entry `entry`: removes what earlier layers put at `target` (opaque:
   * everything earlier layers put inside the directory `target`). What this archive wrote, before
   * or after the whiteout, stays. Nothing is followed: the parent is resolved without symlinks (one
   * on the way is refused), the final component is unlinked, never opened through, and directories
   * are emptied through fds opened with O_NOFOLLOW. Without overlay there is no earlier layer.
   */
  async whiteout(target: string, opaque: boolean, entry: string): Promise<EntryFailure | undefined> {
    if (!this.overlay) return undefined;
    const [parent, name] = opaque ? [target, ''] : splitParent(target);
    const pfd = this.resolver.open(parent);
    if (pfd < 0) return this.whiteoutParentFailure(parent, pfd, entry);
    // The writer threads must not be inside a directory being emptied, and their cached fds go stale.
    const poolFail = await this.drainPool();
    if (poolFail) return poolFail;
    const removed = { dirs: false };
    const f = opaque ? this.clearLower(pfd, target, entry, removed) : this.removeLower(pfd, name, target, entry, removed);
    if (removed.dirs) this.forgetDirs();
    return f;
  }

  /** The parent of a whiteout could not be opened: missing is fine (nothing to hide), a symlink is not. */
  private whiteoutParentFailure(parent: string, r: number, entry: string): EntryFailure | undefined {
    if (r === -libc.errno.ENOENT) return undefined;
    if (r !== -libc.errno.ELOOP && r !== -libc.errno.ENOTDIR && r !== -libc.errno.EXDEV) {
      return { path: entry, kind: 'io', why: `cannot open ${parent}: ${libc.errnoName(r)}` };
    }
    // Find the first component that is not a directory: a plain file hides nothing below it.
    const parts = parent.split('/');
    for (let i = 0; i < parts.length; i++) {
      const up = i === 0 ? '.' : parts.slice(0, i).join('/');
      const ufd = this.resolver.open(up);
      if (ufd < 0) break;
      const fd = libc.openat(ufd, parts[i]!, libc.O_PATH | libc.O_NOFOLLOW | libc.O_CLOEXEC);
      if (fd < 0) return fd === -libc.errno.ENOENT ? undefined : { path: entry, kind: 'io', why: `cannot open ${parent}: ${libc.errnoName(fd)}` };
      let st;
      try {
        st = fstatSync(fd);
      } finally {
        libc.close(fd);
      }
      if (st.isDirectory()) continue;
      if (!st.isSymbolicLink()) return undefined;
      break;
    }
    return { path: entry, kind: 'unsafe', why: `its parent ${parent} is a symlink; tspod never removes through symlinks` };
  }

  /** Removes dirFd/name (rel) unless this archive wrote it; a directory it wrote keeps only its own content. */
  private removeLower(dirFd: number, name: string, rel: string, entry: string, removed: { dirs: boolean }): EntryFailure | undefined {
    const io = (op: string, r: number): EntryFailure => ({ path: entry, kind: 'io', why: `${op} ${rel} failed: ${libc.errnoName(r)}` });
    if (this.mine.has(rel)) {
      if (this.known.get(rel) !== 'dir') return undefined;
      return this.withDirFd(dirFd, name, rel, entry, (fd) => this.clearLower(fd, rel, entry, removed));
    }
    const r = libc.unlinkat(dirFd, name, false);
    if (r === 0 || r === -libc.errno.ENOENT) {
      this.known.delete(rel);
      return undefined;
    }
    if (r !== -libc.errno.EISDIR) return io('unlink', r);
    const inner = this.withDirFd(dirFd, name, rel, entry, (fd) => this.clearLower(fd, rel, entry, removed));
    if (inner) return inner;
    const d = libc.unlinkat(dirFd, name, true);
    if (d < 0 && d !== -libc.errno.ENOENT) return io('rmdir', d);
    this.known.delete(rel);
    removed.dirs = true;
    return undefined;
  }

  /** Applies removeLower to every child of the directory dirFd (rel). */
  private clearLower(dirFd: number, rel: string, entry: string, removed: { dirs: boolean }): EntryFailure | undefined {
    let names: string[];
    try {
      // The /proc link names the directory the fd holds, wherever it is now: no path is resolved again.
      names = readdirSync(`/proc/self/fd/${dirFd}`);
    } catch (e) {
      return { path: entry, kind: 'io', why: `cannot list ${rel}: ${(e as NodeJS.ErrnoException).code ?? String(e)}` };
    }
    for (const n of names) {
      const f = this.removeLower(dirFd, n, rel === '.' ? n : `${rel}/${n}`, entry, removed);
      if (f) return f;
    }
    return undefined;
  }

  private withDirFd(
    dirFd: number, name: string, rel: string, entry: string, body: (fd: number) => EntryFailure | undefined,
  ): EntryFailure | undefined {
    const fd = libc.openat(dirFd, name, libc.O_RDONLY | libc.O_DIRECTORY | libc.O_NOFOLLOW | libc.O_CLOEXEC);
    if (fd < 0) {
      // It was a directory a moment ago: a swap for a symlink is refused, never followed.
      const kind = fd === -libc.errno.ELOOP || fd === -libc.errno.ENOTDIR ? 'unsafe' : 'io';
      return { path: entry, kind, why: `cannot open the directory ${rel}: ${libc.errnoName(fd)}` };
    }
    try {
      return body(fd);
    } finally {
      libc.close(fd);
    }
  }

  // ---- completion ----------------------------------------------------------------------------

  private async drainPool(): Promise<EntryFailure | undefined> {
    if (!this.pool) return undefined;
    const f = await this.pool.drain();
    this.pooled = new Set();
    return f ? { path: f.path, kind: 'io', why: `${f.op} failed: ${libc.errnoName(f.errno)}` } : undefined;
  }

  /** Keeps the writer threads' queue bounded; returns a failure a thread reported. */
  async throttle(): Promise<EntryFailure | undefined> {
    if (!this.pool) return undefined;
    await this.pool.waitForCapacity();
    const f = this.pool.failed;
    return f ? { path: f.path, kind: 'io', why: `${f.op} failed: ${libc.errnoName(f.errno)}` } : undefined;
  }

  /** Waits for the writers, then applies directory owners, modes and times, deepest first. */
  async finish(): Promise<EntryFailure | undefined> {
    const f = await this.drainPool();
    if (f) return f;
    for (let i = this.delayedDirs.length - 1; i >= 0; i--) {
      const d = this.delayedDirs[i]!;
      const fail = d.rel === '.' ? this.applyRootMeta(d.meta) : this.applyDirMeta(d);
      if (fail) return fail;
    }
    const rootMeta = this.delayedDirs.some((d) => d.rel === '.') ? undefined : this.implicitDirMeta?.('.');
    if (rootMeta) {
      const fail = this.applyRootMeta(rootMeta);
      if (fail) return fail;
    } else if (!this.delayedDirs.some((d) => d.rel === '.') && !this.overlay) {
      // No entry for the root: it is a plain new directory of the extracting user, even when the
      // staging directory inherited a group from a setgid parent (the store's dirs are setgid).
      if (this.policy.chown) libc.lchownat(-100, this.rootPath, process.geteuid!(), process.getegid!());
      libc.fchmodat(-100, this.rootPath, 0o755);
    }
    return undefined;
  }

  private applyDirMeta(d: DelayedDir): EntryFailure | undefined {
    const [parent, name] = splitParent(d.rel);
    const pfd = this.parentFd(parent, d.rel);
    if (typeof pfd !== 'number') return pfd;
    return this.applyMetaAt(pfd, name, d.rel, d.meta);
  }

  private applyRootMeta(meta: NodeMeta): EntryFailure | undefined {
    return this.applyMetaAt(-100, this.rootPath, '.', meta);
  }

  private applyMetaAt(dirFd: number, name: string, rel: string, m: NodeMeta): EntryFailure | undefined {
    const fail = (op: string, r: number): EntryFailure => ({ path: rel, kind: 'io', why: `${op} failed: ${libc.errnoName(r)}` });
    if (this.policy.chown) {
      const r = libc.lchownat(dirFd, name, m.uid, m.gid);
      if (r < 0) return fail('chown', r);
    }
    const c = libc.fchmodat(dirFd, name, m.mode & 0o7777);
    if (c < 0) return fail('chmod', c);
    const t = libc.lutimesat(dirFd, name, m.mtimeSec, m.mtimeNsec);
    return t < 0 ? fail('utimensat', t) : undefined;
  }

  /** Releases every fd and thread; safe to call after a failure. */
  async close(): Promise<void> {
    if (this.open) {
      libc.close(this.open.fd);
      this.open = undefined;
    }
    if (this.pool) await this.pool.close();
    this.pool = undefined;
    this.resolver.close();
  }
}
