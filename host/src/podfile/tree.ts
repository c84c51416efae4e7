// A pod file's TOML, parsed with positions (toml-eslint-parser, TOML 1.0), merged into one value
// tree (tables, [[arrays of tables]], dotted keys and inline tables all become plain nesting) and
// encoded for the lint core: nodes in pre-order, NODE_WORDS i32 each, then a UTF-8 pool of keys
// and strings. The layout is core/assembly/lint/tree.ts's; keep the two in step.
import type { AST } from 'toml-eslint-parser';
import type { Range } from './diagnostic.js';

export const NODE_WORDS = 14;

export const enum Kind {
  Table = 1,
  Array = 2,
  String = 3,
  Integer = 4,
  Float = 5,
  Boolean = 6,
  DateTime = 7,
}

export interface ValueNode {
  readonly kind: Kind;
  readonly key: string | undefined;
  keyRange: Range;
  valueRange: Range;
  /** Tables: members in document order; arrays: elements. */
  readonly children: ValueNode[];
  readonly scalar?: string | bigint | number | boolean;
}

const I64_MIN = -(2n ** 63n);
const I64_MAX = 2n ** 63n - 1n;

/** An AST location as a Range (1-based line and column, columns in UTF-16 units). */
export function rangeOf(loc: AST.SourceLocation): Range {
  return { start: { line: loc.start.line, column: loc.start.column + 1 }, end: { line: loc.end.line, column: loc.end.column + 1 } };
}

function tableNode(key: string | undefined, keyRange: Range, valueRange: Range): ValueNode {
  return { kind: Kind.Table, key, keyRange, valueRange, children: [] };
}

function member(table: ValueNode, key: string): ValueNode | undefined {
  return table.children.find((c) => c.key === key);
}

function keyName(k: AST.TOMLBare | AST.TOMLQuoted): string {
  return k.type === 'TOMLBare' ? k.name : k.value;
}

/** The table a dotted key or header path leads to, creating implicit tables on the way. */
function descend(from: ValueNode, keys: ReadonlyArray<AST.TOMLBare | AST.TOMLQuoted>): ValueNode {
  let t = from;
  for (const k of keys) {
    const name = keyName(k);
    let next = member(t, name);
    if (!next) {
      next = tableNode(name, rangeOf(k.loc), rangeOf(k.loc));
      t.children.push(next);
    }
    // A [[table]] array: later headers and dotted keys extend its last element.
    t = next.kind === Kind.Array ? (next.children.at(-1) ?? next) : next;
  }
  return t;
}

function convertValue(v: AST.TOMLContentNode, key: string | undefined, keyRange: Range | undefined): ValueNode {
  const valueRange = rangeOf(v.loc);
  const base = { key, keyRange: keyRange ?? valueRange, valueRange };
  if (v.type === 'TOMLArray') return { ...base, kind: Kind.Array, children: v.elements.map((e) => convertValue(e, undefined, undefined)) };
  if (v.type === 'TOMLInlineTable') {
    const t: ValueNode = { ...base, kind: Kind.Table, children: [] };
    for (const kv of v.body) addKeyValue(t, kv);
    return t;
  }
  switch (v.kind) {
    case 'string': return { ...base, kind: Kind.String, children: [], scalar: v.value };
    case 'integer': return { ...base, kind: Kind.Integer, children: [], scalar: v.bigint };
    case 'float': return { ...base, kind: Kind.Float, children: [], scalar: v.value };
    case 'boolean': return { ...base, kind: Kind.Boolean, children: [], scalar: v.value };
    default: return { ...base, kind: Kind.DateTime, children: [] };
  }
}

function addKeyValue(table: ValueNode, kv: AST.TOMLKeyValue): void {
  const keys = kv.key.keys;
  const parent = descend(table, keys.slice(0, -1));
  const last = keys.at(-1)!;
  parent.children.push(convertValue(kv.value, keyName(last), rangeOf(last.loc)));
}

function addTable(root: ValueNode, t: AST.TOMLTable): void {
  const keys = t.key.keys;
  const parent = descend(root, keys.slice(0, -1));
  const last = keys.at(-1)!;
  const name = keyName(last);
  const header = rangeOf(t.key.loc);
  let target: ValueNode;
  if (t.kind === 'array') {
    let array = member(parent, name);
    if (!array) {
      array = { kind: Kind.Array, key: name, keyRange: header, valueRange: header, children: [] };
      parent.children.push(array);
    }
    target = tableNode(undefined, header, header);
    array.children.push(target);
  } else {
    target = member(parent, name) ?? tableNode(name, header, header);
    if (!parent.children.includes(target)) parent.children.push(target);
    // An implicit table (made by a deeper header first) now has a header of its own.
    target.keyRange = header;
    target.valueRange = header;
  }
  for (const kv of t.body) addKeyValue(target, kv);
}

/** The merged value tree of a parsed document. */
export function valueTree(ast: AST.TOMLProgram, firstLine: Range): ValueNode {
  const root = tableNode(undefined, firstLine, firstLine);
  const top = ast.body[0];
  for (const item of top.body) {
    if (item.type === 'TOMLKeyValue') addKeyValue(root, item);
    else addTable(root, item);
  }
  return root;
}

export function countNodes(root: ValueNode): number {
  let n = 0;
  const stack = [root];
  while (stack.length > 0) {
    const node = stack.pop()!;
    n++;
    for (const c of node.children) stack.push(c);
  }
  return n;
}

export interface EncodedTree {
  readonly nodes: Int32Array;
  readonly count: number;
  readonly pool: Uint8Array;
}

/** Pre-order node table and pool for the core. Iterative: a deep tree cannot overflow the stack. */
export function encodeTree(root: ValueNode): EncodedTree {
  const count = countNodes(root);
  const nodes = new Int32Array(count * NODE_WORDS);
  const encoder = new TextEncoder();
  const chunks: Uint8Array[] = [];
  let poolLen = 0;
  const intern = (s: string): [number, number] => {
    const bytes = encoder.encode(s);
    chunks.push(bytes);
    poolLen += bytes.length;
    return [poolLen - bytes.length, bytes.length];
  };
  const stack: Array<[ValueNode, number]> = [[root, -1]];
  let index = 0;
  while (stack.length > 0) {
    const [node, parent] = stack.pop()!;
    const at = index * NODE_WORDS;
    nodes[at] = node.kind;
    nodes[at + 1] = parent;
    const [keyOff, keyLen] = node.key === undefined ? [-1, 0] : intern(node.key);
    nodes[at + 2] = keyOff;
    nodes[at + 3] = keyLen;
    writeScalar(nodes, at + 4, node, intern);
    writeRange(nodes, at + 6, node.valueRange);
    writeRange(nodes, at + 10, node.keyRange);
    for (let i = node.children.length - 1; i >= 0; i--) stack.push([node.children[i]!, index]);
    index++;
  }
  const pool = new Uint8Array(poolLen);
  let off = 0;
  for (const c of chunks) {
    pool.set(c, off);
    off += c.length;
  }
  return { nodes, count, pool };
}

function writeRange(nodes: Int32Array, at: number, r: Range): void {
  nodes[at] = r.start.line;
  nodes[at + 1] = r.start.column;
  nodes[at + 2] = r.end.line;
  nodes[at + 3] = r.end.column;
}

const f64 = new Float64Array(1);
const f64Words = new Int32Array(f64.buffer);

function writeScalar(nodes: Int32Array, at: number, node: ValueNode, intern: (s: string) => [number, number]): void {
  const v = node.scalar;
  if (node.kind === Kind.String && typeof v === 'string') {
    const [off, len] = intern(v);
    nodes[at] = off;
    nodes[at + 1] = len;
  } else if (node.kind === Kind.Integer && typeof v === 'bigint') {
    const clamped = v < I64_MIN ? I64_MIN : v > I64_MAX ? I64_MAX : v;
    nodes[at] = Number(BigInt.asIntN(32, clamped));
    nodes[at + 1] = Number(BigInt.asIntN(32, clamped >> 32n));
  } else if (node.kind === Kind.Float && typeof v === 'number') {
    f64[0] = v;
    nodes[at] = f64Words[0]!;
    nodes[at + 1] = f64Words[1]!;
  } else if (node.kind === Kind.Boolean) {
    nodes[at] = v ? 1 : 0;
  }
}
