// A pod file's TOML, parsed with positions (toml-eslint-parser, TOML 1.0), merged into one value
// tree (tables, [[arrays of tables]], dotted keys and inline tables all become plain nesting) and
// encoded for the lint core: nodes in pre-order, NODE_WORDS i32 each, then a UTF-8 pool of keys
// and strings. The layout is core/assembly/lint/tree.ts's; keep the two in step.
//
// Built for speed (bench/lint: validation must cost no more than parsing): one node class so
// property access stays monomorphic, ranges as plain numbers, one pool buffer written in place.
import type { AST } from 'toml-eslint-parser';

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

type Loc = AST.SourceLocation;

/** One value with where its key and its value are (1-based lines, 1-based UTF-16 columns). */
export class ValueNode {
  readonly children: ValueNode[] = [];
  keyLoc: Loc;
  valueLoc: Loc;

  constructor(
    readonly kind: Kind,
    readonly key: string | undefined,
    keyLoc: Loc,
    valueLoc: Loc,
    readonly scalar: string | bigint | number | boolean | undefined = undefined,
  ) {
    this.keyLoc = keyLoc;
    this.valueLoc = valueLoc;
  }

  member(key: string): ValueNode | undefined {
    for (const c of this.children) if (c.key === key) return c;
    return undefined;
  }
}

const I64_MIN = -(2n ** 63n);
const I64_MAX = 2n ** 63n - 1n;

function keyName(k: AST.TOMLBare | AST.TOMLQuoted): string {
  return k.type === 'TOMLBare' ? k.name : k.value;
}

/** The merged tree of a parsed document, and how many nodes it has. */
export class TreeBuilder {
  count = 1;
  readonly root: ValueNode;

  constructor(firstLine: Loc) {
    this.root = new ValueNode(Kind.Table, undefined, firstLine, firstLine);
  }

  build(ast: AST.TOMLProgram): ValueNode {
    for (const item of ast.body[0].body) {
      if (item.type === 'TOMLKeyValue') this.addKeyValue(this.root, item);
      else this.addTable(item);
    }
    return this.root;
  }

  private add(parent: ValueNode, node: ValueNode): ValueNode {
    parent.children.push(node);
    this.count++;
    return node;
  }

  /** The table a dotted key or header path leads to, creating implicit tables on the way. */
  private descend(from: ValueNode, keys: ReadonlyArray<AST.TOMLBare | AST.TOMLQuoted>, upTo: number): ValueNode {
    let t = from;
    for (let i = 0; i < upTo; i++) {
      const k = keys[i]!;
      const name = keyName(k);
      const next = t.member(name) ?? this.add(t, new ValueNode(Kind.Table, name, k.loc, k.loc));
      // A [[table]] array: later headers and dotted keys extend its last element.
      t = next.kind === Kind.Array ? (next.children[next.children.length - 1] ?? next) : next;
    }
    return t;
  }

  private addKeyValue(table: ValueNode, kv: AST.TOMLKeyValue): void {
    const keys = kv.key.keys;
    const parent = this.descend(table, keys, keys.length - 1);
    const last = keys[keys.length - 1]!;
    this.addValue(parent, kv.value, keyName(last), last.loc);
  }

  private addValue(parent: ValueNode, v: AST.TOMLContentNode, key: string | undefined, keyLoc: Loc | undefined): void {
    const loc = v.loc;
    if (v.type === 'TOMLArray') {
      const array = this.add(parent, new ValueNode(Kind.Array, key, keyLoc ?? loc, loc));
      for (const e of v.elements) this.addValue(array, e, undefined, undefined);
    } else if (v.type === 'TOMLInlineTable') {
      const t = this.add(parent, new ValueNode(Kind.Table, key, keyLoc ?? loc, loc));
      for (const kv of v.body) this.addKeyValue(t, kv);
    } else {
      this.add(parent, new ValueNode(scalarKind(v), key, keyLoc ?? loc, loc, scalarOf(v)));
    }
  }

  private addTable(t: AST.TOMLTable): void {
    const keys = t.key.keys;
    const parent = this.descend(this.root, keys, keys.length - 1);
    const name = keyName(keys[keys.length - 1]!);
    const header = t.key.loc;
    let target: ValueNode;
    if (t.kind === 'array') {
      const array = parent.member(name) ?? this.add(parent, new ValueNode(Kind.Array, name, header, header));
      target = this.add(array, new ValueNode(Kind.Table, undefined, header, header));
    } else {
      target = parent.member(name) ?? this.add(parent, new ValueNode(Kind.Table, name, header, header));
      // An implicit table (made by a deeper header first) now has a header of its own.
      target.keyLoc = header;
      target.valueLoc = header;
    }
    for (const kv of t.body) this.addKeyValue(target, kv);
  }
}

function scalarKind(v: AST.TOMLValue): Kind {
  switch (v.kind) {
    case 'string': return Kind.String;
    case 'integer': return Kind.Integer;
    case 'float': return Kind.Float;
    case 'boolean': return Kind.Boolean;
    default: return Kind.DateTime;
  }
}

function scalarOf(v: AST.TOMLValue): string | bigint | number | boolean | undefined {
  switch (v.kind) {
    case 'string': return v.value;
    case 'integer': return v.bigint;
    case 'float':
    case 'boolean': return v.value;
    default: return undefined;
  }
}

/** Writes the node table at `nodes` (NODE_WORDS each) and the pool into `pool`; returns pool bytes. */
export function encodeTree(root: ValueNode, count: number, nodes: Int32Array, pool: Buffer): number {
  let poolLen = 0;
  const intern = (s: string): number => {
    // Buffer.write truncates silently: make sure the bound held (it always should).
    if (poolLen + s.length * 3 > pool.length && poolLen + Buffer.byteLength(s) > pool.length) throw new Error('tree encoding: pool bound exceeded');
    const n = pool.write(s, poolLen, 'utf8');
    poolLen += n;
    return n;
  };
  // Iterative: a deep tree cannot overflow the stack.
  const stack: ValueNode[] = [root];
  const parents: number[] = [-1];
  let index = 0;
  while (stack.length > 0) {
    const node = stack.pop()!;
    const at = index * NODE_WORDS;
    nodes[at] = node.kind;
    nodes[at + 1] = parents.pop()!;
    if (node.key === undefined) {
      nodes[at + 2] = -1;
      nodes[at + 3] = 0;
    } else {
      nodes[at + 2] = poolLen;
      nodes[at + 3] = intern(node.key);
    }
    if (node.kind === Kind.String) {
      nodes[at + 4] = poolLen;
      nodes[at + 5] = intern(node.scalar as string);
    } else {
      writeScalar(nodes, at + 4, node);
    }
    writeLoc(nodes, at + 6, node.valueLoc);
    writeLoc(nodes, at + 10, node.keyLoc);
    for (let i = node.children.length - 1; i >= 0; i--) {
      stack.push(node.children[i]!);
      parents.push(index);
    }
    index++;
  }
  if (index !== count) throw new Error(`tree encoding: ${index} nodes written, ${count} counted`);
  return poolLen;
}

/** An upper bound of the pool's bytes: every key and string comes from the text (3 bytes per unit). */
export function poolBound(text: string): number {
  return text.length * 3 + 16;
}

function writeLoc(nodes: Int32Array, at: number, loc: Loc): void {
  nodes[at] = loc.start.line;
  nodes[at + 1] = loc.start.column + 1;
  nodes[at + 2] = loc.end.line;
  nodes[at + 3] = loc.end.column + 1;
}

const f64 = new Float64Array(1);
const f64Words = new Int32Array(f64.buffer);

function writeScalar(nodes: Int32Array, at: number, node: ValueNode): void {
  const v = node.scalar;
  if (node.kind === Kind.Integer && typeof v === 'bigint') {
    const clamped = v < I64_MIN ? I64_MIN : v > I64_MAX ? I64_MAX : v;
    nodes[at] = Number(BigInt.asIntN(32, clamped));
    nodes[at + 1] = Number(BigInt.asIntN(32, clamped >> 32n));
  } else if (node.kind === Kind.Float && typeof v === 'number') {
    f64[0] = v;
    nodes[at] = f64Words[0]!;
    nodes[at + 1] = f64Words[1]!;
  } else {
    nodes[at] = v === true ? 1 : 0;
    nodes[at + 1] = 0;
  }
}
