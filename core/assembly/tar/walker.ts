// The streaming walker: a state machine over arbitrary chunks. Headers split across chunks are
// completed in a 512-byte carry block; L/K/x/g payloads are gathered in the meta region; entry data
// is only skipped (the host slices it out of its own chunks by absolute offset). Each call fills a
// fresh record table and arena; when either could overflow, the call stops before the header and
// tar_more() tells the host to read the table and call tar_resume().

import {
  ARENA, ARENA_CAP, CARRY, E_BAD_ARGUMENT, E_BAD_CHECKSUM, E_BAD_NUMBER, E_META_TOO_LARGE,
  E_NEGATIVE_SIZE, E_ORPHAN_META, E_SIZE_OVER_LIMIT, E_SIZE_TOO_LARGE, E_TRUNC_DATA,
  E_TRUNC_HEADER, E_TRUNC_META, E_TRUNC_NO_END, E_UNSUPPORTED_TYPE, ENT_BLOCK, ENT_CHAR, ENT_DIR,
  ENT_FIFO, ENT_FILE, ENT_HARDLINK, ENT_SYMLINK, ERR_NAME, ERR_NAME_CAP, F_CHECKSUM, F_DEVMAJOR,
  F_DEVMINOR, F_GID, F_MODE, F_MTIME, F_NONE, F_SIZE, F_UID, IN, IN_CAP, META, META_CAP,
  REC_CAP, REC_DATA_OFF, REC_DEVMAJOR, REC_DEVMINOR, REC_GID, REC_LINK_LEN, REC_LINK_OFF, REC_MODE,
  REC_MTIME, REC_NSEC, REC_PATH_LEN, REC_PATH_OFF, REC_RAW_LEN, REC_RAW_OFF, REC_REJECT, REC_SIZE,
  REC_SIZE_F, REC_TYPE, REC_UID, REC_XATTR_BYTES, REC_XATTR_COUNT, REC_XATTR_OFF, RECS,
  REJ_ABSOLUTE, REJ_DOTDOT, REJ_EMPTY, REJ_LINK_ABSOLUTE, REJ_LINK_DOTDOT, REJ_NONE, REJ_NUL,
} from './layout';
import { LIMIT, NUM_BAD, NUM_OK, numNeg, numVal, parseField } from './num';
import { NORM_EMPTY, NORM_ESCAPE, fieldLen, findNul, normalize, trimNuls } from './path';
import {
  gGid, gGidSet, gMtime, gMtimeSet, gNsec, gUid, gUidSet, paxCopyXattrs, paxErrField, paxParse,
  paxResetPending, xGid, xGidSet, xLinkLen, xLinkOff, xMtime, xMtimeSet, xNsec, xPathLen, xPathOff,
  paxXattrReset, xSize, xSizeSet, xUid, xUidSet, xXattrBytes, xattrCount,
} from './pax';

const S_HEADER = 0;
const S_SKIP = 1;
const S_META = 2;
const S_END = 3;

/** processHeader: the table or arena is full; the header stays unconsumed until tar_resume. */
const HDR_FULL = 1;

const T_LONGNAME: u32 = 0x4c; // 'L'
const T_LONGLINK: u32 = 0x4b; // 'K'
const T_PAX: u32 = 0x78; // 'x'
const T_PAX_GLOBAL: u32 = 0x67; // 'g'
const T_VOLUME: u32 = 0x56; // 'V'

let state = S_HEADER;
let fatal: i32 = 0;
let fed: u64 = 0; // bytes fed so far
let base: u64 = 0; // stream offset of IN[0] in the current call
let inPos: i32 = 0;
let inLen: i32 = 0;
let carryLen: i32 = 0;
let carryOff: u64 = 0; // stream offset of the header gathered in CARRY
let remaining: u64 = 0; // S_SKIP: bytes still to skip
let skippingData = false; // S_SKIP is inside an entry's data (not padding of a meta payload)
let maxSize: u64 = LIMIT;

// Meta payloads: each is stored in META as [u32 type][u32 length][payload].
let metaUsed: i32 = 0;
let metaKind: u32 = 0;
let metaStart: i32 = 0;
let metaLen: i32 = 0;
let metaGot: i32 = 0;
let metaHdrOff: u64 = 0;
let longNameOff: usize = 0;
let longNameLen: i32 = -1;
let longLinkOff: usize = 0;
let longLinkLen: i32 = -1;

// Output of the current call.
let recCount: i32 = 0;
let arenaUsed: i32 = 0;

// Error details.
let errOff: u64 = 0;
let errField: i32 = F_NONE;
let errNameLen: i32 = 0;
let dataNameLen: i32 = 0; // name of the entry whose data is being skipped, in ERR_NAME

export function walkerFeed(len: i32): i32 {
  if (fatal != 0) return fatal;
  if (len < 0 || len > IN_CAP || walkerMore()) return E_BAD_ARGUMENT;
  base = fed;
  fed += <u64>len;
  inPos = 0;
  inLen = len;
  return run();
}

export function walkerResume(): i32 {
  if (fatal != 0) return fatal;
  return run();
}

/** 1 when the last call stopped early with input (or a gathered header) left to walk. */
export function walkerMore(): bool {
  if (fatal != 0 || state == S_END) return false;
  return inPos < inLen || (state == S_HEADER && carryLen == 512);
}

/** The stream ended: 0 when the end-of-archive marker was seen, else why it is truncated. */
export function walkerEnd(): i32 {
  if (fatal != 0) return fatal;
  if (state == S_END) return 0;
  errOff = fed;
  errField = F_NONE;
  errNameLen = 0;
  if (state == S_SKIP && skippingData) {
    errNameLen = dataNameLen;
    return (fatal = E_TRUNC_DATA);
  }
  if (state == S_META || state == S_SKIP) return (fatal = E_TRUNC_META);
  if (carryLen > 0) return (fatal = E_TRUNC_HEADER);
  if (metaUsed > 0) return (fatal = E_ORPHAN_META);
  return (fatal = E_TRUNC_NO_END);
}

export function walkerSetMaxSize(v: f64): void {
  // Written so NaN lands on LIMIT too (a float-to-int conversion of NaN must never be reached).
  maxSize = v >= 0 && v < <f64>LIMIT ? <u64>v : LIMIT;
}

export function walkerFed(): f64 {
  return <f64>fed;
}
export function walkerRecords(): i32 {
  return recCount;
}
export function walkerErrorOffset(): f64 {
  return <f64>errOff;
}
export function walkerErrorField(): i32 {
  return errField;
}
export function walkerErrorNameLen(): i32 {
  return errNameLen;
}

function run(): i32 {
  recCount = 0;
  arenaUsed = 0;
  while (inPos < inLen || (state == S_HEADER && carryLen == 512)) {
    let r = 0;
    if (state == S_HEADER) r = stepHeader();
    else if (state == S_SKIP) stepSkip();
    else if (state == S_META) r = stepMeta();
    else inPos = inLen; // S_END: whatever follows the end marker is ignored, as GNU tar does
    if (r == HDR_FULL) break;
    if (r < 0) return r;
  }
  return recCount;
}

function stepHeader(): i32 {
  if (carryLen == 0 && inLen - inPos >= 512) {
    const r = processHeader(IN + <usize>inPos, base + <u64>inPos);
    if (r == 0) inPos += 512;
    return r;
  }
  if (carryLen < 512) {
    if (carryLen == 0) carryOff = base + <u64>inPos;
    const n = min(512 - carryLen, inLen - inPos);
    memory.copy(CARRY + <usize>carryLen, IN + <usize>inPos, <usize>n);
    carryLen += n;
    inPos += n;
    if (carryLen < 512) return 0;
  }
  const r = processHeader(CARRY, carryOff);
  if (r == 0) carryLen = 0;
  return r;
}

function stepSkip(): void {
  const avail = <u64>(inLen - inPos);
  if (remaining <= avail) {
    inPos += <i32>remaining;
    remaining = 0;
    state = S_HEADER;
  } else {
    remaining -= avail;
    inPos = inLen;
  }
}

function stepMeta(): i32 {
  const n = min(metaLen - metaGot, inLen - inPos);
  memory.copy(META + <usize>(metaStart + 8 + metaGot), IN + <usize>inPos, <usize>n);
  metaGot += n;
  inPos += n;
  return metaGot < metaLen ? 0 : finishMeta();
}

function padded(size: u64): u64 {
  return (size + 511) & ~(<u64>511);
}

function skip(n: u64, isData: bool): void {
  remaining = n;
  skippingData = isData;
  state = n > 0 ? S_SKIP : S_HEADER;
}

/** Sum of the 512 header bytes, 8 at a time: four 16-bit lanes never exceed 64 * 510. */
function byteSum(h: usize): u32 {
  let acc: u64 = 0;
  for (let i: usize = 0; i < 512; i += 8) {
    const x = load<u64>(h + i);
    acc += (x & 0x00ff00ff00ff00ff) + ((x >> 8) & 0x00ff00ff00ff00ff);
  }
  acc = (acc & 0x0000ffff0000ffff) + ((acc >> 16) & 0x0000ffff0000ffff);
  return <u32>((acc & 0xffffffff) + (acc >> 32));
}

/** The checksum counts the checksum field as spaces; old tars summed signed chars, so both
 * readings are accepted (as GNU tar and Python do). */
function checksumOk(h: usize, sum: u32): bool {
  if (parseField(h + 148, 8) != NUM_OK || numNeg) return false;
  const stored = numVal;
  let chk: u32 = 0;
  for (let i: usize = 148; i < 156; i++) chk += <u32>load<u8>(h + i);
  const unsigned = sum - chk + 256;
  if (<u64>unsigned == stored) return true;
  let high: u32 = 0;
  for (let i: usize = 0; i < 512; i++) {
    if (i >= 148 && i < 156) continue;
    if (load<u8>(h + i) >= 0x80) high++;
  }
  const signed = <i64>unsigned - 256 * <i64>high;
  return signed >= 0 && <u64>signed == stored;
}

function isUstar(h: usize): bool {
  // "ustar\0" (POSIX); GNU writes "ustar  \0" and keeps other data where POSIX has the prefix.
  return load<u32>(h + 257) == 0x61747375 && load<u8>(h + 261) == 0x72 && load<u8>(h + 262) == 0;
}

function isGnu(h: usize): bool {
  return load<u32>(h + 257) == 0x61747375 && load<u32>(h + 261) == 0x00202072;
}

function entryType(tf: u32): u8 {
  switch (tf) {
    case 0x30: case 0x00: case 0x37: return ENT_FILE; // '0', '\0', '7' (contiguous = regular)
    case 0x31: return ENT_HARDLINK;
    case 0x32: return ENT_SYMLINK;
    case 0x33: return ENT_CHAR;
    case 0x34: return ENT_BLOCK;
    case 0x35: return ENT_DIR;
    case 0x36: return ENT_FIFO;
  }
  return 0; // 'S' sparse, 'M' multivolume, 'D' dumpdir, 'N' old long names, vendor letters...
}

function processHeader(h: usize, hOff: u64): i32 {
  const sum = byteSum(h);
  if (sum == 0) return endOfArchive(hOff);
  if (!checksumOk(h, sum)) return failHeader(E_BAD_CHECKSUM, hOff, F_CHECKSUM, h);
  const tf = <u32>load<u8>(h + 156);
  const st = parseField(h + 124, 12);
  if (st == NUM_BAD) return failHeader(E_BAD_NUMBER, hOff, F_SIZE, h);
  if (numNeg && (st != NUM_OK || numVal != 0)) return failHeader(E_NEGATIVE_SIZE, hOff, F_SIZE, h);
  if (st != NUM_OK) return failHeader(E_SIZE_TOO_LARGE, hOff, F_SIZE, h);
  const size = numVal;
  if (tf == T_LONGNAME || tf == T_LONGLINK || tf == T_PAX || tf == T_PAX_GLOBAL) {
    return beginMeta(tf, size, hOff, h);
  }
  if (tf == T_VOLUME) {
    // A volume label names the archive, not a file: nothing to extract.
    skip(padded(size), false);
    return 0;
  }
  const type = entryType(tf);
  // The typeflag goes out as the error field so the message can name it.
  if (type == 0) return failHeader(E_UNSUPPORTED_TYPE, hOff, <i32>tf, h);
  // Worst case for one entry: raw and normalized path plus link, and xattrs, all from pending meta
  // or the 512-byte header. Checked before anything changes, so the header can be walked again.
  if (recCount >= REC_CAP || arenaUsed + 2 * metaUsed + 2048 > ARENA_CAP) return HDR_FULL;
  return emitEntry(h, hOff, tf, type, size);
}

function endOfArchive(hOff: u64): i32 {
  // Python and GNU tar stop at the first zero block too; a lone one only draws a GNU warning.
  if (metaUsed > 0) return failAt(E_ORPHAN_META, hOff, F_NONE);
  state = S_END;
  return 0;
}

function beginMeta(tf: u32, size: u64, hOff: u64, h: usize): i32 {
  // Refused from the declared size alone: nothing is read or reserved for an oversized payload.
  // room goes negative when earlier payloads left less than a tag's worth of space.
  const room = META_CAP - metaUsed - 8;
  if (room < 0 || size > <u64>room) return failHeader(E_META_TOO_LARGE, hOff, F_SIZE, h);
  metaKind = tf;
  metaStart = metaUsed;
  metaLen = <i32>size;
  metaGot = 0;
  metaHdrOff = hOff;
  store<u32>(META + <usize>metaStart, tf);
  store<u32>(META + <usize>metaStart + 4, <u32>size);
  metaUsed += 8 + metaLen;
  if (metaLen == 0) return finishMeta();
  state = S_META;
  return 0;
}

function finishMeta(): i32 {
  const p = META + <usize>(metaStart + 8);
  let st = 0;
  if (metaKind == T_PAX) {
    st = paxParse(p, metaLen, false);
  } else if (metaKind == T_PAX_GLOBAL) {
    st = paxParse(p, metaLen, true);
    metaUsed = metaStart; // its values are copied into the defaults; the bytes are not needed
  } else if (metaKind == T_LONGNAME) {
    longNameOff = p;
    longNameLen = metaLen;
  } else {
    longLinkOff = p;
    longLinkLen = metaLen;
  }
  if (st < 0) return failAt(st, metaHdrOff, paxErrField);
  skip(padded(<u64>metaLen) - <u64>metaLen, false);
  return 0;
}

// Numeric fields of the entry being emitted.
let eMode: u32 = 0;
let eUid: u32 = 0;
let eGid: u32 = 0;
let eMtime: i64 = 0;
let eNsec: u32 = 0;
let eDevMajor: u32 = 0;
let eDevMinor: u32 = 0;

/** A non-negative header number that fits u32 (mode, ids, device numbers), or -1. */
function headerU32(p: usize, len: i32): i64 {
  if (parseField(p, len) != NUM_OK || numNeg || numVal > 0xffffffff) return -1;
  return <i64>numVal;
}

/** Reads the header's numeric fields, then lets 'g' and 'x' values override. Returns the field
 * that failed (F_*) or F_NONE. */
function readNumbers(h: usize, type: u8): i32 {
  let v = headerU32(h + 100, 8);
  if (v < 0) return F_MODE;
  eMode = <u32>v & 0o7777;
  v = headerU32(h + 108, 8);
  if (v < 0) return F_UID;
  eUid = xUidSet ? xUid : gUidSet ? gUid : <u32>v;
  v = headerU32(h + 116, 8);
  if (v < 0) return F_GID;
  eGid = xGidSet ? xGid : gGidSet ? gGid : <u32>v;
  if (parseField(h + 136, 12) != NUM_OK) return F_MTIME;
  eMtime = numNeg ? -<i64>numVal : <i64>numVal;
  eNsec = 0;
  if (xMtimeSet) {
    eMtime = xMtime;
    eNsec = xNsec;
  } else if (gMtimeSet) {
    eMtime = gMtime;
    eNsec = gNsec;
  }
  eDevMajor = 0;
  eDevMinor = 0;
  // Device numbers exist only in ustar/GNU headers and mean something only for devices.
  if ((type == ENT_CHAR || type == ENT_BLOCK) && (isUstar(h) || isGnu(h))) {
    v = headerU32(h + 329, 8);
    if (v < 0) return F_DEVMAJOR;
    eDevMajor = <u32>v;
    v = headerU32(h + 337, 8);
    if (v < 0) return F_DEVMINOR;
    eDevMinor = <u32>v;
  }
  return F_NONE;
}

function emitEntry(h: usize, hOff: u64, tf: u32, type: u8, headerSize: u64): i32 {
  const field = readNumbers(h, type);
  if (field != F_NONE) return failHeader(E_BAD_NUMBER, hOff, field, h);
  const rec = RECS + <usize>(recCount * REC_SIZE);
  // Raw path: x path, else GNU long name, else the header's prefix + name.
  const rawOff = arenaUsed;
  let nulPossible = true;
  if (xPathLen >= 0) {
    arenaPut(xPathOff, xPathLen);
  } else if (longNameLen >= 0) {
    arenaPut(longNameOff, trimNuls(longNameOff, longNameLen));
  } else {
    nulPossible = false;
    headerName(h);
  }
  const rawLen = arenaUsed - rawOff;
  const rawPtr = ARENA + <usize>rawOff;
  // Old tars mark directories by a trailing slash on a '\0' entry (Python reads them so too).
  if (tf == 0 && rawLen > 0 && load<u8>(rawPtr + rawLen - 1) == 0x2f) type = ENT_DIR;
  // Links, directories, devices and fifos carry no data, whatever their size field says (as
  // Python and Go read them); only regular files are followed by data blocks.
  const size: u64 = type != ENT_FILE ? 0 : xSizeSet ? xSize : headerSize;
  if (size > maxSize) return failHeader(E_SIZE_OVER_LIMIT, hOff, F_SIZE, h);

  let reject = policy(rawPtr, rawLen, nulPossible);
  store<u32>(rec + REC_RAW_OFF, <u32>rawOff);
  store<u32>(rec + REC_RAW_LEN, <u32>rawLen);
  if (reject == REJ_NONE) {
    store<u32>(rec + REC_PATH_OFF, <u32>arenaUsed);
    store<u32>(rec + REC_PATH_LEN, <u32>normLen);
    arenaUsed += normLen;
  } else {
    // A refused path is kept raw: the extractor must not use it, only report it.
    store<u32>(rec + REC_PATH_OFF, <u32>rawOff);
    store<u32>(rec + REC_PATH_LEN, <u32>rawLen);
  }
  const linkReject = emitLink(h, rec, type);
  if (reject == REJ_NONE) reject = linkReject;
  emitXattrs(rec);

  store<u8>(rec + REC_TYPE, type);
  store<u8>(rec + REC_REJECT, reject);
  store<u32>(rec + REC_MODE, eMode);
  store<u32>(rec + REC_UID, eUid);
  store<u32>(rec + REC_GID, eGid);
  store<f64>(rec + REC_SIZE_F, <f64>size);
  store<f64>(rec + REC_DATA_OFF, <f64>(hOff + 512));
  store<f64>(rec + REC_MTIME, <f64>eMtime);
  store<u32>(rec + REC_NSEC, eNsec);
  store<u32>(rec + REC_DEVMAJOR, eDevMajor);
  store<u32>(rec + REC_DEVMINOR, eDevMinor);
  recCount++;

  // The pending meta belonged to this entry.
  metaUsed = 0;
  longNameLen = -1;
  longLinkLen = -1;
  paxResetPending();
  if (size > 0) rememberDataName(rawPtr, rawLen);
  skip(padded(size), true);
  return 0;
}

function arenaPut(src: usize, len: i32): void {
  memory.copy(ARENA + <usize>arenaUsed, src, <usize>len);
  arenaUsed += len;
}

/** Copies prefix + '/' + name (ustar) or just name into the arena. */
function headerName(h: usize): void {
  if (isUstar(h) && load<u8>(h + 345) != 0) {
    arenaPut(h + 345, fieldLen(h + 345, 155));
    store<u8>(ARENA + <usize>arenaUsed, 0x2f);
    arenaUsed++;
  }
  arenaPut(h, fieldLen(h, 100));
}

let normLen: i32 = 0;

/** Path policy; on success the normalized path is at the arena's end (normLen bytes, not yet
 * counted in arenaUsed). */
function policy(raw: usize, len: i32, nulPossible: bool): u8 {
  if (nulPossible && findNul(raw, len) >= 0) return REJ_NUL;
  if (len > 0 && load<u8>(raw) == 0x2f) return REJ_ABSOLUTE;
  const n = normalize(raw, len, ARENA + <usize>arenaUsed);
  if (n == NORM_EMPTY) return REJ_EMPTY;
  if (n == NORM_ESCAPE) return REJ_DOTDOT;
  normLen = n;
  return REJ_NONE;
}

/** Link target: x linkpath, else GNU long link, else the header's linkname. Symlink targets go
 * through verbatim (the extractor decides what they may point at); hardlink targets name an entry
 * of this archive, so they get the same policy as paths. Returns the link's reject reason. */
function emitLink(h: usize, rec: usize, type: u8): u8 {
  store<u32>(rec + REC_LINK_OFF, <u32>arenaUsed);
  store<u32>(rec + REC_LINK_LEN, 0);
  if (type != ENT_HARDLINK && type != ENT_SYMLINK) return REJ_NONE;
  const rawOff = arenaUsed;
  let nulPossible = true;
  if (xLinkLen >= 0) arenaPut(xLinkOff, xLinkLen);
  else if (longLinkLen >= 0) arenaPut(longLinkOff, trimNuls(longLinkOff, longLinkLen));
  else {
    nulPossible = false;
    arenaPut(h + 157, fieldLen(h + 157, 100));
  }
  const rawLen = arenaUsed - rawOff;
  const raw = ARENA + <usize>rawOff;
  store<u32>(rec + REC_LINK_OFF, <u32>rawOff);
  store<u32>(rec + REC_LINK_LEN, <u32>rawLen);
  if (type == ENT_SYMLINK) {
    return nulPossible && findNul(raw, rawLen) >= 0 ? REJ_NUL : REJ_NONE;
  }
  const r = policy(raw, rawLen, nulPossible);
  if (r == REJ_ABSOLUTE) return REJ_LINK_ABSOLUTE;
  if (r == REJ_DOTDOT) return REJ_LINK_DOTDOT;
  if (r != REJ_NONE) return r;
  store<u32>(rec + REC_LINK_OFF, <u32>arenaUsed);
  store<u32>(rec + REC_LINK_LEN, <u32>normLen);
  arenaUsed += normLen;
  return REJ_NONE;
}

/** Copies the xattrs of every pending 'x' payload, in archive order. */
function emitXattrs(rec: usize): void {
  const start = arenaUsed;
  paxXattrReset();
  if (xXattrBytes > 0) {
    let pos = 0;
    while (pos < metaUsed) {
      const kind = load<u32>(META + <usize>pos);
      const len = <i32>load<u32>(META + <usize>pos + 4);
      if (kind == T_PAX) arenaUsed += paxCopyXattrs(META + <usize>(pos + 8), len, ARENA + <usize>arenaUsed);
      pos += 8 + len;
    }
  }
  store<u32>(rec + REC_XATTR_OFF, <u32>start);
  store<u32>(rec + REC_XATTR_COUNT, <u32>xattrCount);
  store<u32>(rec + REC_XATTR_BYTES, <u32>(arenaUsed - start));
}

function rememberDataName(p: usize, len: i32): void {
  dataNameLen = min(len, ERR_NAME_CAP);
  memory.copy(ERR_NAME, p, <usize>dataNameLen);
}

function failAt(code: i32, off: u64, field: i32): i32 {
  fatal = code;
  errOff = off;
  errField = field;
  errNameLen = 0;
  return code;
}

/** A fatal error about a header: also keeps the best-known raw name for the message. */
function failHeader(code: i32, off: u64, field: i32, h: usize): i32 {
  failAt(code, off, field);
  let p: usize = 0;
  let len = 0;
  if (xPathLen >= 0) {
    p = xPathOff;
    len = xPathLen;
  } else if (longNameLen >= 0) {
    p = longNameOff;
    len = trimNuls(longNameOff, longNameLen);
  } else {
    p = h;
    len = fieldLen(h, 100);
  }
  errNameLen = min(len, ERR_NAME_CAP);
  memory.copy(ERR_NAME, p, <usize>errNameLen);
  return code;
}
