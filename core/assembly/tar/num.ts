// Numeric fields: header octal text read the way GNU tar reads it, GNU base-256, and PAX decimals.
// Results go out through module globals (the core allocates nothing, so no tuples).

export const NUM_OK = 0;
export const NUM_BAD = 1;
/** Magnitude over 2^53: not exactly representable on the host, so never accepted. */
export const NUM_BIG = 2;

export const LIMIT: u64 = 9007199254740992; // 2^53

/** Magnitude of the last parsed number. */
export let numVal: u64 = 0;
/** Sign of the last parsed number. */
export let numNeg: bool = false;
/** Nanoseconds of the last parsed PAX time (numVal/numNeg hold whole seconds, floored). */
export let numNsec: u32 = 0;

/** A header numeric field: leading spaces, octal digits, then NUL/space (the rest is ignored, as
 * GNU tar does); an all-blank field is 0. A first byte 0x80/0xFF selects base-256. */
export function parseField(p: usize, len: i32): i32 {
  const b0 = <u32>load<u8>(p);
  if (b0 == 0x80 || b0 == 0xff) return parseBase256(p, len);
  numNeg = false;
  let i = 0;
  while (i < len && load<u8>(p + i) == 0x20) i++;
  let v: u64 = 0;
  while (i < len) {
    const d = <u32>load<u8>(p + i) - 0x30;
    if (d > 7) break;
    v = (v << 3) | <u64>d; // at most 12 digits: no overflow
    i++;
  }
  numVal = v;
  if (i < len) {
    const c = load<u8>(p + i);
    if (c != 0 && c != 0x20) return NUM_BAD;
  }
  return NUM_OK;
}

/** GNU base-256: two's complement big-endian over the bytes after the 0x80/0xFF marker. */
function parseBase256(p: usize, len: i32): i32 {
  const neg = load<u8>(p) == 0xff;
  const flip: u32 = neg ? 0xff : 0;
  numNeg = neg;
  let v: u64 = 0;
  for (let i = 1; i < len; i++) {
    if (v > (LIMIT >> 8)) return NUM_BIG;
    v = (v << 8) | <u64>((<u32>load<u8>(p + i)) ^ flip);
  }
  // For a negative number v is now the bitwise complement of the magnitude minus one.
  if (neg) v += 1;
  numVal = v;
  return v > LIMIT ? NUM_BIG : NUM_OK;
}

/** A PAX decimal integer: an optional '-', then at least one digit, nothing else. */
export function parseDecimal(p: usize, len: i32): i32 {
  let i = 0;
  numNeg = false;
  if (len > 0 && load<u8>(p) == 0x2d) {
    numNeg = true;
    i = 1;
  }
  if (i >= len) return NUM_BAD;
  let v: u64 = 0;
  for (; i < len; i++) {
    const d = <u32>load<u8>(p + i) - 0x30;
    if (d > 9) return NUM_BAD;
    if (v > LIMIT) return NUM_BIG; // keeps v * 10 far from u64 overflow
    v = v * 10 + <u64>d;
  }
  numVal = v;
  return v > LIMIT ? NUM_BIG : NUM_OK;
}

/** A PAX time: [-]digits[.digits]. Fractions past nanoseconds are truncated; a negative time is
 * floored so that numNsec stays in [0, 1e9), as GNU tar normalizes it. */
export function parseTime(p: usize, len: i32): i32 {
  let dot = 0;
  while (dot < len && load<u8>(p + dot) != 0x2e) dot++;
  const st = parseDecimal(p, dot);
  if (st != NUM_OK) return st;
  let ns: u32 = 0;
  if (dot < len) {
    const fracLen = len - dot - 1;
    if (fracLen == 0) return NUM_BAD;
    let scale: u32 = 100000000;
    for (let i = dot + 1; i < len; i++) {
      const d = <u32>load<u8>(p + i) - 0x30;
      if (d > 9) return NUM_BAD;
      ns += d * scale;
      scale /= 10;
    }
  }
  numNsec = ns;
  if (numNeg && ns > 0) {
    numVal += 1;
    numNsec = 1000000000 - ns;
    if (numVal > LIMIT) return NUM_BIG;
  }
  return NUM_OK;
}
