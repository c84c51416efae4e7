// The tar core's exports: a streaming walker (ustar, GNU, PAX) plus the lexical path policy,
// behind a raw pointer API (no bindings). The host copies each chunk (at most tar_in_cap() bytes)
// to tar_in_ptr() and calls tar_feed(len); the result is the number of entry records written at
// tar_rec_ptr() (strings in the arena at tar_arena_ptr()), or a negative status. While tar_more()
// is 1 the call stopped early to spare the table: read it, then call tar_resume().
// Layout and codes: tar/layout.ts. Nothing here allocates, so memory never grows.
import { CORE_VERSION } from './version';
import { ARENA, ERR_NAME, IN, IN_CAP, REC_SIZE, RECS } from './tar/layout';
import {
  walkerEnd, walkerErrorField, walkerErrorNameLen, walkerErrorOffset, walkerFed, walkerFeed,
  walkerMore, walkerRecords, walkerResume, walkerSetMaxSize,
} from './tar/walker';

export function core_version(): u32 {
  return CORE_VERSION;
}

export function tar_in_ptr(): usize {
  return IN;
}

export function tar_in_cap(): i32 {
  return IN_CAP;
}

export function tar_rec_ptr(): usize {
  return RECS;
}

export function tar_rec_size(): i32 {
  return REC_SIZE;
}

export function tar_arena_ptr(): usize {
  return ARENA;
}

/** Walks the len bytes at tar_in_ptr(). Returns records written, or a negative status. */
export function tar_feed(len: i32): i32 {
  return walkerFeed(len);
}

/** Continues a call that stopped early (tar_more() == 1) on the same input. */
export function tar_resume(): i32 {
  return walkerResume();
}

export function tar_more(): i32 {
  return walkerMore() ? 1 : 0;
}

/** Records written by the last tar_feed/tar_resume. */
export function tar_records(): i32 {
  return walkerRecords();
}

/** The stream ended: 0 if the end-of-archive marker was seen, else a negative status. */
export function tar_end(): i32 {
  return walkerEnd();
}

/** Refuse entries with more data bytes than this (default and cap: 2^53). */
export function tar_set_max_size(v: f64): void {
  walkerSetMaxSize(v);
}

/** Bytes fed so far. */
export function tar_offset(): f64 {
  return walkerFed();
}

/** Stream offset of the header (or stream end) a fatal status is about. */
export function tar_error_offset(): f64 {
  return walkerErrorOffset();
}

/** Which numeric field a bad-number status is about (F_* in tar/layout.ts). */
export function tar_error_field(): i32 {
  return walkerErrorField();
}

/** Raw name of the entry a fatal status is about (may be empty), at tar_error_name_ptr(). */
export function tar_error_name_ptr(): usize {
  return ERR_NAME;
}

export function tar_error_name_len(): i32 {
  return walkerErrorNameLen();
}
