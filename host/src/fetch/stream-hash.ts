// The hash a download computes over its bytes as they arrive, and how it survives a resume.
//
// Which engine hashes which algorithm is a measured choice, not a preference:
// - sha512 (appc image IDs) runs on the WASM core, within ~1.5x of OpenSSL, and its state can be
//   exported at every checkpoint: a resumed download hashes only the new bytes.
// - sha256 (registry blobs) runs on OpenSSL through node:crypto. On CPUs with the SHA extensions
//   (SHA-NI) OpenSSL is ~5x faster than any WASM sha256 (bench/hash): on a 60 MB layer the core
//   alone cost 0.16 s of a 0.5 s pull, more than the network. OpenSSL's state cannot be exported,
//   so a resumed sha256 download re-reads its saved prefix from the local disk (at GB/s), which
//   is still far cheaper than downloading it again.
import { createHash, type Hash } from 'node:crypto';
import { createCoreHasher, importHashState, type HashAlgorithm } from '../core/hash.js';
import type { TspodError } from '../errors.js';
import { ok, type Result } from '../result.js';

export interface StreamHasher {
  readonly algorithm: HashAlgorithm;
  update(chunk: Uint8Array): void;
  /** Finishes the stream and returns the digest. */
  digest(): Buffer;
  /** The state after everything hashed so far, or undefined when this engine cannot export one. */
  exportState(): Buffer | undefined;
}

class OpenSslHasher implements StreamHasher {
  private readonly hash: Hash;

  constructor(readonly algorithm: HashAlgorithm) {
    this.hash = createHash(algorithm);
  }

  update(chunk: Uint8Array): void {
    this.hash.update(chunk);
  }

  digest(): Buffer {
    return this.hash.digest();
  }

  exportState(): undefined {
    return undefined;
  }
}

const USES_CORE: Record<HashAlgorithm, boolean> = { sha256: false, sha512: true };

/** A fresh hasher for algo, on the engine chosen above. */
export function createStreamHasher(algo: HashAlgorithm): Result<StreamHasher, TspodError> {
  return USES_CORE[algo] ? createCoreHasher(algo) : ok(new OpenSslHasher(algo));
}

/**
 * A hasher continuing from a saved state, or undefined when there is none to continue from
 * (an engine without exportable state, or a state the core refuses): the caller re-reads the bytes.
 */
export function resumeStreamHasher(algo: HashAlgorithm, state: Buffer): StreamHasher | undefined {
  if (!USES_CORE[algo]) return undefined;
  const imported = importHashState(algo, state);
  return imported.isOk() ? imported.value : undefined;
}
