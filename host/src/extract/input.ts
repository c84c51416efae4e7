// The decompressed byte stream of an archive (plain tar or gzip, told apart by magic bytes),
// from a file or stdin, counting the compressed bytes read so bombs can be spotted early.
import { createReadStream } from 'node:fs';
import { Readable, pipeline } from 'node:stream';
import { createGunzip } from 'node:zlib';

export const CHUNK_SIZE = 1 << 20;

export interface ArchiveInput {
  readonly compression: 'none' | 'gzip';
  readonly chunks: AsyncIterable<Buffer>;
  /** Raw (possibly compressed) bytes read so far. */
  rawBytes(): number;
  destroy(): void;
}

function openSource(archive: string): Readable {
  return archive === '-' ? process.stdin : createReadStream(archive, { highWaterMark: CHUNK_SIZE });
}

/** Opens an archive; rejects with the fs error (ENOENT, EISDIR...) for the caller to describe. */
export async function openArchive(archive: string): Promise<ArchiveInput> {
  const source = openSource(archive);
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
  const isGzip = head.length >= 2 && head[0] === 0x1f && head[1] === 0x8b;
  if (!isGzip) {
    return { compression: 'none', chunks: counted(), rawBytes: () => raw, destroy: () => source.destroy() };
  }
  const rawStream = Readable.from(counted(), { objectMode: false });
  const gunzip = createGunzip({ chunkSize: CHUNK_SIZE });
  pipeline(rawStream, gunzip, () => {});
  return {
    compression: 'gzip',
    chunks: gunzip,
    rawBytes: () => raw,
    destroy: () => { gunzip.destroy(); rawStream.destroy(); source.destroy(); },
  };
}
