// The hash core's exports: streaming SHA-256 and SHA-512 behind a raw pointer API (no bindings).
// The host copies each chunk into the input region and calls *_update(ptr, len); digests and
// states are written wherever the host points (normally the same region). Nothing here allocates,
// so memory never grows and the host's views of it stay valid.
import { CORE_VERSION } from './version';
import {
  sha256Final, sha256Init, sha256StateExport, sha256StateImport, sha256StateSize, sha256Update,
} from './sha/sha256';
import {
  sha512Final, sha512Init, sha512StateExport, sha512StateImport, sha512StateSize, sha512Update,
} from './sha/sha512';

const INPUT_CAPACITY: i32 = 1 << 20;
const input = memory.data(INPUT_CAPACITY, 16);

export function core_version(): u32 {
  return CORE_VERSION;
}

/** Start of the input region the host writes chunks into. */
export function input_ptr(): usize {
  return input;
}

export function input_capacity(): usize {
  return <usize>INPUT_CAPACITY;
}

export function sha256_init(): void {
  sha256Init();
}

export function sha256_update(ptr: usize, len: usize): void {
  sha256Update(ptr, len);
}

export function sha256_final(outPtr: usize): void {
  sha256Final(outPtr);
}

export function sha256_state_size(): usize {
  return sha256StateSize();
}

export function sha256_state_export(outPtr: usize): usize {
  return sha256StateExport(outPtr);
}

/** 0 on success, a negative STATE_E_* code from sha/state.ts otherwise. */
export function sha256_state_import(ptr: usize, len: usize): i32 {
  return sha256StateImport(ptr, len);
}

export function sha512_init(): void {
  sha512Init();
}

export function sha512_update(ptr: usize, len: usize): void {
  sha512Update(ptr, len);
}

export function sha512_final(outPtr: usize): void {
  sha512Final(outPtr);
}

export function sha512_state_size(): usize {
  return sha512StateSize();
}

export function sha512_state_export(outPtr: usize): usize {
  return sha512StateExport(outPtr);
}

/** 0 on success, a negative STATE_E_* code from sha/state.ts otherwise. */
export function sha512_state_import(ptr: usize, len: usize): i32 {
  return sha512StateImport(ptr, len);
}

// A fresh instance starts ready to hash, so callers may skip *_init for a first stream.
sha256Init();
sha512Init();
