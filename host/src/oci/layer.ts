// Applies one OCI (or Docker v2) image layer over a rootfs that holds the layers below it, as the
// image spec's layer.md says: entries are added or replace what is there, and whiteouts remove
// what lower layers put there:
// - `DIR/.wh.NAME` removes DIR/NAME (and everything below it) from the lower layers;
// - `DIR/.wh..wh..opq` makes DIR opaque: everything lower layers put inside DIR goes;
// - whiteouts apply to lower layers only: what this layer adds stays, whatever the entry order;
// - whiteout entries themselves are never created, and no other node may have a `.wh.` name.
// The safety is the extractor's (extractOver): every path is resolved beneath the rootfs without
// following symlinks; a whiteout under a symlink is refused, never followed.
// The DiffID (digest of the uncompressed tar) is computed in the same pass and checked against
// the config's rootfs.diff_ids entry; on a mismatch the caller must discard the tree.
import { closeSync, fstatSync, lstatSync, openSync, readSync, renameSync, rmSync, type BigIntStats } from 'node:fs';
import type { NodeMeta } from '../extract/file-write.js';
import * as libc from '../../../native/src/libc.js';
import { ResultAsync, ok, err, type Result } from '../result.js';
import { describeErrno, ErrorCodes, tspodError, type TspodError } from '../errors.js';
import type { TarEntry } from '../core/tar.js';
import { extractArchive, extractOver, type EntryRoute, type ExtractOptions } from '../extract/extract.js';
import { compressionOf, type Compression } from '../extract/input.js';
import { DirResolver, splitParent } from '../extract/dir-resolver.js';
import type { ExtractLimits } from '../extract/limits.js';
import { formatDigest, parseDigest, type Digest } from './digest.js';

export const WHITEOUT_PREFIX = '.wh.';
export const OPAQUE_WHITEOUT = '.wh..wh..opq';
/** aufs bookkeeping names (`.wh..wh.plnk`, `.wh..wh.aufs`) that some old layers carry: ignored, as Docker does. */
const AUFS_META_PREFIX = '.wh..wh.';

/** Layer media types and the compression each allows (Docker's gzip type is also seen uncompressed). */
const LAYER_MEDIA_TYPES: ReadonlyMap<string, readonly Compression[]> = new Map([
  ['application/vnd.oci.image.layer.v1.tar', ['none']],
  ['application/vnd.oci.image.layer.v1.tar+gzip', ['gzip']],
  ['application/vnd.oci.image.layer.v1.tar+zstd', ['zstd']],
  ['application/vnd.oci.image.layer.nondistributable.v1.tar', ['none']],
  ['application/vnd.oci.image.layer.nondistributable.v1.tar+gzip', ['gzip']],
  ['application/vnd.oci.image.layer.nondistributable.v1.tar+zstd', ['zstd']],
  ['application/vnd.docker.image.rootfs.diff.tar.gzip', ['gzip', 'none']],
  ['application/vnd.docker.image.rootfs.foreign.diff.tar.gzip', ['gzip', 'none']],
]);

/** Without a media type, what a layer may be. */
const ANY_LAYER: readonly Compression[] = ['none', 'gzip', 'zstd'];

export interface ApplyLayerOptions {
  /** Expected DiffID (`sha256:<hex>`, from the config's rootfs.diff_ids): the digest of the uncompressed tar. */
  readonly diffId?: string;
  /** The descriptor's media type; when given, the blob's compression must be the one it names. */
  readonly mediaType?: string;
  readonly limits?: Partial<ExtractLimits>;
  /** Writer threads for small files (the extractor's default when absent). */
  readonly writers?: number;
}

export interface AppliedLayer {
  /** The layer's DiffID as computed: `sha256:<hex>` (or sha512 when the expected one is). */
  readonly diffId: string;
  readonly compression: Compression;
  readonly entries: number;
}

/**
 * Extracts the layer blob at layerPath over rootfs (which holds the lower layers), applying its
 * whiteouts. Fails on a DiffID mismatch, a hostile entry or an unknown media type; after a failure
 * the rootfs is in an undefined state and must be discarded.
 */
export function applyLayer(layerPath: string, rootfs: string, opts: ApplyLayerOptions = {}): ResultAsync<AppliedLayer, TspodError> {
  return new ResultAsync(apply(layerPath, rootfs, opts));
}

/** The checks before a layer is read: a valid expected DiffID, a known media type, matching compression. */
function checkLayer(layerPath: string, opts: ApplyLayerOptions, what: string): Result<Digest | undefined, TspodError> {
  let expected: Digest | undefined;
  if (opts.diffId !== undefined) {
    const d = parseDigest(opts.diffId);
    if (d.isErr()) return err(tspodError(ErrorCodes.IMAGE_INVALID, what, `its expected DiffID is invalid: ${d.error.why}`, d.error.hint));
    expected = d.value;
  }
  const allowed = opts.mediaType === undefined ? ANY_LAYER : LAYER_MEDIA_TYPES.get(opts.mediaType);
  if (!allowed) {
    return err(tspodError(ErrorCodes.UNSUPPORTED, what, `the layer media type ${JSON.stringify(opts.mediaType)} is not supported`,
      `tspod applies ${[...LAYER_MEDIA_TYPES.keys()].join(', ')}`));
  }
  const sniffed = sniff(layerPath, what);
  if (sniffed.isErr()) return err(sniffed.error);
  if (!allowed.includes(sniffed.value)) {
    const why = opts.mediaType === undefined
      ? `it is ${sniffed.value}-compressed; a layer is a tar, plain, gzip or zstd`
      : `it is ${sniffed.value === 'none' ? 'not compressed' : `${sniffed.value}-compressed`} but its media type is ${opts.mediaType}`;
    return err(tspodError(ErrorCodes.IMAGE_INVALID, what, why, 'the image is malformed; fetch it again from a trusted source'));
  }
  return ok(expected);
}

function diffIdMismatch(what: string, diffId: string, expected: Digest): TspodError {
  return tspodError(ErrorCodes.IMAGE_INVALID, what, `its DiffID is ${diffId}, not the ${formatDigest(expected)} the image config lists`,
    'the layer is corrupt or was tampered with; discard the tree and fetch the image again');
}

async function apply(layerPath: string, rootfs: string, opts: ApplyLayerOptions): Promise<Result<AppliedLayer, TspodError>> {
  const what = `apply layer ${layerPath}`;
  const checked = checkLayer(layerPath, opts, what);
  if (checked.isErr()) return err(checked.error);
  const expected = checked.value;
  const algorithm = expected?.algorithm ?? 'sha256';
  const options: ExtractOptions = {
    digest: algorithm,
    ...(opts.limits ? { limits: opts.limits } : {}),
    ...(opts.writers !== undefined ? { writers: opts.writers } : {}),
  };
  const times = LowerDirTimes.open(rootfs, what);
  if (times.isErr()) return err(times.error);
  let summary;
  try {
    summary = await extractOver(layerPath, rootfs, { ...options, route: (e) => times.value.route(e) });
    if (summary.isOk()) {
      const restored = times.value.restore();
      if (restored) return err(restored);
    }
  } finally {
    times.value.close();
  }
  if (summary.isErr()) return err(summary.error);
  const diffId = formatDigest({ algorithm, encoded: summary.value.digest! });
  if (expected && expected.encoded !== summary.value.digest) return err(diffIdMismatch(what, diffId, expected));
  return ok({ diffId, compression: summary.value.compression, entries: summary.value.entries });
}

/**
 * overlayfs' spelling of whiteouts, for a layer kept as its own directory (a lower dir): a removed
 * name becomes a 0/0 character device, an opaque directory gets trusted.overlay.opaque=y.
 */
export function overlayRoute(e: TarEntry): EntryRoute {
  const r = routeLayerEntry(e);
  if (r.kind !== 'whiteout') return r;
  if (r.opaque) return { kind: 'dir-xattr', path: r.path, name: 'trusted.overlay.opaque', value: Buffer.from('y') };
  return { kind: 'write', entry: { ...e, type: 'char', path: r.path, devMajor: 0, devMinor: 0, mode: 0, size: 0, linkTarget: '', xattrs: [] } };
}

/**
 * Renders one layer, alone, into a new directory `dir` in overlayfs' lower-dir format (the layers of
 * an image are then stacked by an overlay mount, so each layer is rendered once and shared).
 * `dir` appears only when complete and its DiffID checked.
 */
/**
 * What a directory looks like in the layers below (top first): the attributes overlayfs would
 * show for it. A layer that has a non-directory on the way (a whiteout, a file, a symlink) hides
 * the ones below, so the search stops there.
 */
export function lowerDirMeta(lowerDirs: readonly string[]): (rel: string) => NodeMeta | undefined {
  return (rel) => {
    const parts = rel === '.' ? [] : rel.split('/');
    for (const lower of lowerDirs) {
      let path = lower;
      let st = statDir(path);
      for (const part of parts) {
        if (st === 'absent') break;
        if (st === 'other') return undefined;
        path = `${path}/${part}`;
        st = statDir(path);
      }
      if (st === 'other') return undefined;
      if (st !== 'absent') {
        return { mode: Number(st.mode & 0o7777n), uid: Number(st.uid), gid: Number(st.gid),
          mtimeSec: Number(st.mtimeNs / 1_000_000_000n), mtimeNsec: Number(st.mtimeNs % 1_000_000_000n), xattrs: [] };
      }
    }
    return undefined;
  };
}

function statDir(path: string): BigIntStats | 'absent' | 'other' {
  try {
    const st = lstatSync(path, { bigint: true });
    return st.isDirectory() ? st : 'other';
  } catch {
    return 'absent';
  }
}

export function renderLayerDir(
  layerPath: string, dir: string, opts: ApplyLayerOptions & { lowerDirs?: readonly string[] } = {},
): ResultAsync<AppliedLayer, TspodError> {
  return new ResultAsync((async (): Promise<Result<AppliedLayer, TspodError>> => {
    const what = `render layer ${layerPath}`;
    const checked = checkLayer(layerPath, opts, what);
    if (checked.isErr()) return err(checked.error);
    const expected = checked.value;
    const algorithm = expected?.algorithm ?? 'sha256';
    const staging = `${dir}.rendering-${process.pid}`;
    const summary = await extractArchive(layerPath, staging, {
      digest: algorithm, route: overlayRoute,
      ...(opts.lowerDirs && opts.lowerDirs.length > 0 && { implicitDirMeta: lowerDirMeta(opts.lowerDirs) }),
      ...(opts.limits ? { limits: opts.limits } : {}), ...(opts.writers !== undefined ? { writers: opts.writers } : {}),
    });
    if (summary.isErr()) return err(summary.error);
    const diffId = formatDigest({ algorithm, encoded: summary.value.digest! });
    if (expected && expected.encoded !== summary.value.digest) {
      rmSync(staging, { recursive: true, force: true });
      return err(diffIdMismatch(what, diffId, expected));
    }
    try {
      renameSync(staging, dir);
    } catch {
      // Another process rendered the same layer meanwhile: theirs is as good.
      rmSync(staging, { recursive: true, force: true });
    }
    return ok({ diffId, compression: summary.value.compression, entries: summary.value.entries });
  })());
}

/**
 * A layer lists the directories it changes; one it does not list keeps the lower layer's times
 * even when entries are added to it or removed from it (as umoci applies layers). So the times of
 * every directory on the way to an entry are read before the entry is applied, and put back at the
 * end on those the layer has no entry for. Everything is reached through fds resolved beneath the
 * rootfs without symlinks, as the extractor does.
 */
class LowerDirTimes {
  /** Directories seen on the way to entries: their mtime before this layer, or null if they were not there. */
  private readonly seen = new Map<string, bigint | null>();
  /** Directories this layer has entries for: the extractor gives them the layer's times. */
  private readonly listed = new Set<string>();
  private readonly resolver: DirResolver;

  private constructor(private readonly rootFd: number, private readonly rootfs: string, private readonly what: string) {
    this.resolver = new DirResolver(rootFd);
  }

  static open(rootfs: string, what: string): Result<LowerDirTimes, TspodError> {
    const fd = libc.openat(-100, rootfs, libc.O_PATH | libc.O_DIRECTORY | libc.O_CLOEXEC);
    if (fd < 0) {
      return err(tspodError(ErrorCodes.IO, what, `cannot open the rootfs ${rootfs}: ${libc.errnoName(fd)}`, 'check that the rootfs directory exists'));
    }
    return ok(new LowerDirTimes(fd, rootfs, what));
  }

  route(e: TarEntry): EntryRoute {
    const r = routeLayerEntry(e);
    if (r.kind === 'refuse') return r;
    if (e.type === 'dir' && r.kind === 'write') this.listed.add(e.path);
    this.record(e.path);
    return r;
  }

  private record(path: string): void {
    let opened = false;
    const parts = path === '.' ? [] : path.split('/');
    for (let i = 0; i < parts.length; i++) {
      const dir = i === 0 ? '.' : parts.slice(0, i).join('/');
      if (this.seen.has(dir)) continue;
      const fd = this.resolver.open(dir);
      opened = true;
      const mtime = fd >= 0 ? fstatSync(fd, { bigint: true }).mtimeNs : null;
      this.seen.set(dir, mtime);
      if (mtime === null) break;
    }
    // The extractor removes and replaces directories: no fd is kept from one entry to the next.
    if (opened) this.resolver.invalidate();
  }

  /** Puts the lower times back on the directories the layer does not list. */
  restore(): TspodError | undefined {
    this.resolver.invalidate();
    for (const [dir, mtime] of this.seen) {
      if (mtime === null || this.listed.has(dir)) continue;
      const sec = Number(mtime / 1_000_000_000n);
      const nsec = Number(mtime % 1_000_000_000n);
      if (dir === '.') {
        const r = libc.lutimesat(-100, this.rootfs, sec, nsec);
        if (r < 0) return this.failed(dir, r);
        continue;
      }
      const [parent, name] = splitParent(dir);
      const pfd = this.resolver.open(parent);
      if (pfd < 0) continue; // removed by this layer
      const fd = libc.openat(pfd, name, libc.O_PATH | libc.O_NOFOLLOW | libc.O_CLOEXEC);
      if (fd < 0) continue;
      let isDir: boolean;
      try {
        isDir = fstatSync(fd).isDirectory();
      } finally {
        libc.close(fd);
      }
      if (!isDir) continue;
      const r = libc.lutimesat(pfd, name, sec, nsec);
      if (r < 0) return this.failed(dir, r);
    }
    return undefined;
  }

  private failed(dir: string, r: number): TspodError {
    return tspodError(ErrorCodes.IO, this.what, `cannot restore the times of ${dir}: ${libc.errnoName(r)}`, 'check permissions on the rootfs');
  }

  close(): void {
    this.resolver.close();
    libc.close(this.rootFd);
  }
}

/** The blob's compression from its magic bytes; a symlink or non-file is refused. */
function sniff(layerPath: string, what: string): Result<Compression, TspodError> {
  let fd: number | undefined;
  try {
    const st = lstatSync(layerPath);
    if (!st.isFile()) {
      return err(tspodError(ErrorCodes.IMAGE_INVALID, what, `it is ${st.isSymbolicLink() ? 'a symlink' : 'not a regular file'}; layers must be regular files`,
        'the image layout is malformed or hostile; do not use it'));
    }
    fd = openSync(layerPath, 'r');
    const head = Buffer.alloc(6);
    const n = readSync(fd, head, 0, head.length, 0);
    return ok(compressionOf(head.subarray(0, n)));
  } catch (e) {
    return err(tspodError(ErrorCodes.IO, what, describeErrno(e), 'check that the layer blob exists and is readable', e));
  } finally {
    if (fd !== undefined) closeSync(fd);
  }
}

/** Routes one layer entry: whiteouts become removals, everything else is written as it is. */
export function routeLayerEntry(e: TarEntry): EntryRoute {
  if (e.path === '.') return { kind: 'write', entry: e };
  const [parent, name] = splitParent(e.path);
  if (parent !== '.' && parent.split('/').some((p) => p.startsWith(WHITEOUT_PREFIX))) {
    return { kind: 'refuse', why: `a directory named ${WHITEOUT_PREFIX}* cannot exist in a layer (it is a whiteout name)` };
  }
  if (!name.startsWith(WHITEOUT_PREFIX)) return { kind: 'write', entry: e };
  // aufs made whiteouts hard links of one another, so Docker layers may carry them as links.
  if (e.type !== 'file' && e.type !== 'hardlink') return { kind: 'refuse', why: `a whiteout must be a regular file, not a ${e.type}` };
  if (name === OPAQUE_WHITEOUT) return { kind: 'whiteout', path: parent, opaque: true };
  if (name.startsWith(AUFS_META_PREFIX)) return { kind: 'skip' };
  const victim = name.slice(WHITEOUT_PREFIX.length);
  if (victim === '' || victim === '.' || victim === '..') {
    return { kind: 'refuse', why: `the whiteout names ${JSON.stringify(victim)}, which is not an entry of its directory` };
  }
  return { kind: 'whiteout', path: parent === '.' ? victim : `${parent}/${victim}`, opaque: false };
}
