// A small tar writer for tests: builds headers byte by byte so tests can craft archives that GNU
// tar and Python refuse to write (bad checksums, base-256 sizes, NULs in PAX paths, '..' names,
// unknown typeflags, truncated streams). Test-only: it trusts its caller.

const BLOCK = 512;

export type NumericField = 'mode' | 'uid' | 'gid' | 'size' | 'mtime' | 'chksum' | 'devmajor' | 'devminor';

export interface HeaderSpec {
  /** The 100-byte name field (a longer value is cut, as a writer would have to). */
  name?: string | Buffer;
  mode?: number;
  uid?: number;
  gid?: number;
  size?: number;
  mtime?: number;
  /** Typeflag character; default '0'. */
  type?: string;
  linkname?: string | Buffer;
  /** 'ustar' = POSIX "ustar\0" "00"; 'gnu' = "ustar  \0"; 'v7' = no magic. Default 'ustar'. */
  magic?: 'ustar' | 'gnu' | 'v7';
  /** ustar prefix field (joined to the name with '/' by readers). */
  prefix?: string;
  uname?: string;
  gname?: string;
  devmajor?: number;
  devminor?: number;
  /** Raw bytes for numeric fields, written instead of octal (e.g. base256(...)). */
  raw?: Partial<Record<NumericField, Buffer>>;
  /** Store a wrong checksum. */
  badChecksum?: boolean;
}

const FIELDS: Record<NumericField, [offset: number, width: number]> = {
  mode: [100, 8],
  uid: [108, 8],
  gid: [116, 8],
  size: [124, 12],
  mtime: [136, 12],
  chksum: [148, 8],
  devmajor: [329, 8],
  devminor: [337, 8],
};

/** Octal digits, zero-padded to width-1, then NUL (the form GNU tar writes). */
export function octal(n: number, width: number): Buffer {
  const s = n.toString(8).padStart(width - 1, '0');
  if (s.length > width - 1) throw new Error(`${n} does not fit ${width} octal bytes`);
  return Buffer.from(s + '\0', 'latin1');
}

/** GNU base-256: 0x80 (positive) or 0xFF (negative) marker byte, then two's complement big-endian. */
export function base256(n: bigint, width: number): Buffer {
  const out = Buffer.alloc(width);
  const bits = BigInt(8 * (width - 1));
  let v = n < 0n ? (1n << bits) + n : n; // two's complement over the bytes after the marker
  for (let i = width - 1; i >= 1; i--) {
    out[i] = Number(v & 0xffn);
    v >>= 8n;
  }
  out[0] = n < 0n ? 0xff : 0x80;
  return out;
}

function putString(h: Buffer, value: string | Buffer, offset: number, width: number): void {
  const b = typeof value === 'string' ? Buffer.from(value, 'utf8') : value;
  b.copy(h, offset, 0, Math.min(b.length, width));
}

/** One 512-byte header with a correct checksum (unless spec.badChecksum). */
export function header(spec: HeaderSpec): Buffer {
  const h = Buffer.alloc(BLOCK);
  putString(h, spec.name ?? 'file', 0, 100);
  const numbers: Record<NumericField, number> = {
    mode: spec.mode ?? 0o644,
    uid: spec.uid ?? 0,
    gid: spec.gid ?? 0,
    size: spec.size ?? 0,
    mtime: spec.mtime ?? 1_600_000_000,
    chksum: 0,
    devmajor: spec.devmajor ?? 0,
    devminor: spec.devminor ?? 0,
  };
  for (const [field, [off, width]] of Object.entries(FIELDS) as Array<[NumericField, [number, number]]>) {
    if (field === 'chksum') continue;
    if ((field === 'devmajor' || field === 'devminor') && spec.magic === 'v7') continue;
    (spec.raw?.[field] ?? octal(numbers[field], width)).copy(h, off);
  }
  h.write(spec.type ?? '0', 156, 'latin1');
  putString(h, spec.linkname ?? '', 157, 100);
  const magic = spec.magic ?? 'ustar';
  if (magic === 'ustar') h.write('ustar\x0000', 257, 'latin1');
  if (magic === 'gnu') h.write('ustar  \x00', 257, 'latin1');
  if (magic !== 'v7') {
    putString(h, spec.uname ?? 'root', 265, 32);
    putString(h, spec.gname ?? 'root', 297, 32);
  }
  if (spec.prefix !== undefined) putString(h, spec.prefix, 345, 155);
  h.fill(0x20, 148, 156);
  let sum = 0;
  for (const b of h) sum += b;
  if (spec.badChecksum) sum += 1;
  (spec.raw?.chksum ?? Buffer.from(sum.toString(8).padStart(6, '0') + '\0 ', 'latin1')).copy(h, 148);
  return h;
}

/** Zero bytes up to the next block boundary. */
export function padding(length: number): Buffer {
  return Buffer.alloc((BLOCK - (length % BLOCK)) % BLOCK);
}

/** Header + data + padding; the size field defaults to data.length. */
export function entry(spec: HeaderSpec, data: Buffer = Buffer.alloc(0)): Buffer {
  return Buffer.concat([header({ size: data.length, ...spec }), data, padding(data.length)]);
}

/** A PAX payload: "LEN KEY=VALUE\n" records, LEN counting itself. */
export function paxPayload(records: Array<[string, string | Buffer]>): Buffer {
  return Buffer.concat(records.map(([key, value]) => {
    const body = Buffer.concat([Buffer.from(` ${key}=`, 'utf8'), Buffer.from(value), Buffer.from('\n')]);
    let len = body.length + 1;
    while (String(len).length + body.length !== len) len++;
    return Buffer.concat([Buffer.from(String(len)), body]);
  }));
}

/** An 'x' (or 'g') extended header entry carrying the given records. */
export function pax(records: Array<[string, string | Buffer]>, type: 'x' | 'g' = 'x'): Buffer {
  return entry({ name: 'PaxHeaders/x', type }, paxPayload(records));
}

/** A GNU long name ('L') or long link ('K') entry; the payload ends with a NUL as GNU tar writes. */
export function gnuLong(value: string | Buffer, type: 'L' | 'K' = 'L'): Buffer {
  const data = Buffer.concat([Buffer.from(value), Buffer.from([0])]);
  return entry({ name: '././@LongLink', type, magic: 'gnu' }, data);
}

/** The end-of-archive marker: two zero blocks. */
export function endMarker(): Buffer {
  return Buffer.alloc(2 * BLOCK);
}

export function archive(...parts: Buffer[]): Buffer {
  return Buffer.concat(parts);
}
