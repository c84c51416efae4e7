// Lexical path policy. A tar path is resolved against the extraction root without touching the
// filesystem: '.' and empty components vanish, '..' pops a component and must never pop the root.
// Symlinks inside the target are the extractor's business; this only stops the lexical escapes.

const SLASH: u8 = 0x2f;
const DOT: u8 = 0x2e;

/** normalize() results below zero. */
export const NORM_ESCAPE: i32 = -1;
export const NORM_EMPTY: i32 = -2;

/** Writes the normalized form of src[0..len) to dst and returns its length, or NORM_ESCAPE when a
 * '..' would climb above the root, or NORM_EMPTY when src has no component at all. Leading
 * slashes are skipped (the caller rejects absolute paths before). A path that resolves to the
 * root itself ('.', './', 'a/..') becomes "." so the root entry stays representable.
 * The output is never longer than the input, and dst must not overlap src. */
export function normalize(src: usize, len: i32, dst: usize): i32 {
  let o = 0;
  let i = 0;
  let sawComponent = false;
  while (i < len) {
    while (i < len && load<u8>(src + i) == SLASH) i++;
    if (i >= len) break;
    const s = i;
    while (i < len && load<u8>(src + i) != SLASH) i++;
    const n = i - s;
    sawComponent = true;
    if (n == 1 && load<u8>(src + s) == DOT) continue;
    if (n == 2 && load<u8>(src + s) == DOT && load<u8>(src + s + 1) == DOT) {
      if (o == 0) return NORM_ESCAPE;
      // Components are never empty, so cutting at the last slash leaves no "a//c".
      let k = o;
      while (k > 0 && load<u8>(dst + k - 1) != SLASH) k--;
      o = k > 0 ? k - 1 : 0;
      continue;
    }
    if (o > 0) {
      store<u8>(dst + o, SLASH);
      o++;
    }
    memory.copy(dst + o, src + s, n);
    o += n;
  }
  if (o > 0) return o;
  if (!sawComponent) return NORM_EMPTY;
  store<u8>(dst, DOT);
  return 1;
}

/** Index of the first NUL in p[0..len), or -1. */
export function findNul(p: usize, len: i32): i32 {
  for (let i = 0; i < len; i++) if (load<u8>(p + i) == 0) return i;
  return -1;
}

/** Length of p[0..len) without its trailing NULs (GNU long names end with one). */
export function trimNuls(p: usize, len: i32): i32 {
  while (len > 0 && load<u8>(p + len - 1) == 0) len--;
  return len;
}

/** Length of a NUL-terminated header field of at most max bytes. */
export function fieldLen(p: usize, max: i32): i32 {
  let n = 0;
  while (n < max && load<u8>(p + n) != 0) n++;
  return n;
}
