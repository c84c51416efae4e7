// Streaming SHA-256 / SHA-512 on the WASM core (core/assembly/hash.ts), with resumable state.
// Each hasher owns a fresh core instance, so its static context is its own. The hot path copies
// chunks into the core's fixed input region in region-sized pieces and calls update(ptr, len);
// callers that read files can skip the copy by reading straight into input().
import { ErrorCodes, tspodError, type TspodError } from '../errors.js';
import { ok, err, type Result } from '../result.js';
import { instantiateCore } from './wasm.js';

export type HashAlgorithm = 'sha256' | 'sha512';

export interface CoreHasher {
  readonly algorithm: HashAlgorithm;
  /** Digest length in bytes: 32 or 64. */
  readonly digestLength: number;
  update(chunk: Uint8Array): void;
  /**
   * The core's input region itself (valid until the next call on this hasher). Write up to
   * input().length bytes at its start, then call updateInput(n): hashing with no copy.
   */
  input(): Uint8Array;
  updateInput(n: number): void;
  /** Finishes the stream and returns the digest; the hasher then starts a new, empty stream. */
  digest(): Buffer;
  /** The state after everything hashed so far, for importHashState; the stream goes on. */
  exportState(): Buffer;
}

/** The core's raw exports (core/assembly/hash.ts); pointers and lengths are plain numbers. */
interface HashExports {
  readonly memory: WebAssembly.Memory;
  input_ptr(): number;
  input_capacity(): number;
  core_version(): number;
  sha256_init(): void;
  sha256_update(ptr: number, len: number): void;
  sha256_final(outPtr: number): void;
  sha256_state_size(): number;
  sha256_state_export(outPtr: number): number;
  sha256_state_import(ptr: number, len: number): number;
  sha512_init(): void;
  sha512_update(ptr: number, len: number): void;
  sha512_final(outPtr: number): void;
  sha512_state_size(): number;
  sha512_state_export(outPtr: number): number;
  sha512_state_import(ptr: number, len: number): number;
}

/** One algorithm's entry points, picked once so the hot path does no lookups. */
interface AlgorithmExports {
  readonly update: (ptr: number, len: number) => void;
  readonly final: (outPtr: number) => void;
  readonly stateExport: (outPtr: number) => number;
  readonly stateImport: (ptr: number, len: number) => number;
  readonly stateSize: number;
}

function algorithmExports(x: HashExports, algo: HashAlgorithm): AlgorithmExports {
  return algo === 'sha256'
    ? {
        update: x.sha256_update, final: x.sha256_final, stateExport: x.sha256_state_export,
        stateImport: x.sha256_state_import, stateSize: x.sha256_state_size(),
      }
    : {
        update: x.sha512_update, final: x.sha512_final, stateExport: x.sha512_state_export,
        stateImport: x.sha512_state_import, stateSize: x.sha512_state_size(),
      };
}

class WasmHasher implements CoreHasher {
  readonly digestLength: number;
  private readonly fns: AlgorithmExports;
  private readonly ptr: number;
  private readonly capacity: number;
  private bytes: Uint8Array;
  private region: Uint8Array;

  constructor(
    readonly algorithm: HashAlgorithm,
    private readonly exports: HashExports,
  ) {
    this.digestLength = algorithm === 'sha256' ? 32 : 64;
    this.fns = algorithmExports(exports, algorithm);
    this.ptr = exports.input_ptr();
    this.capacity = exports.input_capacity();
    this.bytes = new Uint8Array(exports.memory.buffer);
    this.region = this.bytes.subarray(this.ptr, this.ptr + this.capacity);
  }

  /** The core never grows its memory, but a grow would detach the buffer: re-make the views if so. */
  private memory(): Uint8Array {
    const buffer = this.exports.memory.buffer;
    if (this.bytes.buffer !== buffer) {
      this.bytes = new Uint8Array(buffer);
      this.region = this.bytes.subarray(this.ptr, this.ptr + this.capacity);
    }
    return this.bytes;
  }

  update(chunk: Uint8Array): void {
    const n = chunk.length;
    if (n <= this.capacity) {
      this.memory().set(chunk, this.ptr);
      this.fns.update(this.ptr, n);
      return;
    }
    for (let off = 0; off < n; off += this.capacity) {
      const piece = chunk.subarray(off, Math.min(n, off + this.capacity));
      this.memory().set(piece, this.ptr);
      this.fns.update(this.ptr, piece.length);
    }
  }

  input(): Uint8Array {
    this.memory();
    return this.region;
  }

  updateInput(n: number): void {
    if (!Number.isInteger(n) || n < 0 || n > this.capacity) {
      throw new RangeError(`updateInput: ${n} is not a byte count within the ${this.capacity}-byte input region`);
    }
    this.fns.update(this.ptr, n);
  }

  digest(): Buffer {
    this.fns.final(this.ptr);
    return Buffer.from(this.memory().subarray(this.ptr, this.ptr + this.digestLength));
  }

  exportState(): Buffer {
    const len = this.fns.stateExport(this.ptr);
    return Buffer.from(this.memory().subarray(this.ptr, this.ptr + len));
  }

  /** Loads a saved state; returns the core's status (0 ok, negative STATE_E_* otherwise). */
  loadState(state: Uint8Array): number {
    this.memory().set(state, this.ptr);
    return this.fns.stateImport(this.ptr, state.length);
  }

  get stateSize(): number {
    return this.fns.stateSize;
  }

  get coreVersion(): number {
    return this.exports.core_version();
  }
}

function newHasher(algo: HashAlgorithm): Result<WasmHasher, TspodError> {
  return instantiateCore('hash').map((inst) => new WasmHasher(algo, inst.exports as unknown as HashExports));
}

/** A hasher for a new, empty stream. */
export function createCoreHasher(algo: HashAlgorithm): Result<CoreHasher, TspodError> {
  return newHasher(algo);
}

// Mirrors STATE_E_* in core/assembly/sha/state.ts, and the blob layout documented there.
const STATE_E_LENGTH = -1;
const STATE_E_MAGIC = -2;
const STATE_E_ALGORITHM = -3;
const STATE_E_FORMAT = -4;
const STATE_E_CORE_VERSION = -5;
const STATE_E_CHECKSUM = -6;
const STATE_E_FIELDS = -7;
const STATE_ALGORITHM_NAMES: Record<number, string> = { 1: 'sha256', 2: 'sha512' };

function whyStateRefused(status: number, state: Uint8Array, h: WasmHasher): string {
  const view = new DataView(state.buffer, state.byteOffset, state.byteLength);
  switch (status) {
    case STATE_E_LENGTH:
      return `it is ${state.length} bytes long, but a ${h.algorithm} state is ${h.stateSize} bytes (truncated or padded)`;
    case STATE_E_MAGIC:
      return 'it is not a tspod hash state (wrong magic bytes)';
    case STATE_E_ALGORITHM:
      return `it is a ${STATE_ALGORITHM_NAMES[state[6] ?? 0] ?? `unknown (id ${state[6]})`} state, not ${h.algorithm}`;
    case STATE_E_FORMAT:
      return `it uses state format ${view.getUint16(4, true)}, which this tspod does not read`;
    case STATE_E_CORE_VERSION:
      return `it was saved by hash core version ${view.getUint32(8, true)}; this is core version ${h.coreVersion}`;
    case STATE_E_CHECKSUM:
      return 'its checksum does not match its contents (the state is damaged)';
    case STATE_E_FIELDS:
      return 'its length and partial-block fields disagree (the state is damaged)';
    default:
      return `the hash core refused it with status ${status}`;
  }
}

function stateError(algo: HashAlgorithm, why: string): TspodError {
  return tspodError(
    ErrorCodes.HASH_STATE,
    `resume a ${algo} hash from a saved state`,
    why,
    `use a state saved by \`tspod util ${algo} --state-out\` of this tspod version, or hash the whole input again`,
  );
}

/** A hasher that continues the stream a saved state (from exportState) describes. */
export function importHashState(algo: HashAlgorithm, state: Uint8Array): Result<CoreHasher, TspodError> {
  return newHasher(algo).andThen((h): Result<CoreHasher, TspodError> => {
    if (state.length > h.input().length) {
      return err(stateError(algo, whyStateRefused(STATE_E_LENGTH, state, h)));
    }
    const status = h.loadState(state);
    return status === 0 ? ok(h) : err(stateError(algo, whyStateRefused(status, state, h)));
  });
}
