// Streaming tar walker on the WASM core (core/assembly/tar.ts): bytes in, a validated entry table
// out. The core parses ustar/GNU/PAX headers and applies the lexical path policy; this wrapper
// copies chunks into the core's input region, turns its records into TarEntry objects and its
// status codes into TarWalkErrors. Data bytes never cross into JS objects: each entry carries the
// absolute stream offset of its data, and the caller slices it out of the chunks it holds.
//
// Decisions (see also the core's comments):
// - The first zero block ends the archive (GNU tar and Python stop there too); everything after
//   it, second zero block included, is ignored.
// - end() is strict: a stream that stops between entries without the end-of-archive marker is
//   'truncated', although GNU tar accepts it silently. A cut at an entry boundary is otherwise
//   undetectable, and every tar writer tspod meets writes the marker.
// - The root entry './' comes out as type 'dir', path '.'.
// - Only regular files carry data: a size on links, dirs, devices or fifos is ignored (as Python
//   and Go read it), so such entries have size 0.
// - 'g' headers set uid, gid and mtime defaults; a global path/linkpath/size/xattr is ignored.
// - Typeflags '0', '\0', '7' are files ('\0' with a trailing slash is a dir, the old convention
//   Python follows); 'V' volume labels are skipped; 'S', 'M', any other letter and PAX GNU.sparse
//   keys are 'unsupported-type'.
// - Rejected entries ('reject' set) still come out, so a caller can list them all; the walk goes on.
// - Paths are bytes in the archive; they are decoded as UTF-8 (invalid bytes become U+FFFD, which
//   can never form '/' or '..', so the policy decided on the bytes still holds).
import { ErrorCodes, tspodError, type TspodError } from '../errors.js';
import { ok, err, type Result } from '../result.js';
import { instantiateCore } from './wasm.js';

export type TarEntryType = 'file' | 'hardlink' | 'symlink' | 'char' | 'block' | 'dir' | 'fifo';
export type TarRejectReason = 'nul' | 'dotdot' | 'absolute' | 'empty' | 'link-dotdot' | 'link-absolute';

export interface TarEntry {
  type: TarEntryType;
  /** Normalized relative path, '.' for the root; the raw path when the path itself was refused. */
  path: string;
  /** As in the archive (for error messages). */
  rawPath: string;
  /** symlink: verbatim; hardlink: normalized relative path (raw when it was refused); '' otherwise. */
  linkTarget: string;
  /** Permission bits incl. setuid/setgid/sticky (07777). */
  mode: number;
  uid: number;
  gid: number;
  mtimeSec: number;
  mtimeNsec: number;
  /** Data bytes that follow in the stream (0 for non-files). */
  size: number;
  /** Absolute offset of the data in the whole stream. */
  dataOffset: number;
  devMajor: number;
  devMinor: number;
  /** From PAX SCHILY.xattr.* records; a name given twice keeps its last value. */
  xattrs: Array<[string, Buffer]>;
  /** Set when path policy refused this entry. */
  reject?: TarRejectReason;
}

export type TarWalkStatus =
  | 'bad-checksum'
  | 'truncated'
  | 'size-too-large'
  | 'negative-size'
  | 'meta-too-large'
  | 'bad-number'
  | 'unsupported-type';

export interface TarWalkError {
  status: TarWalkStatus;
  /** Stream offset of the offending header, or where the stream ended for 'truncated'. */
  offset: number;
  message: string;
  entryPath?: string;
}

export interface TarWalkerOptions {
  /** Refuse ('size-too-large') any file with more data bytes than this. Default and cap: 2^53. */
  maxEntrySize?: number;
}

/** Largest PAX/GNU long-name payload (all pending extended headers of one entry together). */
export const TAR_META_LIMIT = 1 << 20;

/** The core's raw exports (core/assembly/tar.ts). */
interface TarExports {
  readonly memory: WebAssembly.Memory;
  tar_in_ptr(): number;
  tar_in_cap(): number;
  tar_rec_ptr(): number;
  tar_rec_size(): number;
  tar_arena_ptr(): number;
  tar_feed(len: number): number;
  tar_resume(): number;
  tar_more(): number;
  tar_end(): number;
  tar_set_max_size(v: number): void;
  tar_offset(): number;
  tar_error_offset(): number;
  tar_error_field(): number;
  tar_error_name_ptr(): number;
  tar_error_name_len(): number;
}

// Record layout: must match core/assembly/tar/layout.ts (create() checks the size).
const REC_SIZE = 96;
const R_TYPE = 0;
const R_REJECT = 1;
const R_MODE = 4;
const R_UID = 8;
const R_GID = 12;
const R_SIZE = 16;
const R_DATA_OFF = 24;
const R_MTIME = 32;
const R_NSEC = 40;
const R_DEVMAJOR = 44;
const R_DEVMINOR = 48;
// Strings are u32 arena offset + u32 length pairs.
const R_RAW_OFF = 52;
const R_PATH_OFF = 60;
const R_LINK_OFF = 68;
const R_XATTR_OFF = 76;
const R_XATTR_COUNT = 80;

const ENTRY_TYPES: readonly (TarEntryType | undefined)[] = [
  undefined, 'file', 'hardlink', 'symlink', 'char', 'block', 'dir', 'fifo',
];
const REJECTS: readonly (TarRejectReason | undefined)[] = [
  undefined, 'nul', 'dotdot', 'absolute', 'empty', 'link-dotdot', 'link-absolute',
];
const FIELDS = ['', 'mode', 'uid', 'gid', 'size', 'mtime', 'devmajor', 'devminor', 'checksum'];

const TYPE_NAMES: Record<string, string> = {
  S: 'a GNU sparse file',
  M: 'a GNU multivolume continuation',
  D: 'a GNU incremental dump directory',
  N: 'an old GNU long-name record',
  A: 'a Solaris ACL record',
  X: 'an old Solaris extended header',
};

function typeflagText(code: number): string {
  const c = String.fromCharCode(code);
  const shown = code >= 0x21 && code < 0x7f ? `'${c}'` : `0x${code.toString(16).padStart(2, '0')}`;
  const name = TYPE_NAMES[c];
  return name ? `${shown} (${name})` : shown;
}

/** tar_end(): the stream stopped cleanly between entries, without the two zero blocks. */
const CORE_NO_END_MARKER = -5;

/** What a core status means: the host status and a message (field: F_* or the typeflag). */
function describe(code: number, field: number, maxSize: number): { status: TarWalkStatus; message: string } {
  const f = FIELDS[field] ?? 'numeric';
  switch (code) {
    case -1: return { status: 'bad-checksum', message: 'the header checksum does not match its contents' };
    case -2: return { status: 'truncated', message: 'the archive ends inside a header' };
    case -3: return { status: 'truncated', message: "the archive ends inside an entry's data" };
    case -4: return { status: 'truncated', message: 'the archive ends inside an extended header (L/K/x/g) or volume label' };
    case -5: return { status: 'truncated', message: 'the archive ends without its end-of-archive marker' };
    case -6: return { status: 'truncated', message: 'an extended header (L/K/x) is not followed by an entry' };
    case -7: return { status: 'size-too-large', message: 'an entry declares a size over 2^53 bytes' };
    case -8: return { status: 'size-too-large', message: `an entry is larger than the limit of ${maxSize} bytes` };
    case -9: return { status: 'negative-size', message: 'an entry declares a negative size' };
    case -10: return {
      status: 'meta-too-large',
      message: `extended headers (PAX or GNU long names) over the ${TAR_META_LIMIT} byte limit`,
    };
    case -11: return { status: 'bad-number', message: `the header's ${f} field is not a valid number` };
    case -12: return { status: 'bad-number', message: 'a PAX extended header record is malformed' };
    case -13: return { status: 'bad-number', message: `the PAX ${f} value is not a valid number` };
    case -14: return { status: 'unsupported-type', message: `entry type ${typeflagText(field)} is not supported` };
    case -15: return { status: 'unsupported-type', message: 'GNU sparse files (GNU.sparse PAX keys) are not supported' };
  }
  // Anything else is a tspod bug (the wrapper controls every argument), not a property of the input.
  throw new Error(`tspod tar core returned unknown status ${code}`);
}

export class TarWalker {
  private readonly inPtr: number;
  private readonly inCap: number;
  private readonly recPtr: number;
  private readonly arenaPtr: number;
  private bytes: Buffer;
  private view: DataView;
  private failed: TarWalkError | undefined;

  private constructor(
    private readonly x: TarExports,
    private readonly maxSize: number,
  ) {
    this.inPtr = x.tar_in_ptr();
    this.inCap = x.tar_in_cap();
    this.recPtr = x.tar_rec_ptr();
    this.arenaPtr = x.tar_arena_ptr();
    this.bytes = Buffer.from(x.memory.buffer);
    this.view = new DataView(x.memory.buffer);
  }

  static create(options: TarWalkerOptions = {}): Result<TarWalker, TspodError> {
    return instantiateCore('tar').andThen((inst) => {
      const x = inst.exports as unknown as TarExports;
      if (x.tar_rec_size() !== REC_SIZE) {
        return err(tspodError(
          ErrorCodes.CORE, 'load the WASM core module tar',
          `its entry records are ${x.tar_rec_size()} bytes, this host reads ${REC_SIZE}`,
          'rebuild tspod with `npm run build` (or reinstall it with `npm ci`)',
        ));
      }
      const wanted = options.maxEntrySize ?? 2 ** 53;
      const max = Number.isFinite(wanted) && wanted >= 0 ? Math.min(Math.floor(wanted), 2 ** 53) : 2 ** 53;
      x.tar_set_max_size(max);
      return ok(new TarWalker(x, max));
    });
  }

  /** Bytes fed so far. */
  get offset(): number {
    return this.x.tar_offset();
  }

  /** Walks the next chunk of the stream; returns the entries whose headers completed in it, in order. */
  feed(chunk: Uint8Array): Result<TarEntry[], TarWalkError> {
    const entries: TarEntry[] = [];
    const code = this.walk(chunk, entries);
    return code < 0 ? err(this.error(code)) : ok(entries);
  }

  /** Like feed() but makes no objects: the number of entries whose headers completed (benchmarks,
   * dry validation). */
  feedCount(chunk: Uint8Array): Result<number, TarWalkError> {
    const code = this.walk(chunk, undefined);
    return code < 0 ? err(this.error(code)) : ok(code);
  }

  /** The stream ended: 'truncated' unless the end-of-archive marker was seen (strict: a clean EOF
   * after the last entry's data is refused too, see the top of this file). With
   * allowMissingEndMarker that clean EOF is accepted, as GNU tar, Go and Python accept it. */
  end(options: { allowMissingEndMarker?: boolean } = {}): Result<void, TarWalkError> {
    const code = this.x.tar_end();
    if (code === CORE_NO_END_MARKER && options.allowMissingEndMarker) return ok(undefined);
    return code < 0 ? err(this.error(code)) : ok(undefined);
  }

  /** Feeds chunk in input-region pieces; returns the entry count or a negative core status. */
  private walk(chunk: Uint8Array, sink: TarEntry[] | undefined): number {
    const x = this.x;
    let count = 0;
    let off = 0;
    do {
      const n = Math.min(this.inCap, chunk.length - off);
      this.memory().set(off === 0 && n === chunk.length ? chunk : chunk.subarray(off, off + n), this.inPtr);
      let r = x.tar_feed(n);
      for (;;) {
        if (r < 0) return r;
        count += r;
        if (sink) this.readRecords(r, sink);
        if (x.tar_more() === 0) break;
        r = x.tar_resume();
      }
      off += n;
    } while (off < chunk.length);
    return count;
  }

  /** The core never grows its memory, but a grow would detach the buffer: re-make the views if so. */
  private memory(): Buffer {
    const buffer = this.x.memory.buffer;
    if (this.bytes.buffer !== buffer) {
      this.bytes = Buffer.from(buffer);
      this.view = new DataView(buffer);
    }
    return this.bytes;
  }

  private readRecords(n: number, sink: TarEntry[]): void {
    const b = this.memory();
    const v = this.view;
    for (let i = 0; i < n; i++) {
      const r = this.recPtr + i * REC_SIZE;
      const entry: TarEntry = {
        type: ENTRY_TYPES[b[r + R_TYPE]!]!,
        path: this.arenaString(r + R_PATH_OFF),
        rawPath: this.arenaString(r + R_RAW_OFF),
        linkTarget: this.arenaString(r + R_LINK_OFF),
        mode: v.getUint32(r + R_MODE, true),
        uid: v.getUint32(r + R_UID, true),
        gid: v.getUint32(r + R_GID, true),
        mtimeSec: v.getFloat64(r + R_MTIME, true),
        mtimeNsec: v.getUint32(r + R_NSEC, true),
        size: v.getFloat64(r + R_SIZE, true),
        dataOffset: v.getFloat64(r + R_DATA_OFF, true),
        devMajor: v.getUint32(r + R_DEVMAJOR, true),
        devMinor: v.getUint32(r + R_DEVMINOR, true),
        xattrs: this.readXattrs(this.arenaPtr + v.getUint32(r + R_XATTR_OFF, true), v.getUint32(r + R_XATTR_COUNT, true)),
      };
      const reject = REJECTS[b[r + R_REJECT]!];
      if (reject) entry.reject = reject;
      sink.push(entry);
    }
  }

  /** The arena string whose u32 offset and u32 length are at p. */
  private arenaString(p: number): string {
    const start = this.arenaPtr + this.view.getUint32(p, true);
    return this.bytes.toString('utf8', start, start + this.view.getUint32(p + 4, true));
  }

  /** [u32 nameLen][u32 valueLen][name][value]... in archive order; a repeated name keeps its last value. */
  private readXattrs(p: number, count: number): Array<[string, Buffer]> {
    if (count === 0) return [];
    const byName = new Map<string, Buffer>();
    for (let i = 0; i < count; i++) {
      const nl = this.view.getUint32(p, true);
      const vl = this.view.getUint32(p + 4, true);
      const name = this.bytes.toString('utf8', p + 8, p + 8 + nl);
      byName.set(name, Buffer.from(this.bytes.subarray(p + 8 + nl, p + 8 + nl + vl)));
      p += 8 + nl + vl;
    }
    return [...byName];
  }

  private error(code: number): TarWalkError {
    if (this.failed) return this.failed;
    const x = this.x;
    const { status, message } = describe(code, x.tar_error_field(), this.maxSize);
    const e: TarWalkError = { status, offset: x.tar_error_offset(), message };
    const nameLen = x.tar_error_name_len();
    if (nameLen > 0) {
      const p = x.tar_error_name_ptr();
      e.entryPath = this.memory().toString('utf8', p, p + nameLen);
    }
    // The core keeps failing with the same status; keep the same object so callers see one error.
    this.failed = e;
    return e;
  }
}

const HINTS: Record<TarWalkStatus, string> = {
  'bad-checksum': 'the archive is damaged or is not a tar archive; fetch it again and check its digest',
  truncated: 'the archive is incomplete; fetch it again (an interrupted download or a full disk cuts archives short)',
  'size-too-large': 'the archive declares an entry larger than tspod accepts; check where the image came from',
  'negative-size': 'the archive is damaged or was crafted; fetch it again and check its digest',
  'meta-too-large':
    'the archive carries over 1 MiB of extended headers for one entry; repack it with shorter names and fewer extended attributes',
  'bad-number': 'the archive is damaged or was crafted; fetch it again and check its digest',
  'unsupported-type': 'repack the image without sparse files or multi-volume parts (GNU tar without --sparse/--multi-volume)',
};

/** A walk error as the error contract wants it: TAR_LIMIT for limits, TAR_CORRUPT otherwise. */
export function tarWalkErrorToTspod(e: TarWalkError, archive: string): TspodError {
  const limit = e.status === 'size-too-large' || e.status === 'meta-too-large';
  const entry = e.entryPath !== undefined ? ` (entry ${JSON.stringify(e.entryPath)})` : '';
  return tspodError(
    limit ? ErrorCodes.TAR_LIMIT : ErrorCodes.TAR_CORRUPT,
    `read the tar archive ${archive}`,
    `${e.message} at byte ${e.offset}${entry}`,
    HINTS[e.status],
  );
}
