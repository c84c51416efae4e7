// JSON documents (appc manifests, OCI image configs) parsed with positions into the same value
// tree the lint core reads for pod files: JSON.parse keeps no positions, and a diagnostic must
// point at its key or value. Integers (no fraction, no exponent) become Integer nodes with exact
// 64-bit values; other numbers Float. Nesting is bounded by the caller's pre-scan (lint.ts).
import type { AST } from 'toml-eslint-parser';
import { Kind, ValueNode } from './tree.js';

type Loc = AST.SourceLocation;

export class JsonSyntaxError extends Error {
  constructor(message: string, readonly line: number, readonly column: number) {
    super(message);
  }
}

export class JsonTreeParser {
  count = 0;
  private i = 0;
  private line = 1;
  private lineStart = 0;

  constructor(private readonly text: string) {}

  parse(): ValueNode {
    this.skipSpace();
    const root = this.value(undefined, undefined);
    if (!root) this.fail('the document is null');
    this.skipSpace();
    if (this.i < this.text.length) this.fail('unexpected text after the document');
    return root;
  }

  private pos(): { line: number; column: number } {
    return { line: this.line, column: this.i - this.lineStart };
  }

  private fail(why: string): never {
    throw new JsonSyntaxError(`JSON syntax error: ${why}`, this.line, this.i - this.lineStart);
  }

  private skipSpace(): void {
    for (; this.i < this.text.length; this.i++) {
      const c = this.text.charCodeAt(this.i);
      if (c === 10) {
        this.line++;
        this.lineStart = this.i + 1;
      } else if (c !== 32 && c !== 9 && c !== 13) return;
    }
  }

  /** The value at the cursor; undefined for null, which stands for an absent value (as in Go). */
  private value(key: string | undefined, keyLoc: Loc | undefined): ValueNode | undefined {
    const start = this.pos();
    const c = this.text[this.i];
    if (c === '{') return this.object(key, keyLoc, start);
    if (c === '[') return this.array(key, keyLoc, start);
    let kind: Kind;
    let scalar: string | bigint | number | boolean | undefined;
    if (c === '"') {
      kind = Kind.String;
      scalar = this.string();
    } else if (c === 't' || c === 'f' || c === 'n') {
      const word = c === 't' ? 'true' : c === 'f' ? 'false' : 'null';
      if (!this.text.startsWith(word, this.i)) this.fail(`expected ${word}`);
      this.i += word.length;
      if (word === 'null') return undefined;
      kind = Kind.Boolean;
      scalar = word === 'true';
    } else {
      [kind, scalar] = this.number();
    }
    const loc = { start, end: this.pos() };
    this.count++;
    return new ValueNode(kind, key, keyLoc ?? loc, loc, scalar);
  }

  private object(key: string | undefined, keyLoc: Loc | undefined, start: { line: number; column: number }): ValueNode {
    const node = new ValueNode(Kind.Table, key, keyLoc ?? { start, end: start }, { start, end: start });
    this.count++;
    this.i++;
    this.skipSpace();
    if (this.text[this.i] === '}') this.i++;
    else {
      for (;;) {
        this.skipSpace();
        if (this.text[this.i] !== '"') this.fail('expected a "quoted" key');
        const kStart = this.pos();
        const name = this.string();
        const kLoc = { start: kStart, end: this.pos() };
        this.skipSpace();
        if (this.text[this.i++] !== ':') this.fail('expected : after the key');
        this.skipSpace();
        const member = this.value(name, kLoc);
        if (member) node.children.push(member);
        this.skipSpace();
        const sep = this.text[this.i++];
        if (sep === '}') break;
        if (sep !== ',') this.fail('expected , or }');
      }
    }
    // An object's own range is its opening brace: diagnostics about it point there, not at its end.
    node.valueLoc = { start, end: { line: start.line, column: start.column + 1 } };
    if (!keyLoc) node.keyLoc = node.valueLoc;
    return node;
  }

  private array(key: string | undefined, keyLoc: Loc | undefined, start: { line: number; column: number }): ValueNode {
    const node = new ValueNode(Kind.Array, key, keyLoc ?? { start, end: start }, { start, end: start });
    this.count++;
    this.i++;
    this.skipSpace();
    if (this.text[this.i] === ']') this.i++;
    else {
      for (;;) {
        this.skipSpace();
        const element = this.value(undefined, undefined);
        if (element) node.children.push(element);
        this.skipSpace();
        const sep = this.text[this.i++];
        if (sep === ']') break;
        if (sep !== ',') this.fail('expected , or ]');
      }
    }
    node.valueLoc = { start, end: this.pos() };
    if (!keyLoc) node.keyLoc = node.valueLoc;
    return node;
  }

  private string(): string {
    const from = this.i;
    this.i++;
    while (this.i < this.text.length) {
      const c = this.text.charCodeAt(this.i);
      if (c === 34) {
        this.i++;
        try {
          return JSON.parse(this.text.slice(from, this.i)) as string;
        } catch {
          this.i = from;
          return this.fail('a string with an invalid escape or control character');
        }
      }
      if (c === 10) this.fail('a string must not span lines');
      this.i += c === 92 ? 2 : 1;
    }
    return this.fail('a string is not closed');
  }

  private number(): [Kind, bigint | number] {
    const m = /^-?(0|[1-9]\d*)(\.\d+)?([eE][+-]?\d+)?/.exec(this.text.slice(this.i, this.i + 400));
    if (!m) this.fail('expected a value');
    this.i += m[0].length;
    return m[2] || m[3] ? [Kind.Float, Number(m[0])] : [Kind.Integer, BigInt(m[0])];
  }
}
