// PAX extended headers: records "LEN KEY=VALUE\n". An 'x' payload is parsed as soon as it is read,
// into the pending values below (they point into the meta region, which stays put until the entry
// they belong to is emitted); a 'g' payload sets the defaults for every later entry.
// Global path/linkpath/size/xattrs are ignored: one name for every entry makes no archive sense.

import {
  E_BAD_PAX_NUMBER, E_BAD_PAX_RECORD, E_NEGATIVE_SIZE, E_SIZE_TOO_LARGE, E_UNSUPPORTED_SPARSE,
  F_GID, F_MTIME, F_NONE, F_SIZE, F_UID,
} from './layout';
import { NUM_BIG, NUM_OK, numNeg, numNsec, numVal, parseDecimal, parseTime } from './num';

// Pending values of the 'x' headers before the current entry (later records win).
export let xPathOff: usize = 0;
export let xPathLen: i32 = -1; // -1: absent
export let xLinkOff: usize = 0;
export let xLinkLen: i32 = -1;
export let xSizeSet: bool = false;
export let xSize: u64 = 0;
export let xUidSet: bool = false;
export let xUid: u32 = 0;
export let xGidSet: bool = false;
export let xGid: u32 = 0;
export let xMtimeSet: bool = false;
export let xMtime: i64 = 0;
export let xNsec: u32 = 0;
/** Upper bound of the arena bytes the pending xattrs need. */
export let xXattrBytes: i32 = 0;

// Defaults from 'g' headers.
export let gUidSet: bool = false;
export let gUid: u32 = 0;
export let gGidSet: bool = false;
export let gGid: u32 = 0;
export let gMtimeSet: bool = false;
export let gMtime: i64 = 0;
export let gNsec: u32 = 0;

/** Field the last PAX error is about (F_*). */
export let paxErrField: i32 = F_NONE;

export function paxResetPending(): void {
  xPathLen = -1;
  xLinkLen = -1;
  xSizeSet = false;
  xUidSet = false;
  xGidSet = false;
  xMtimeSet = false;
  xXattrBytes = 0;
}

// Keys compared byte by byte: AS strings would need the runtime.
const K_PATH = memory.data<u8>([0x70, 0x61, 0x74, 0x68]); // path
const K_LINKPATH = memory.data<u8>([0x6c, 0x69, 0x6e, 0x6b, 0x70, 0x61, 0x74, 0x68]); // linkpath
const K_SIZE = memory.data<u8>([0x73, 0x69, 0x7a, 0x65]); // size
const K_UID = memory.data<u8>([0x75, 0x69, 0x64]); // uid
const K_GID = memory.data<u8>([0x67, 0x69, 0x64]); // gid
const K_MTIME = memory.data<u8>([0x6d, 0x74, 0x69, 0x6d, 0x65]); // mtime
// SCHILY.xattr.
const K_XATTR = memory.data<u8>([0x53, 0x43, 0x48, 0x49, 0x4c, 0x59, 0x2e, 0x78, 0x61, 0x74, 0x74, 0x72, 0x2e]);
// GNU.sparse.
const K_SPARSE = memory.data<u8>([0x47, 0x4e, 0x55, 0x2e, 0x73, 0x70, 0x61, 0x72, 0x73, 0x65, 0x2e]);
const XATTR_PREFIX = 13;
const SPARSE_PREFIX = 11;

function keyIs(p: usize, len: i32, k: usize, klen: i32): bool {
  return len == klen && memory.compare(p, k, <usize>klen) == 0;
}

function keyStarts(p: usize, len: i32, k: usize, klen: i32): bool {
  return len >= klen && memory.compare(p, k, <usize>klen) == 0;
}

// The record being visited by paxNext().
export let recKeyOff: usize = 0;
export let recKeyLen: i32 = 0;
export let recValOff: usize = 0;
export let recValLen: i32 = 0;
let recPos: i32 = 0;

/** Advances to the next record of p[0..len) starting at *recPos. Returns 1 with rec* set, 0 at
 * the end (trailing NUL padding counts as the end), or E_BAD_PAX_RECORD. */
function paxNext(p: usize, len: i32): i32 {
  const pos = recPos;
  if (pos >= len || load<u8>(p + pos) == 0) return 0;
  let i = pos;
  let n = 0;
  while (i < len && load<u8>(p + i) != 0x20) {
    const d = <i32>load<u8>(p + i) - 0x30;
    if (d < 0 || d > 9) return E_BAD_PAX_RECORD;
    n = n * 10 + d;
    if (n > len - pos) return E_BAD_PAX_RECORD; // also keeps n far from i32 overflow
    i++;
  }
  if (i == pos || i >= len) return E_BAD_PAX_RECORD;
  const end = pos + n;
  const keyOff = i + 1;
  if (end <= keyOff || load<u8>(p + end - 1) != 0x0a) return E_BAD_PAX_RECORD;
  let eq = keyOff;
  while (eq < end - 1 && load<u8>(p + eq) != 0x3d) eq++;
  if (eq >= end - 1 || eq == keyOff) return E_BAD_PAX_RECORD;
  recKeyOff = p + keyOff;
  recKeyLen = eq - keyOff;
  recValOff = p + eq + 1;
  recValLen = end - 1 - (eq + 1);
  recPos = end;
  return 1;
}

/** Parses one PAX payload. Returns 0 or a fatal status. */
export function paxParse(p: usize, len: i32, global: bool): i32 {
  recPos = 0;
  let r = paxNext(p, len);
  while (r > 0) {
    const st = paxApply(global);
    if (st != 0) return st;
    r = paxNext(p, len);
  }
  return r;
}

function paxApply(global: bool): i32 {
  const k = recKeyOff;
  const kl = recKeyLen;
  const v = recValOff;
  const vl = recValLen;
  if (keyIs(k, kl, K_PATH, 4)) {
    if (!global) {
      xPathOff = v;
      xPathLen = vl;
    }
  } else if (keyIs(k, kl, K_LINKPATH, 8)) {
    if (!global) {
      xLinkOff = v;
      xLinkLen = vl;
    }
  } else if (keyIs(k, kl, K_SIZE, 4)) {
    return applySize(v, vl, global);
  } else if (keyIs(k, kl, K_UID, 3)) {
    if (!parseId(v, vl, F_UID)) return E_BAD_PAX_NUMBER;
    if (global) {
      gUidSet = true;
      gUid = <u32>numVal;
    } else {
      xUidSet = true;
      xUid = <u32>numVal;
    }
  } else if (keyIs(k, kl, K_GID, 3)) {
    if (!parseId(v, vl, F_GID)) return E_BAD_PAX_NUMBER;
    if (global) {
      gGidSet = true;
      gGid = <u32>numVal;
    } else {
      xGidSet = true;
      xGid = <u32>numVal;
    }
  } else if (keyIs(k, kl, K_MTIME, 5)) {
    return applyMtime(v, vl, global);
  } else if (keyStarts(k, kl, K_XATTR, XATTR_PREFIX)) {
    // Counted only: the bytes are copied out when the entry is emitted (paxCopyXattrs).
    if (!global && kl > XATTR_PREFIX) xXattrBytes += 8 + (kl - XATTR_PREFIX) + vl;
  } else if (keyStarts(k, kl, K_SPARSE, SPARSE_PREFIX)) {
    // A sparse file's data is a map plus fragments; walking it as plain data would misplace bytes.
    if (!global) return E_UNSUPPORTED_SPARSE;
  }
  // Everything else (uname, gname, atime, ctime, comment, hdrcharset, vendor keys) is ignored.
  return 0;
}

function applySize(v: usize, vl: i32, global: bool): i32 {
  const st = parseDecimal(v, vl);
  paxErrField = F_SIZE;
  if (st == NUM_BIG) return numNeg ? E_NEGATIVE_SIZE : E_SIZE_TOO_LARGE;
  if (st != NUM_OK) return E_BAD_PAX_NUMBER;
  if (numNeg && numVal != 0) return E_NEGATIVE_SIZE;
  if (!global) {
    xSizeSet = true;
    xSize = numVal;
  }
  return 0;
}

function applyMtime(v: usize, vl: i32, global: bool): i32 {
  if (parseTime(v, vl) != NUM_OK) {
    paxErrField = F_MTIME;
    return E_BAD_PAX_NUMBER;
  }
  const sec: i64 = numNeg ? -<i64>numVal : <i64>numVal;
  if (global) {
    gMtimeSet = true;
    gMtime = sec;
    gNsec = numNsec;
  } else {
    xMtimeSet = true;
    xMtime = sec;
    xNsec = numNsec;
  }
  return 0;
}

/** uid/gid: a non-negative decimal that fits uid_t. */
function parseId(v: usize, vl: i32, field: i32): bool {
  paxErrField = field;
  return parseDecimal(v, vl) == NUM_OK && !numNeg && numVal <= 0xffffffff;
}

/** Records copied by paxCopyXattrs since the last paxXattrReset. */
export let xattrCount: i32 = 0;
export function paxXattrReset(): void {
  xattrCount = 0;
}

/** Copies the xattrs of one 'x' payload to dst as [u32 nameLen][u32 valueLen][name][value]...
 * Returns the bytes written; *xattrCount* counts the records. The payload was validated by
 * paxParse, so framing errors cannot happen here. */
export function paxCopyXattrs(p: usize, len: i32, dst: usize): i32 {
  recPos = 0;
  let o = 0;
  while (paxNext(p, len) > 0) {
    if (!keyStarts(recKeyOff, recKeyLen, K_XATTR, XATTR_PREFIX) || recKeyLen == XATTR_PREFIX) continue;
    const nl = recKeyLen - XATTR_PREFIX;
    store<u32>(dst + o, <u32>nl);
    store<u32>(dst + o + 4, <u32>recValLen);
    memory.copy(dst + o + 8, recKeyOff + XATTR_PREFIX, <usize>nl);
    memory.copy(dst + o + 8 + nl, recValOff, <usize>recValLen);
    o += 8 + nl + recValLen;
    xattrCount++;
  }
  return o;
}
