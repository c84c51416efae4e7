// SHA-512 stream (FIPS 180-4 §6.4) over one static context: the host runs one instance per hasher.
import { ALGO_SHA512, stateSize } from './state';
import { CTX_SIZE, absorb, ctxWords, exportState, finish, importState, reset } from './stream';

const BLOCK: usize = 128;
const WORD: usize = 8;
const ctx = memory.data(CTX_SIZE, 16);

export function sha512Init(): void {
  // FIPS 180-4 §5.3.5: first 64 bits of the fractional parts of the square roots of the first 8 primes.
  const h = ctxWords(ctx);
  store<u64>(h, 0x6a09e667f3bcc908, 0);
  store<u64>(h, 0xbb67ae8584caa73b, 8);
  store<u64>(h, 0x3c6ef372fe94f82b, 16);
  store<u64>(h, 0xa54ff53a5f1d36f1, 24);
  store<u64>(h, 0x510e527fade682d1, 32);
  store<u64>(h, 0x9b05688c2b3e6c1f, 40);
  store<u64>(h, 0x1f83d9abfb41bd6b, 48);
  store<u64>(h, 0x5be0cd19137e2179, 56);
  reset(ctx);
}

export function sha512Update(p: usize, len: usize): void {
  absorb(ctx, p, len, BLOCK);
}

/** Writes the 64-byte digest to out and starts a new stream. */
export function sha512Final(out: usize): void {
  finish(ctx, out, BLOCK, WORD);
  sha512Init();
}

export function sha512StateSize(): usize {
  return stateSize(WORD, BLOCK);
}

export function sha512StateExport(out: usize): usize {
  return exportState(ctx, out, ALGO_SHA512, BLOCK, WORD);
}

export function sha512StateImport(p: usize, len: usize): i32 {
  return importState(ctx, p, len, ALGO_SHA512, BLOCK, WORD);
}
