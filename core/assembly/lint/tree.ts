// The parsed pod file as the host hands it over (host/src/podfile/tree.ts writes it): a table of
// nodes in document pre-order, NODE_WORDS i32 each, and a pool of UTF-8 key and string bytes.
// Every node carries its parent, its key and two ranges (key and value), so each diagnostic can
// point at exactly the text it is about.

// Node kinds (host/src/podfile/tree.ts keeps the same values).
export const K_TABLE: i32 = 1;
export const K_ARRAY: i32 = 2;
export const K_STRING: i32 = 3;
export const K_INTEGER: i32 = 4;
export const K_FLOAT: i32 = 5;
export const K_BOOLEAN: i32 = 6;
export const K_DATETIME: i32 = 7;

// Schema type bits (core/gen/lint-schema.mjs keeps the same values).
export const T_OBJECT: i32 = 1;
export const T_ARRAY: i32 = 2;
export const T_STRING: i32 = 4;
export const T_INTEGER: i32 = 8;
export const T_NUMBER: i32 = 16;
export const T_BOOLEAN: i32 = 32;

export const NODE_WORDS: i32 = 14;
const F_KIND = 0;
const F_PARENT = 1;
const F_KEY_OFF = 2;
const F_KEY_LEN = 3;
const F_A = 4;
const F_B = 5;
const F_VALUE_RANGE = 6;
const F_KEY_RANGE = 10;

export class Range {
  constructor(public sl: i32, public sc: i32, public el: i32, public ec: i32) {}
}

export class Tree {
  firstChild: StaticArray<i32>;
  nextSibling: StaticArray<i32>;
  lastChild: StaticArray<i32>;

  constructor(public nodes: usize, public count: i32, public pool: usize, public poolLen: i32) {
    this.firstChild = new StaticArray<i32>(count);
    this.nextSibling = new StaticArray<i32>(count);
    this.lastChild = new StaticArray<i32>(count);
    for (let i = 0; i < count; i++) {
      this.firstChild[i] = -1;
      this.nextSibling[i] = -1;
      this.lastChild[i] = -1;
    }
    // Pre-order: a child always follows its parent, so appending keeps document order.
    for (let i = 1; i < count; i++) {
      const p = this.parent(i);
      if (p < 0 || p >= i) continue;
      if (this.lastChild[p] < 0) this.firstChild[p] = i;
      else this.nextSibling[this.lastChild[p]] = i;
      this.lastChild[p] = i;
    }
  }

  private word(i: i32, f: i32): i32 {
    return load<i32>(this.nodes + ((<usize>i * NODE_WORDS + f) << 2));
  }

  kind(i: i32): i32 {
    return this.word(i, F_KIND);
  }

  parent(i: i32): i32 {
    return this.word(i, F_PARENT);
  }

  hasKey(i: i32): bool {
    return this.word(i, F_KEY_OFF) >= 0;
  }

  key(i: i32): string {
    const off = this.word(i, F_KEY_OFF);
    return off < 0 ? '' : this.poolString(off, this.word(i, F_KEY_LEN));
  }

  /** A string node's value. */
  str(i: i32): string {
    return this.poolString(this.word(i, F_A), this.word(i, F_B));
  }

  int(i: i32): i64 {
    return (<i64>this.word(i, F_B) << 32) | (<i64>this.word(i, F_A) & 0xffffffff);
  }

  float(i: i32): f64 {
    return reinterpret<f64>(this.int(i));
  }

  bool(i: i32): bool {
    return this.word(i, F_A) != 0;
  }

  valueRange(i: i32): Range {
    return this.range(i, F_VALUE_RANGE);
  }

  keyRange(i: i32): Range {
    return this.range(i, F_KEY_RANGE);
  }

  /** The child of table i named name, or -1. */
  child(i: i32, name: string): i32 {
    for (let c = this.firstChild[i]; c >= 0; c = this.nextSibling[c]) if (this.key(c) == name) return c;
    return -1;
  }

  childCount(i: i32): i32 {
    let n = 0;
    for (let c = this.firstChild[i]; c >= 0; c = this.nextSibling[c]) n++;
    return n;
  }

  private range(i: i32, f: i32): Range {
    return new Range(this.word(i, f), this.word(i, f + 1), this.word(i, f + 2), this.word(i, f + 3));
  }

  private poolString(off: i32, len: i32): string {
    if (off < 0 || len < 0 || off + len > this.poolLen) return '';
    return String.UTF8.decodeUnsafe(this.pool + <usize>off, <usize>len);
  }
}

/** What a schema type bit is called in messages. */
export function kindName(kind: i32): string {
  switch (kind) {
    case K_TABLE: return 'a table';
    case K_ARRAY: return 'an array';
    case K_STRING: return 'a string';
    case K_INTEGER: return 'an integer';
    case K_FLOAT: return 'a float';
    case K_BOOLEAN: return 'a boolean';
    default: return 'a date-time';
  }
}

export function typeMatches(kind: i32, types: i32): bool {
  switch (kind) {
    case K_TABLE: return (types & T_OBJECT) != 0;
    case K_ARRAY: return (types & T_ARRAY) != 0;
    case K_STRING: return (types & T_STRING) != 0;
    case K_INTEGER: return (types & (T_INTEGER | T_NUMBER)) != 0;
    case K_FLOAT: return (types & T_NUMBER) != 0;
    case K_BOOLEAN: return (types & T_BOOLEAN) != 0;
    default: return false;
  }
}

export function typeNames(types: i32): string {
  const names = new Array<string>();
  if (types & T_OBJECT) names.push('a table');
  if (types & T_ARRAY) names.push('an array');
  if (types & T_STRING) names.push('a string');
  if (types & T_INTEGER) names.push('an integer');
  if (types & T_NUMBER) names.push('a number');
  if (types & T_BOOLEAN) names.push('a boolean');
  return names.join(' or ');
}
