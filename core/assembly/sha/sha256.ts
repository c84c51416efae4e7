// SHA-256 stream (FIPS 180-4 §6.2) over one static context: the host runs one instance per hasher.
import { ALGO_SHA256, stateSize } from './state';
import { CTX_SIZE, absorb, ctxWords, exportState, finish, importState, reset } from './stream';

const BLOCK: usize = 64;
const WORD: usize = 4;
const ctx = memory.data(CTX_SIZE, 16);

export function sha256Init(): void {
  // FIPS 180-4 §5.3.3: first 32 bits of the fractional parts of the square roots of the first 8 primes.
  const h = ctxWords(ctx);
  store<u32>(h, 0x6a09e667, 0);
  store<u32>(h, 0xbb67ae85, 4);
  store<u32>(h, 0x3c6ef372, 8);
  store<u32>(h, 0xa54ff53a, 12);
  store<u32>(h, 0x510e527f, 16);
  store<u32>(h, 0x9b05688c, 20);
  store<u32>(h, 0x1f83d9ab, 24);
  store<u32>(h, 0x5be0cd19, 28);
  reset(ctx);
}

export function sha256Update(p: usize, len: usize): void {
  absorb(ctx, p, len, BLOCK);
}

/** Writes the 32-byte digest to out and starts a new stream. */
export function sha256Final(out: usize): void {
  finish(ctx, out, BLOCK, WORD);
  sha256Init();
}

export function sha256StateSize(): usize {
  return stateSize(WORD, BLOCK);
}

export function sha256StateExport(out: usize): usize {
  return exportState(ctx, out, ALGO_SHA256, BLOCK, WORD);
}

export function sha256StateImport(p: usize, len: usize): i32 {
  return importState(ctx, p, len, ALGO_SHA256, BLOCK, WORD);
}
