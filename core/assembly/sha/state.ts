// The exported hash state: a self-describing, checksummed byte blob, the same layout for every
// algorithm so the host can name what is wrong with a state before trusting any of it.
//
//   off  size  field
//     0     4  magic "TSHS"
//     4     2  format version (u16 LE)
//     6     1  algorithm id (ALGO_*)
//     7     1  bytes in the partial block buffer (the fill)
//     8     4  core version (u32 LE)
//    12     8  total bytes hashed so far (u64 LE)
//    20  8*wb  chaining words h[0..7], big-endian as in a digest
//     …    bb  partial block buffer (zero past the fill)
//     …     4  FNV-1a 32 of every byte before it (u32 LE)
import { CORE_VERSION } from '../version';

// Status codes of *_state_import; host/src/core/hash.ts mirrors them to explain failures.
export const STATE_OK: i32 = 0;
export const STATE_E_LENGTH: i32 = -1;
export const STATE_E_MAGIC: i32 = -2;
export const STATE_E_ALGORITHM: i32 = -3;
export const STATE_E_FORMAT: i32 = -4;
export const STATE_E_CORE_VERSION: i32 = -5;
export const STATE_E_CHECKSUM: i32 = -6;
export const STATE_E_FIELDS: i32 = -7;

export const ALGO_SHA256: u8 = 1;
export const ALGO_SHA512: u8 = 2;

const MAGIC: u32 = 0x53485354; // "TSHS" read as a little-endian u32
const FORMAT_VERSION: u16 = 1;
const OFF_FORMAT: usize = 4;
const OFF_ALGO: usize = 6;
const OFF_FILL: usize = 7;
const OFF_CORE: usize = 8;
const OFF_TOTAL: usize = 12;
export const OFF_WORDS: usize = 20;
const CHECKSUM_BYTES: usize = 4;

/** Size of a state holding eight `wordBytes` words and a `blockBytes` buffer. */
@inline
export function stateSize(wordBytes: usize, blockBytes: usize): usize {
  return OFF_WORDS + 8 * wordBytes + blockBytes + CHECKSUM_BYTES;
}

/** Offset of the partial block buffer inside a state. */
@inline
export function bufferOffset(wordBytes: usize): usize {
  return OFF_WORDS + 8 * wordBytes;
}

function fnv1a(p: usize, n: usize): u32 {
  let h: u32 = 0x811c9dc5;
  for (let i: usize = 0; i < n; i++) {
    h = (h ^ <u32>load<u8>(p + i)) * 0x01000193;
  }
  return h;
}

/** Writes the header fields; the caller fills words and buffer, then calls sealState. */
export function writeHeader(out: usize, algo: u8, fill: usize, total: u64): void {
  store<u32>(out, MAGIC);
  store<u16>(out + OFF_FORMAT, FORMAT_VERSION);
  store<u8>(out + OFF_ALGO, algo);
  store<u8>(out + OFF_FILL, <u8>fill);
  store<u32>(out + OFF_CORE, CORE_VERSION);
  store<u64>(out + OFF_TOTAL, total);
}

/** Appends the checksum over the first size-4 bytes. */
export function sealState(out: usize, size: usize): void {
  const body = size - CHECKSUM_BYTES;
  store<u32>(out + body, fnv1a(out, body));
}

/**
 * Validates a state blob for `algo` before anything is loaded from it. The order matters for
 * the message the user sees: a sha256 state given to sha512 reports the algorithm, not the length.
 */
export function checkState(p: usize, len: usize, algo: u8, size: usize, blockBytes: usize): i32 {
  if (len < OFF_WORDS) return STATE_E_LENGTH;
  if (load<u32>(p) != MAGIC) return STATE_E_MAGIC;
  if (load<u16>(p + OFF_FORMAT) != FORMAT_VERSION) return STATE_E_FORMAT;
  if (load<u8>(p + OFF_ALGO) != algo) return STATE_E_ALGORITHM;
  if (len != size) return STATE_E_LENGTH;
  const body = size - CHECKSUM_BYTES;
  if (load<u32>(p + body) != fnv1a(p, body)) return STATE_E_CHECKSUM;
  if (load<u32>(p + OFF_CORE) != CORE_VERSION) return STATE_E_CORE_VERSION;
  const fill = <usize>load<u8>(p + OFF_FILL);
  // The fill is always total mod block size; anything else cannot come from a real stream.
  if (fill >= blockBytes || stateTotal(p) % <u64>blockBytes != <u64>fill) return STATE_E_FIELDS;
  return STATE_OK;
}

@inline
export function stateFill(p: usize): usize {
  return <usize>load<u8>(p + OFF_FILL);
}

@inline
export function stateTotal(p: usize): u64 {
  return load<u64>(p + OFF_TOTAL);
}
