// Streaming glue shared by SHA-256 and SHA-512 (FIPS 180-4 §5.1 padding, §6 chaining): buffers
// partial blocks, hands whole blocks to the generated compression function, pads and finishes,
// and converts the stream context to and from the exported state blob (see state.ts).
import {
  OFF_WORDS, STATE_OK, bufferOffset, checkState, sealState, stateFill, stateSize, stateTotal, writeHeader,
} from './state';
import { sha256Blocks } from '../generated/sha256_blocks';
import { sha512Blocks } from '../generated/sha512_blocks';

// Context layout in static memory, one per algorithm; sized for the larger SHA-512.
const CTX_TOTAL: usize = 0; // u64: bytes hashed so far
const CTX_FILL: usize = 8; // u32: bytes waiting in the block buffer
const CTX_WORDS: usize = 16; // 8 chaining words, native endian
const CTX_BUF: usize = 80; // one block
export const CTX_SIZE: i32 = 208;

// Blocks per call of the compression function. V8 first runs a function in its baseline tier and
// swaps in optimised code only on the next call, so one call over a whole 1 MiB chunk would run
// entirely in the slow tier; short batches let the optimised code take over within a few KiB.
const BATCH: usize = 32;

/**
 * Runs the compression function of the algorithm with this block size. Every caller is inlined
 * with a constant block size, so this folds to a direct call (a function reference would stay
 * an indirect call through a closure object).
 */
@inline
function blocks(words: usize, p: usize, n: usize, blockBytes: usize): void {
  if (blockBytes == 64) sha256Blocks(words, p, n);
  else sha512Blocks(words, p, n);
}

/** The chaining words of a context, for callers that write the initial values. */
@inline
export function ctxWords(ctx: usize): usize {
  return ctx + CTX_WORDS;
}

export function reset(ctx: usize): void {
  store<u64>(ctx + CTX_TOTAL, 0);
  store<u32>(ctx + CTX_FILL, 0);
}

@inline
function compress(ctx: usize, p: usize, n: usize, blockBytes: usize): void {
  const words = ctx + CTX_WORDS;
  while (n > BATCH) {
    blocks(words, p, BATCH, blockBytes);
    p += BATCH * blockBytes;
    n -= BATCH;
  }
  if (n > 0) blocks(words, p, n, blockBytes);
}

/** Absorbs len bytes at p. */
@inline
export function absorb(ctx: usize, p: usize, len: usize, blockBytes: usize): void {
  const buf = ctx + CTX_BUF;
  let fill = <usize>load<u32>(ctx + CTX_FILL);
  store<u64>(ctx + CTX_TOTAL, load<u64>(ctx + CTX_TOTAL) + <u64>len);
  if (fill > 0) {
    const take = min(blockBytes - fill, len);
    memory.copy(buf + fill, p, take);
    fill += take;
    p += take;
    len -= take;
    if (fill < blockBytes) {
      store<u32>(ctx + CTX_FILL, <u32>fill);
      return;
    }
    blocks(ctx + CTX_WORDS, buf, 1, blockBytes);
  }
  const whole = len / blockBytes;
  compress(ctx, p, whole, blockBytes);
  const rest = len - whole * blockBytes;
  memory.copy(buf, p + whole * blockBytes, rest);
  store<u32>(ctx + CTX_FILL, <u32>rest);
}

/**
 * Copies eight words from src to dst, swapping byte order: native chaining words to the
 * big-endian digest/state order and back (the swap is its own inverse).
 */
function swapWords(src: usize, dst: usize, wordBytes: usize): void {
  for (let i: usize = 0; i < 8; i++) {
    if (wordBytes == 8) store<u64>(dst + i * 8, bswap<u64>(load<u64>(src + i * 8)));
    else store<u32>(dst + i * 4, bswap<u32>(load<u32>(src + i * 4)));
  }
}

/**
 * Pads the message (0x80, zeros, bit length big-endian in the last 8 or 16 bytes) and writes the
 * 8-word digest to out. The context must be re-initialised before reuse.
 */
@inline
export function finish(ctx: usize, out: usize, blockBytes: usize, wordBytes: usize): void {
  const buf = ctx + CTX_BUF;
  const fill = <usize>load<u32>(ctx + CTX_FILL);
  const total = load<u64>(ctx + CTX_TOTAL);
  const lenBytes = blockBytes >> 3; // 8 for SHA-256, 16 for SHA-512
  store<u8>(buf + fill, 0x80);
  if (fill + 1 > blockBytes - lenBytes) {
    memory.fill(buf + fill + 1, 0, blockBytes - fill - 1);
    blocks(ctx + CTX_WORDS, buf, 1, blockBytes);
    memory.fill(buf, 0, blockBytes - lenBytes);
  } else {
    memory.fill(buf + fill + 1, 0, blockBytes - lenBytes - fill - 1);
  }
  // Bit length: SHA-512's field is 128 bits; byte counts fit in 64 bits, so the top word is total >> 61.
  if (lenBytes == 16) store<u64>(buf + blockBytes - 16, bswap<u64>(total >> 61));
  store<u64>(buf + blockBytes - 8, bswap<u64>(total << 3));
  blocks(ctx + CTX_WORDS, buf, 1, blockBytes);
  swapWords(ctx + CTX_WORDS, out, wordBytes);
}

/** Writes the state blob to out and returns its length. */
export function exportState(ctx: usize, out: usize, algo: u8, blockBytes: usize, wordBytes: usize): usize {
  const size = stateSize(wordBytes, blockBytes);
  const fill = <usize>load<u32>(ctx + CTX_FILL);
  const bufOut = out + bufferOffset(wordBytes);
  writeHeader(out, algo, fill, load<u64>(ctx + CTX_TOTAL));
  swapWords(ctx + CTX_WORDS, out + OFF_WORDS, wordBytes);
  memory.copy(bufOut, ctx + CTX_BUF, fill);
  memory.fill(bufOut + fill, 0, blockBytes - fill);
  sealState(out, size);
  return size;
}

/** Loads a state blob; on any failure the context is left as it was. */
export function importState(ctx: usize, p: usize, len: usize, algo: u8, blockBytes: usize, wordBytes: usize): i32 {
  const status = checkState(p, len, algo, stateSize(wordBytes, blockBytes), blockBytes);
  if (status != STATE_OK) return status;
  const fill = stateFill(p);
  store<u64>(ctx + CTX_TOTAL, stateTotal(p));
  store<u32>(ctx + CTX_FILL, <u32>fill);
  swapWords(p + OFF_WORDS, ctx + CTX_WORDS, wordBytes);
  memory.copy(ctx + CTX_BUF, p + bufferOffset(wordBytes), fill);
  return STATE_OK;
}
