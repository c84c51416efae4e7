// `tspod image build`: a deterministic ACI from a layout directory (`manifest` + `rootfs/`).
//
// The same layout always gives the same bytes, so the same image ID:
// - entries in a fixed order: `manifest` first, then `rootfs/` depth first with the names of each
//   directory sorted bytewise (what `tar --sort=name` does);
// - the manifest stored byte for byte as it is in the layout (actool re-serialises it);
// - metadata from the files only: mode (setuid/setgid/sticky kept), numeric uid/gid, no user or
//   group names (they depend on the building host), mtime in whole seconds (sub-second parts
//   are dropped: they are noise that would make every copy of a tree a different image);
// - POSIX ustar headers, with PAX records only where ustar cannot hold a value (names or link
//   targets over 100 bytes, ids over 2097151, sizes over 8 GiB, times outside 1970..2242,
//   xattrs as SCHILY.xattr.*), all under one fixed header name and in a fixed key order;
// - gzip through node:zlib, whose header carries no name and a zero mtime.
// The image ID is `sha512-` + SHA-512 of the uncompressed tar, hashed while it is written.
// The ACI is written to a temporary file beside the output and moved into place when complete.
import { createHash, randomBytes } from 'node:crypto';
import {
  closeSync, fsyncSync, fstatSync, linkSync, lstatSync, openSync, readdirSync, readlinkSync,
  readSync, realpathSync, renameSync, statSync, unlinkSync, constants as fsConstants, type BigIntStats,
} from 'node:fs';
import { open, type FileHandle } from 'node:fs/promises';
import { createRequire } from 'node:module';
import { basename, dirname, join, resolve, sep } from 'node:path';
import { pipeline } from 'node:stream/promises';
import { createGzip } from 'node:zlib';
import { ErrorCodes, describeErrno, tspodError, type TspodError } from '../errors.js';
import { err, ok, ResultAsync, type Result } from '../result.js';
import { checkImageManifest, MAX_MANIFEST_BYTES, type ImageManifest, type ManifestProblem } from './manifest.js';
import { imageIdFromDigest } from './types.js';

export interface BuildOptions {
  /** gzip the ACI (the image ID is of the uncompressed tar either way). */
  readonly compress: boolean;
  /** Replace an existing output file. */
  readonly overwrite: boolean;
}

export interface BuildResult {
  /** `sha512-` + 128 hex digits. */
  readonly imageId: string;
  readonly manifest: ImageManifest;
  /** Manifest warnings (valid, but worth telling the user). */
  readonly warnings: readonly ManifestProblem[];
  /** Entries in the tar, the manifest and rootfs/ included. */
  readonly entries: number;
  /** Size of the uncompressed tar. */
  readonly tarBytes: number;
}

/**
 * The layout is not an ACI layout (extra top-level entry, missing or mistyped manifest/rootfs).
 */
const LAYOUT_INVALID = ErrorCodes.IMAGE_INVALID;

const BLOCK = 512;
const CHUNK = 1 << 20;
const PAX_HEADER_NAME = Buffer.from('././@PaxHeader');
const MAX_OCTAL_7 = 0o7777777;
const MAX_OCTAL_11 = 0o77777777777;
/** xattrs that describe the building host, not the image. */
const SKIPPED_XATTRS = new Set(['security.selinux']);

/** Carries a TspodError out of the tar generator through the stream pipeline. */
class BuildFailure extends Error {
  constructor(readonly error: TspodError) {
    super(error.why);
  }
}

// ---------------------------------------------------------------------------------------------
// tar headers

interface Entry {
  /** Path in the archive, a trailing '/' for directories. */
  readonly name: Buffer;
  readonly type: '0' | '1' | '2' | '3' | '4' | '5' | '6';
  readonly mode: number;
  readonly uid: number;
  readonly gid: number;
  readonly size: number;
  readonly mtime: bigint;
  readonly linkname?: Buffer;
  readonly devmajor?: number;
  readonly devminor?: number;
  readonly xattrs?: ReadonlyArray<readonly [string, Buffer]>;
}

function writeString(block: Buffer, offset: number, width: number, value: Buffer): void {
  value.copy(block, offset, 0, Math.min(width, value.length));
}

/** Zero-padded octal and a NUL, as GNU tar writes numeric fields. */
function writeOctal(block: Buffer, offset: number, width: number, value: number | bigint): void {
  block.write(value.toString(8).padStart(width - 1, '0') + '\0', offset, width, 'latin1');
}

/** One PAX record: "<len> <key>=<value>\n", where len counts the whole record. */
function paxRecord(key: string, value: Buffer): Buffer {
  const body = Buffer.concat([Buffer.from(` ${key}=`, 'utf8'), value, Buffer.from('\n')]);
  let len = body.length + 1;
  while (String(len).length + body.length !== len) len = String(len).length + body.length;
  return Buffer.concat([Buffer.from(String(len)), body]);
}

function isUtf8(b: Buffer): boolean {
  try {
    new TextDecoder('utf-8', { fatal: true }).decode(b);
    return true;
  } catch {
    return false;
  }
}

function ustarHeader(e: {
  name: Buffer; mode: number; uid: number; gid: number; size: number; mtime: bigint; type: string;
  linkname?: Buffer | undefined; devmajor?: number | undefined; devminor?: number | undefined;
}): Buffer {
  const h = Buffer.alloc(BLOCK);
  writeString(h, 0, 100, e.name);
  writeOctal(h, 100, 8, e.mode);
  writeOctal(h, 108, 8, e.uid);
  writeOctal(h, 116, 8, e.gid);
  writeOctal(h, 124, 12, e.size);
  writeOctal(h, 136, 12, e.mtime);
  h.fill(0x20, 148, 156);
  h.write(e.type, 156, 1, 'latin1');
  if (e.linkname) writeString(h, 157, 100, e.linkname);
  h.write('ustar\0' + '00', 257, 8, 'latin1');
  writeOctal(h, 329, 8, e.devmajor ?? 0);
  writeOctal(h, 337, 8, e.devminor ?? 0);
  let sum = 0;
  for (let i = 0; i < BLOCK; i++) sum += h[i]!;
  h.write(sum.toString(8).padStart(6, '0') + '\0 ', 148, 8, 'latin1');
  return h;
}

/** The header block(s) of an entry: a PAX header first when ustar cannot hold a value. */
function encodeHeader(e: Entry): Result<Buffer, string> {
  const records: Buffer[] = [];
  const binary = !isUtf8(e.name) || (e.linkname !== undefined && !isUtf8(e.linkname));
  const needsPath = e.name.length > 100;
  const needsLink = e.linkname !== undefined && e.linkname.length > 100;
  if (binary && (needsPath || needsLink)) records.push(paxRecord('hdrcharset', Buffer.from('BINARY')));
  if (needsPath) records.push(paxRecord('path', e.name));
  if (needsLink) records.push(paxRecord('linkpath', e.linkname!));
  if (e.uid > MAX_OCTAL_7) records.push(paxRecord('uid', Buffer.from(String(e.uid))));
  if (e.gid > MAX_OCTAL_7) records.push(paxRecord('gid', Buffer.from(String(e.gid))));
  if (e.size > MAX_OCTAL_11) records.push(paxRecord('size', Buffer.from(String(e.size))));
  const mtimeFits = e.mtime >= 0n && e.mtime <= BigInt(MAX_OCTAL_11);
  if (!mtimeFits) records.push(paxRecord('mtime', Buffer.from(String(e.mtime))));
  for (const [name, value] of e.xattrs ?? []) records.push(paxRecord(`SCHILY.xattr.${name}`, value));
  if ((e.devmajor ?? 0) > MAX_OCTAL_7 || (e.devminor ?? 0) > MAX_OCTAL_7) {
    return err(`its device number ${e.devmajor}:${e.devminor} does not fit a tar header`);
  }
  const header = ustarHeader({
    name: e.name,
    mode: e.mode,
    uid: e.uid > MAX_OCTAL_7 ? 0 : e.uid,
    gid: e.gid > MAX_OCTAL_7 ? 0 : e.gid,
    size: e.size > MAX_OCTAL_11 ? 0 : e.size,
    mtime: mtimeFits ? e.mtime : 0n,
    type: e.type,
    linkname: e.linkname,
    devmajor: e.devmajor,
    devminor: e.devminor,
  });
  if (records.length === 0) return ok(header);
  const pax = Buffer.concat(records);
  const paxHeader = ustarHeader({ name: PAX_HEADER_NAME, mode: 0o644, uid: 0, gid: 0, size: pax.length, mtime: 0n, type: 'x' });
  return ok(Buffer.concat([paxHeader, pax, Buffer.alloc(padding(pax.length)), header]));
}

function padding(size: number): number {
  return (BLOCK - (size % BLOCK)) % BLOCK;
}

// ---------------------------------------------------------------------------------------------
// xattrs through libc (Node's fs has no xattr calls); koffi is loaded on the first build only.

interface XattrCalls {
  list(path: Buffer, out: Buffer | null, size: number): number;
  get(path: Buffer, name: Buffer, out: Buffer | null, size: number): number;
  errno(): number;
}

let xattrCalls: XattrCalls | undefined;

function xattrLib(): XattrCalls {
  if (xattrCalls) return xattrCalls;
  const require = createRequire(import.meta.url);
  const koffi = require('koffi');
  const lib = koffi.load('libc.so.6');
  const list = lib.func('long llistxattr(const uint8_t *, _Out_ uint8_t *, size_t)');
  const get = lib.func('long lgetxattr(const uint8_t *, const uint8_t *, _Out_ uint8_t *, size_t)');
  xattrCalls = {
    list: (p, out, size) => Number(list(p, out, size)),
    get: (p, n, out, size) => Number(get(p, n, out, size)),
    errno: () => koffi.errno() as number,
  };
  return xattrCalls;
}

const ERANGE = 34;
const NO_XATTR_SUPPORT = new Set([95 /* EOPNOTSUPP */, 61 /* ENODATA */]);

/** The xattrs of a path (not followed), sorted by name; or an errno description. */
function readXattrs(path: Buffer): Result<Array<[string, Buffer]>, string> {
  const x = xattrLib();
  const cpath = Buffer.concat([path, Buffer.from([0])]);
  let names: Buffer | undefined;
  for (let attempt = 0; attempt < 5 && names === undefined; attempt++) {
    const n = x.list(cpath, null, 0);
    if (n < 0) {
      const e = x.errno();
      return NO_XATTR_SUPPORT.has(e) ? ok([]) : err(`llistxattr: errno ${e}`);
    }
    if (n === 0) return ok([]);
    const buf = Buffer.alloc(n);
    const got = x.list(cpath, buf, n);
    if (got >= 0) names = buf.subarray(0, got);
    else if (x.errno() !== ERANGE) return err(`llistxattr: errno ${x.errno()}`);
  }
  if (names === undefined) return err('llistxattr: the list kept changing');
  const out: Array<[string, Buffer]> = [];
  for (const raw of names.toString('latin1').split('\0').filter(Boolean)) {
    const name = Buffer.from(raw, 'latin1').toString('utf8');
    if (SKIPPED_XATTRS.has(name)) continue;
    const cname = Buffer.from(raw + '\0', 'latin1');
    let value: Buffer | undefined;
    for (let attempt = 0; attempt < 5 && value === undefined; attempt++) {
      const n = x.get(cpath, cname, null, 0);
      if (n < 0) {
        const e = x.errno();
        if (NO_XATTR_SUPPORT.has(e)) break; // removed meanwhile
        return err(`lgetxattr ${name}: errno ${e}`);
      }
      const buf = Buffer.alloc(n);
      const got = n === 0 ? 0 : x.get(cpath, cname, buf, n);
      if (got >= 0) value = buf.subarray(0, got);
      else if (x.errno() !== ERANGE) return err(`lgetxattr ${name}: errno ${x.errno()}`);
    }
    if (value !== undefined) out.push([name, value]);
  }
  out.sort((a, b) => Buffer.compare(Buffer.from(a[0]), Buffer.from(b[0])));
  return ok(out);
}

// ---------------------------------------------------------------------------------------------
// The layout

function ioError(what: string, path: string, e: unknown): TspodError {
  const code = (e as NodeJS.ErrnoException | undefined)?.code;
  const hint = code === 'ENOENT' ? 'check the path'
    : code === 'EACCES' || code === 'EPERM' ? 'run as a user who may read the whole layout (usually root)'
      : 'check that the path exists and can be read';
  return tspodError(ErrorCodes.IO, what, `${path}: ${describeErrno(e)}`, hint, e);
}

interface Layout {
  readonly dir: string;
  readonly manifestBytes: Buffer;
  readonly manifestStat: BigIntStats;
  readonly manifest: ImageManifest;
  readonly warnings: readonly ManifestProblem[];
}

function readManifestFile(path: string, what: string): Result<{ bytes: Buffer; stat: BigIntStats }, TspodError> {
  let fd: number | undefined;
  try {
    fd = openSync(path, fsConstants.O_RDONLY | fsConstants.O_NOFOLLOW);
    const stat = fstatSync(fd, { bigint: true });
    // One byte over the limit is enough for the parser to say the manifest is too big.
    const want = Math.min(Number(stat.size), MAX_MANIFEST_BYTES + 1);
    const bytes = Buffer.alloc(want);
    let got = 0;
    while (got < want) {
      const n = readSync(fd, bytes, got, want - got, null);
      if (n === 0) break;
      got += n;
    }
    return ok({ bytes: bytes.subarray(0, got), stat });
  } catch (e) {
    return err(ioError(what, path, e));
  } finally {
    if (fd !== undefined) closeSync(fd);
  }
}

/** Checks that dir holds exactly a regular `manifest` and a `rootfs` directory, and a valid manifest. */
function readLayout(dir: string): Result<Layout, TspodError> {
  const what = `build an ACI from ${dir}`;
  const layoutHint = 'an ACI layout holds exactly two entries: a `manifest` file (the image manifest, JSON) and a `rootfs` directory';
  let names: Buffer[];
  try {
    const st = statSync(dir); // the layout itself may be reached through a symlink; nothing inside it may
    if (!st.isDirectory()) return err(tspodError(LAYOUT_INVALID, what, `${dir} is not a directory`, layoutHint));
    names = readdirSync(dir, { encoding: 'buffer' });
  } catch (e) {
    return err(ioError(what, dir, e));
  }
  const extra = names.map((n) => n.toString('utf8')).filter((n) => n !== 'manifest' && n !== 'rootfs').sort();
  if (extra.length > 0) {
    const list = extra.map((n) => JSON.stringify(n)).join(', ');
    return err(tspodError(LAYOUT_INVALID, what,
      `the layout has ${extra.length === 1 ? 'an unexpected top-level entry' : 'unexpected top-level entries'} ${list}`,
      `move ${extra.length === 1 ? 'it' : 'them'} into rootfs/ or out of the layout: ${layoutHint}`));
  }
  const manifestPath = join(dir, 'manifest');
  const rootfsPath = join(dir, 'rootfs');
  try {
    const m = lstatSync(manifestPath, { throwIfNoEntry: false });
    if (!m) return err(tspodError(LAYOUT_INVALID, what, `the layout has no manifest file (${manifestPath})`, layoutHint));
    if (!m.isFile()) return err(tspodError(LAYOUT_INVALID, what, `${manifestPath} is not a regular file`, layoutHint));
    const r = lstatSync(rootfsPath, { throwIfNoEntry: false });
    if (!r) return err(tspodError(LAYOUT_INVALID, what, `the layout has no rootfs directory (${rootfsPath})`, layoutHint));
    if (!r.isDirectory()) return err(tspodError(LAYOUT_INVALID, what, `${rootfsPath} is not a directory${r.isSymbolicLink() ? ' (it is a symlink)' : ''}`, layoutHint));
  } catch (e) {
    return err(ioError(what, dir, e));
  }
  return readManifestFile(manifestPath, what).andThen(({ bytes, stat }) =>
    checkImageManifest(bytes, manifestPath).map(({ manifest, warnings }) => ({
      dir, manifestBytes: bytes, manifestStat: stat, manifest, warnings,
    })));
}

// ---------------------------------------------------------------------------------------------
// Walking rootfs and producing the tar stream

function devMajor(rdev: bigint): number {
  return Number(((rdev >> 8n) & 0xfffn) | ((rdev >> 32n) & ~0xfffn));
}

function devMinor(rdev: bigint): number {
  return Number((rdev & 0xffn) | ((rdev >> 12n) & ~0xffn));
}

function mtimeSeconds(st: BigIntStats): bigint {
  // Floor division, also before 1970.
  const ns = st.mtimeNs;
  const s = ns / 1_000_000_000n;
  return ns < 0n && s * 1_000_000_000n !== ns ? s - 1n : s;
}

function joinBuf(a: Buffer, b: Buffer): Buffer {
  return Buffer.concat([a, Buffer.from('/'), b]);
}

interface TarStats {
  entries: number;
  bytes: number;
}

/**
 * Yields the uncompressed tar in chunks of about 1 MiB, updating `hash` with every byte.
 * Failures are thrown as BuildFailure.
 */
async function* tarStream(layout: Layout, hash: ReturnType<typeof createHash>, stats: TarStats): AsyncGenerator<Buffer> {
  const what = `build an ACI from ${layout.dir}`;
  const pending: Buffer[] = [];
  let pendingBytes = 0;
  const push = (b: Buffer): void => {
    pending.push(b);
    pendingBytes += b.length;
    stats.bytes += b.length;
  };
  const flush = (): Buffer | undefined => {
    if (pendingBytes === 0) return undefined;
    const out = pending.length === 1 ? pending[0]! : Buffer.concat(pending, pendingBytes);
    pending.length = 0;
    pendingBytes = 0;
    hash.update(out);
    return out;
  };
  const header = (e: Entry, fsPath: string): void => {
    const encoded = encodeHeader(e);
    if (encoded.isErr()) {
      throw new BuildFailure(tspodError(ErrorCodes.TAR_LIMIT, what, `${fsPath}: ${encoded.error}`, 'remove the node from rootfs'));
    }
    push(encoded.value);
    stats.entries++;
  };
  const xattrsOf = (fsPath: Buffer): Array<[string, Buffer]> => {
    const x = readXattrs(fsPath);
    if (x.isErr()) throw new BuildFailure(tspodError(ErrorCodes.IO, what, `${fsPath.toString()}: ${x.error}`, 'check that the layout can be read'));
    return x.value;
  };

  // The manifest, as it is in the layout.
  const m = layout.manifestStat;
  const manifestFs = Buffer.from(join(layout.dir, 'manifest'));
  header({
    name: Buffer.from('manifest'), type: '0', mode: Number(m.mode & 0o7777n), uid: Number(m.uid), gid: Number(m.gid),
    size: layout.manifestBytes.length, mtime: mtimeSeconds(m), xattrs: xattrsOf(manifestFs),
  }, manifestFs.toString());
  push(layout.manifestBytes);
  push(Buffer.alloc(padding(layout.manifestBytes.length)));

  // rootfs, depth first, names sorted bytewise in each directory.
  const hardlinks = new Map<string, Buffer>();
  const stack: Array<{ fs: Buffer; name: Buffer }> = [{ fs: Buffer.from(join(layout.dir, 'rootfs')), name: Buffer.from('rootfs') }];
  while (stack.length > 0) {
    const { fs: fsPath, name } = stack.pop()!;
    const shown = fsPath.toString();
    let st: BigIntStats;
    try {
      st = lstatSync(fsPath, { bigint: true });
    } catch (e) {
      throw new BuildFailure(ioError(what, shown, e));
    }
    const base = {
      mode: Number(st.mode & 0o7777n), uid: Number(st.uid), gid: Number(st.gid), mtime: mtimeSeconds(st),
    };
    if (st.isDirectory()) {
      header({ ...base, name: Buffer.concat([name, Buffer.from('/')]), type: '5', size: 0, xattrs: xattrsOf(fsPath) }, shown);
      let children: Buffer[];
      try {
        children = readdirSync(fsPath, { encoding: 'buffer' });
      } catch (e) {
        throw new BuildFailure(ioError(what, shown, e));
      }
      children.sort(Buffer.compare);
      for (let i = children.length - 1; i >= 0; i--) {
        stack.push({ fs: joinBuf(fsPath, children[i]!), name: joinBuf(name, children[i]!) });
      }
    } else if (st.nlink > 1n && hardlinks.has(`${st.dev}:${st.ino}`)) {
      header({ ...base, name, type: '1', size: 0, linkname: hardlinks.get(`${st.dev}:${st.ino}`)! }, shown);
    } else {
      if (st.nlink > 1n) hardlinks.set(`${st.dev}:${st.ino}`, name);
      if (st.isFile()) {
        yield* regularFile(fsPath, name, st, base, xattrsOf(fsPath));
      } else if (st.isSymbolicLink()) {
        let target: Buffer;
        try {
          target = readlinkSync(fsPath, { encoding: 'buffer' });
        } catch (e) {
          throw new BuildFailure(ioError(what, shown, e));
        }
        header({ ...base, name, type: '2', size: 0, linkname: target, xattrs: xattrsOf(fsPath) }, shown);
      } else if (st.isCharacterDevice() || st.isBlockDevice()) {
        header({
          ...base, name, type: st.isCharacterDevice() ? '3' : '4', size: 0,
          devmajor: devMajor(st.rdev), devminor: devMinor(st.rdev), xattrs: xattrsOf(fsPath),
        }, shown);
      } else if (st.isFIFO()) {
        header({ ...base, name, type: '6', size: 0, xattrs: xattrsOf(fsPath) }, shown);
      } else {
        throw new BuildFailure(tspodError(ErrorCodes.IO, what, `${shown} is a socket, which a tar archive cannot hold`,
          'remove the socket from rootfs (the app creates it when it runs)'));
      }
    }
    if (pendingBytes >= CHUNK) yield flush()!;
  }
  push(Buffer.alloc(2 * BLOCK));
  const last = flush();
  if (last) yield last;

  async function* regularFile(fsPath: Buffer, name: Buffer, st: BigIntStats, base: { mode: number; uid: number; gid: number; mtime: bigint },
    xattrs: Array<[string, Buffer]>): AsyncGenerator<Buffer> {
    const shown = fsPath.toString();
    let fd: number;
    try {
      fd = openSync(fsPath, fsConstants.O_RDONLY | fsConstants.O_NOFOLLOW);
    } catch (e) {
      throw new BuildFailure(ioError(what, shown, e));
    }
    try {
      const now = fstatSync(fd, { bigint: true });
      if (now.ino !== st.ino || now.dev !== st.dev || !now.isFile()) {
        throw new BuildFailure(tspodError(ErrorCodes.IO, what, `${shown} was replaced while the layout was read`, 'build again from a layout nobody is changing'));
      }
      const size = Number(st.size);
      header({ ...base, name, type: '0', size, xattrs }, shown);
      let left = size;
      while (left > 0) {
        if (pendingBytes >= CHUNK) yield flush()!;
        const want = Math.min(left, CHUNK);
        const buf = Buffer.allocUnsafe(want);
        let got = 0;
        while (got < want) {
          const n = readSync(fd, buf, got, want - got, null);
          if (n === 0) {
            throw new BuildFailure(tspodError(ErrorCodes.IO, what, `${shown} shrank while it was read (${size} bytes expected)`,
              'build again from a layout nobody is changing'));
          }
          got += n;
        }
        push(buf);
        left -= want;
      }
      if (readSync(fd, Buffer.alloc(1), 0, 1, null) !== 0) {
        throw new BuildFailure(tspodError(ErrorCodes.IO, what, `${shown} grew while it was read (${size} bytes expected)`,
          'build again from a layout nobody is changing'));
      }
      push(Buffer.alloc(padding(size)));
    } catch (e) {
      if (e instanceof BuildFailure) throw e;
      throw new BuildFailure(ioError(what, shown, e));
    } finally {
      closeSync(fd);
    }
  }
}

// ---------------------------------------------------------------------------------------------
// Output

function isInside(child: string, parent: string): boolean {
  return child === parent || child.startsWith(parent.endsWith(sep) ? parent : parent + sep);
}

function checkOutput(layoutDir: string, outFile: string, overwrite: boolean): Result<void, TspodError> {
  const what = `build ${outFile}`;
  let outDirReal: string;
  let layoutReal: string;
  try {
    outDirReal = realpathSync(dirname(outFile));
    layoutReal = realpathSync(layoutDir);
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') {
      return err(tspodError(ErrorCodes.IO, what, `the directory ${dirname(outFile)} does not exist`, 'create it first, or write the ACI elsewhere', e));
    }
    return err(ioError(what, dirname(outFile), e));
  }
  if (isInside(outDirReal, layoutReal)) {
    return err(tspodError(ErrorCodes.IO, what, `the output would be written inside the layout ${layoutDir}`,
      'write the ACI outside the layout directory'));
  }
  const existing = lstatSync(outFile, { throwIfNoEntry: false });
  if (existing?.isDirectory()) {
    return err(tspodError(ErrorCodes.EXISTS, what, `${outFile} is a directory`, 'give the path of the .aci file to write'));
  }
  if (existing && !overwrite) {
    return err(tspodError(ErrorCodes.EXISTS, what, `${outFile} already exists`, 'pass --overwrite to replace it, or choose another file name'));
  }
  return ok(undefined);
}

function removeQuietly(path: string): void {
  try {
    unlinkSync(path);
  } catch {
    // Already gone, or never created.
  }
}

/** Moves the finished temp file into place; without overwrite, never replaces a file that appeared meanwhile. */
function publish(tmp: string, outFile: string, overwrite: boolean): Result<void, TspodError> {
  const what = `build ${outFile}`;
  try {
    if (overwrite) {
      renameSync(tmp, outFile);
    } else {
      try {
        linkSync(tmp, outFile);
        unlinkSync(tmp);
      } catch (e) {
        const code = (e as NodeJS.ErrnoException).code;
        if (code === 'EEXIST') {
          return err(tspodError(ErrorCodes.EXISTS, what, `${outFile} appeared while the image was built`, 'pass --overwrite to replace it, or choose another file name'));
        }
        if (code !== 'EPERM' && code !== 'ENOTSUP' && code !== 'EOPNOTSUPP') throw e;
        // A file system without hard links: check and rename (a narrow race remains).
        if (lstatSync(outFile, { throwIfNoEntry: false })) {
          return err(tspodError(ErrorCodes.EXISTS, what, `${outFile} appeared while the image was built`, 'pass --overwrite to replace it, or choose another file name'));
        }
        renameSync(tmp, outFile);
      }
    }
  } catch (e) {
    return err(ioError(what, outFile, e));
  }
  try {
    const dfd = openSync(dirname(outFile), fsConstants.O_RDONLY | fsConstants.O_DIRECTORY);
    try {
      fsyncSync(dfd);
    } finally {
      closeSync(dfd);
    }
  } catch {
    // Durability of the directory entry is best effort (some file systems refuse fsync on directories).
  }
  return ok(undefined);
}

/** The last stage of the pipeline: every chunk written in full to the temp file. */
function fileSink(fh: FileHandle) {
  return async (source: AsyncIterable<Buffer>): Promise<void> => {
    for await (const chunk of source) {
      let done = 0;
      while (done < chunk.length) done += (await fh.write(chunk, done, chunk.length - done)).bytesWritten;
    }
  };
}

async function writeAci(layout: Layout, outFile: string, opts: BuildOptions): Promise<Result<BuildResult, TspodError>> {
  const tmp = join(dirname(outFile), `.${basename(outFile)}.${randomBytes(6).toString('hex')}.tmp`);
  const hash = createHash('sha512');
  const stats: TarStats = { entries: 0, bytes: 0 };
  let fh: FileHandle;
  try {
    fh = await open(tmp, 'wx', 0o644);
  } catch (e) {
    return err(ioError(`build ${outFile}`, tmp, e));
  }
  try {
    // The generator feeds the pipeline directly: a Readable in between would copy every chunk.
    const source = tarStream(layout, hash, stats);
    if (opts.compress) await pipeline(source, createGzip({ chunkSize: 256 * 1024 }), fileSink(fh));
    else await pipeline(source, fileSink(fh));
    await fh.sync();
  } catch (e) {
    await fh.close().catch(() => undefined);
    removeQuietly(tmp);
    if (e instanceof BuildFailure) return err(e.error);
    return err(ioError(`build ${outFile}`, tmp, e));
  }
  try {
    await fh.close();
  } catch (e) {
    removeQuietly(tmp);
    return err(ioError(`build ${outFile}`, tmp, e));
  }
  const published = publish(tmp, outFile, opts.overwrite);
  if (published.isErr()) {
    removeQuietly(tmp);
    return err(published.error);
  }
  return ok({
    imageId: imageIdFromDigest(hash.digest('hex')),
    manifest: layout.manifest,
    warnings: layout.warnings,
    entries: stats.entries,
    tarBytes: stats.bytes,
  });
}

/**
 * Builds a deterministic ACI at outFile from the layout directory layoutDir (a `manifest` file
 * and a `rootfs` directory, nothing else; the manifest must be valid). The output appears only
 * when complete; an existing file is replaced only with `overwrite`.
 */
export function buildAci(layoutDir: string, outFile: string, opts: BuildOptions): ResultAsync<BuildResult, TspodError> {
  const dir = resolve(layoutDir);
  const out = resolve(outFile);
  const prepared = readLayout(dir).andThen((layout) => checkOutput(dir, out, opts.overwrite).map(() => layout));
  if (prepared.isErr()) return new ResultAsync(Promise.resolve(err(prepared.error)));
  const layout = prepared.value;
  return new ResultAsync(writeAci(layout, out, opts).catch((e: unknown) =>
    err(tspodError(ErrorCodes.INTERNAL, `build ${out}`, e instanceof Error ? e.message : String(e), 'please report this with --debug output', e))));
}
