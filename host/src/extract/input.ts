// The decompressed byte stream of an archive (plain tar, gzip, bzip2, xz or zstd, told apart by magic bytes),
// from a file or stdin, counting the compressed bytes read so bombs can be spotted early.
// A plain file is read with readSync into one reused buffer: every consumer (walker, hasher,
// file writes, the writer pool's batch copy) is done with a chunk before the next is read.
import { closeSync, createReadStream, fstatSync, openSync, readSync } from 'node:fs';
import { spawn } from 'node:child_process';
import { Readable, pipeline } from 'node:stream';
import { createGunzip } from 'node:zlib';

export const CHUNK_SIZE = 1 << 20;
/** Plain files are read in bigger chunks: each may go whole to a writer thread. */
export const FILE_CHUNK_SIZE = 4 << 20;

export type Compression = 'none' | 'gzip' | 'bzip2' | 'xz' | 'zstd';

export interface ArchiveInput {
  readonly compression: Compression;
  readonly chunks: AsyncIterable<Buffer>;
  /** Size of the input file, or undefined for a pipe. */
  readonly size: number | undefined;
  /** Raw (possibly compressed) bytes read so far. */
  rawBytes(): number;
  /** Plain files only: read each chunk into a fresh buffer from `take` (so it can be handed off). */
  useBuffers?(take: () => ArrayBuffer): void;
  destroy(): void;
}

const isGzip = (head: Uint8Array): boolean => head.length >= 2 && head[0] === 0x1f && head[1] === 0x8b;
const isBzip2 = (head: Uint8Array): boolean => head.length >= 3 && head[0] === 0x42 && head[1] === 0x5a && head[2] === 0x68;
const isXz = (head: Uint8Array): boolean =>
  head.length >= 6 && head[0] === 0xfd && head[1] === 0x37 && head[2] === 0x7a && head[3] === 0x58 && head[4] === 0x5a && head[5] === 0;
const isZstd = (head: Uint8Array): boolean => head.length >= 4 && head[0] === 0x28 && head[1] === 0xb5 && head[2] === 0x2f && head[3] === 0xfd;

/** What the first bytes (at least 6 when the input has them) say the archive is compressed with. */
export function compressionOf(head: Uint8Array): Compression {
  if (isGzip(head)) return 'gzip';
  if (isBzip2(head)) return 'bzip2';
  if (isXz(head)) return 'xz';
  if (isZstd(head)) return 'zstd';
  return 'none';
}

/** A decompression failure, for the caller's error message (gzip's come from zlib as Z_* codes). */
export class DecompressError extends Error {
  readonly code = 'Z_DATA_ERROR';
}

/** Opens an archive; rejects with the fs error (ENOENT, EISDIR...) for the caller to describe. */
export async function openArchive(archive: string): Promise<ArchiveInput> {
  return archive === '-' ? openStdin() : openFile(archive);
}

function openFile(path: string): ArchiveInput {
  const fd = openSync(path, 'r');
  let size: number;
  let buf = Buffer.allocUnsafeSlow(FILE_CHUNK_SIZE);
  let take: (() => ArrayBuffer) | undefined;
  let first: number;
  try {
    size = fstatSync(fd).size;
    first = readSync(fd, buf, 0, 6, 0);
  } catch (e) {
    closeSync(fd);
    throw e;
  }
  const compression = compressionOf(buf.subarray(0, first));
  if (compression !== 'none') {
    const source = createReadStream(path, { fd, highWaterMark: CHUNK_SIZE, start: 0 });
    return compression === 'gzip' ? gunzipped(source, size) : viaTool(source, size, compression);
  }
  let raw = 0;
  let closed = false;
  async function* chunks(): AsyncGenerator<Buffer> {
    for (;;) {
      if (take) buf = Buffer.from(take(), 0, FILE_CHUNK_SIZE);
      const n = readSync(fd, buf, 0, FILE_CHUNK_SIZE, raw);
      if (n === 0) return;
      raw += n;
      yield buf.subarray(0, n);
    }
  }
  const destroy = (): void => {
    if (!closed) closeSync(fd);
    closed = true;
  };
  const useBuffers = (t: () => ArrayBuffer): void => { take = t; };
  return { compression: 'none', chunks: chunks(), size, rawBytes: () => raw, destroy, useBuffers };
}

async function openStdin(): Promise<ArchiveInput> {
  const source = process.stdin;
  const it = source[Symbol.asyncIterator]() as AsyncIterator<Buffer>;
  const first = await it.next();
  const head: Buffer = first.done ? Buffer.alloc(0) : first.value;
  let raw = 0;
  async function* counted(): AsyncGenerator<Buffer> {
    if (head.length > 0) {
      raw += head.length;
      yield head;
    }
    for (let r = await it.next(); !r.done; r = await it.next()) {
      raw += r.value.length;
      yield r.value;
    }
  }
  if (!isGzip(head)) {
    return { compression: 'none', chunks: counted(), size: undefined, rawBytes: () => raw, destroy: () => source.destroy() };
  }
  const input = gunzipped(Readable.from(counted(), { objectMode: false }), undefined);
  return { ...input, rawBytes: () => raw, destroy: () => { input.destroy(); source.destroy(); } };
}

function gunzipped(source: Readable, size: number | undefined): ArchiveInput {
  let raw = 0;
  source.on('data', (c: Buffer) => { raw += c.length; });
  const gunzip = createGunzip({ chunkSize: CHUNK_SIZE });
  pipeline(source, gunzip, () => {});
  return {
    compression: 'gzip',
    chunks: gunzip,
    size,
    rawBytes: () => raw,
    destroy: () => { gunzip.destroy(); source.destroy(); },
  };
}

/**
 * bzip2 and xz (rare for ACIs, allowed by the spec) and zstd (OCI layers) through Debian's own
 * tools: the file is piped through `bzip2 -dc` / `xz -dc` / `zstd -dc`, counting what goes in so
 * the bomb check still works.
 */
function viaTool(source: Readable, size: number | undefined, tool: 'bzip2' | 'xz' | 'zstd'): ArchiveInput {
  let raw = 0;
  const child = spawn(tool, ['-dc'], { stdio: ['pipe', 'pipe', 'pipe'] });
  let stderr = '';
  child.stderr.on('data', (c: Buffer) => { stderr += c.toString(); });
  source.on('data', (c: Buffer) => { raw += c.length; });
  source.pipe(child.stdin).on('error', () => {});
  const exited = new Promise<number | null>((resolve) => child.on('close', resolve));
  child.on('error', () => {});
  async function* chunks(): AsyncGenerator<Buffer> {
    for await (const c of child.stdout) yield c as Buffer;
    const code = await exited;
    if (code !== 0) throw new DecompressError(`${tool} -dc failed (${code}): ${stderr.trim() || 'no message'}`);
  }
  return {
    compression: tool, chunks: chunks(), size, rawBytes: () => raw,
    destroy: () => { source.destroy(); child.kill(); },
  };
}
