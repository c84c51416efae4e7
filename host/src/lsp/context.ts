// Where the cursor is in a pod file: which key it is on (for hover) and what may be typed there
// (for completion). Positions are LSP's: 0-based lines, 0-based UTF-16 characters, which is also
// how JavaScript strings index, so no conversion is needed.
//
// Hover uses the TOML syntax tree when the file parses (it understands inline tables and arrays
// of them). Completion runs on files being typed, which rarely parse (`stage1 = ` has no value
// yet), so it reads the lines around the cursor instead.
import { parseTOML } from 'toml-eslint-parser';
import type { AST } from 'toml-eslint-parser';
import type { KeyPath } from './schema.js';

export interface Cursor {
  readonly line: number;
  readonly character: number;
}

/** One part of a dotted key, with the columns it spans on its line (end exclusive). */
export interface KeySegment {
  readonly name: string;
  readonly start: number;
  readonly end: number;
}

/** The key under the cursor: its full path and the columns of the hovered part. */
export interface KeyAtCursor {
  readonly path: KeyPath;
  readonly line: number;
  readonly start: number;
  readonly end: number;
}

const BARE_KEY = /[A-Za-z0-9_-]/;

/**
 * Reads a dotted key (`a."b.c".d`) starting at `from`: bare, "basic" and 'literal' parts with
 * whitespace around the dots. Stops at the first character that cannot continue the key.
 */
export function scanDottedKey(line: string, from: number): { segments: KeySegment[]; end: number } {
  const segments: KeySegment[] = [];
  let i = skipBlanks(line, from);
  for (;;) {
    const seg = scanKeyPart(line, i);
    if (!seg) break;
    segments.push(seg);
    const afterPart = skipBlanks(line, seg.end);
    if (line[afterPart] !== '.') return { segments, end: seg.end };
    i = skipBlanks(line, afterPart + 1);
  }
  return { segments, end: i };
}

function skipBlanks(line: string, i: number): number {
  while (line[i] === ' ' || line[i] === '\t') i++;
  return i;
}

function scanKeyPart(line: string, start: number): KeySegment | undefined {
  const quote = line[start];
  if (quote === '"' || quote === "'") {
    let i = start + 1;
    let name = '';
    while (i < line.length && line[i] !== quote) {
      // Only basic strings have escapes; keep the escaped character and move past it.
      if (quote === '"' && line[i] === '\\' && i + 1 < line.length) i++;
      name += line[i++];
    }
    return i < line.length ? { name, start, end: i + 1 } : undefined;
  }
  let i = start;
  while (i < line.length && BARE_KEY.test(line[i]!)) i++;
  return i > start ? { name: line.slice(start, i), start, end: i } : undefined;
}

const HEADER = /^\s*(\[\[?)/;

/** A `[table]` or `[[array]]` header line: its key segments, or undefined for other lines. */
export function parseHeader(line: string): { segments: KeySegment[]; array: boolean } | undefined {
  const open = HEADER.exec(line);
  if (!open) return undefined;
  const { segments, end } = scanDottedKey(line, open[0].length);
  const close = open[1] === '[[' ? ']]' : ']';
  if (segments.length === 0 || !line.slice(skipBlanks(line, end)).startsWith(close)) return undefined;
  return { segments, array: close === ']]' };
}

/** The header that governs `lineNo`: the nearest one above it (none: the top-level table). */
export function tableHeaderLine(lines: readonly string[], lineNo: number): number | undefined {
  for (let i = lineNo; i >= 0; i--) if (parseHeader(lines[i]!)) return i;
  return undefined;
}

/** The path of the table `lineNo` is in; [] at the top level. */
export function tablePathAt(lines: readonly string[], lineNo: number): string[] {
  const header = tableHeaderLine(lines, lineNo);
  return header === undefined ? [] : parseHeader(lines[header]!)!.segments.map((s) => s.name);
}

/** The first key segment of every `key = value` line in the table around `lineNo`, except on that line. */
export function keysPresent(lines: readonly string[], lineNo: number): Set<string> {
  const header = tableHeaderLine(lines, lineNo);
  const present = new Set<string>();
  for (let i = header === undefined ? 0 : header + 1; i < lines.length; i++) {
    if (parseHeader(lines[i]!)) break;
    if (i === lineNo) continue;
    const { segments, end } = scanDottedKey(lines[i]!, 0);
    if (segments.length > 0 && lines[i]![skipBlanks(lines[i]!, end)] === '=') present.add(segments[0]!.name);
  }
  return present;
}

// ---------------------------------------------------------------------------------------------
// Hover: the key under the cursor.

/** The key path under the cursor, or undefined when the cursor is not on a key. */
export function keyAt(text: string, cursor: Cursor): KeyAtCursor | undefined {
  let ast: AST.TOMLProgram | undefined;
  try {
    ast = parseTOML(text);
  } catch {
    // A file being edited: fall back to reading the cursor's line and the header above it.
  }
  return ast ? keyInTree(ast, cursor) : keyOnLine(text.split(/\r?\n/), cursor);
}

function keyInTree(ast: AST.TOMLProgram, cursor: Cursor): KeyAtCursor | undefined {
  const top = ast.body[0];
  if (!top) return undefined;
  for (const node of top.body) {
    const found = node.type === 'TOMLTable' ? keyInTable(node, cursor) : keyInKeyValue(node, [], cursor);
    if (found) return found;
  }
  return undefined;
}

function keyInTable(table: AST.TOMLTable, cursor: Cursor): KeyAtCursor | undefined {
  const header = keyInKey(table.key, [], cursor);
  if (header) return header;
  const base = table.resolvedKey.filter((k): k is string => typeof k === 'string');
  for (const kv of table.body) {
    const found = keyInKeyValue(kv, base, cursor);
    if (found) return found;
  }
  return undefined;
}

function keyInKeyValue(kv: AST.TOMLKeyValue, base: KeyPath, cursor: Cursor): KeyAtCursor | undefined {
  if (!contains(kv.loc, cursor)) return undefined;
  return keyInKey(kv.key, base, cursor) ?? keyInValue(kv.value, [...base, ...kv.key.keys.map(keyName)], cursor);
}

/** Inline tables (`labels = { a = "b" }`) and arrays of them (`hosts = [{ ip = ... }]`). */
function keyInValue(value: AST.TOMLContentNode, base: KeyPath, cursor: Cursor): KeyAtCursor | undefined {
  if (value.type === 'TOMLInlineTable') {
    for (const kv of value.body) {
      const found = keyInKeyValue(kv, base, cursor);
      if (found) return found;
    }
  } else if (value.type === 'TOMLArray') {
    for (const element of value.elements) {
      const found = contains(element.loc, cursor) ? keyInValue(element, base, cursor) : undefined;
      if (found) return found;
    }
  }
  return undefined;
}

function keyInKey(key: AST.TOMLKey, base: KeyPath, cursor: Cursor): KeyAtCursor | undefined {
  const index = key.keys.findIndex((part) => contains(part.loc, cursor));
  if (index < 0) return undefined;
  const part = key.keys[index]!;
  return {
    path: [...base, ...key.keys.slice(0, index + 1).map(keyName)],
    line: part.loc.start.line - 1,
    start: part.loc.start.column,
    end: part.loc.end.column,
  };
}

function keyName(part: AST.TOMLBare | AST.TOMLQuoted): string {
  return part.type === 'TOMLBare' ? part.name : part.value;
}

/** Whether a node (1-based lines, 0-based columns, end exclusive) holds the cursor; its end counts too. */
function contains(loc: AST.SourceLocation, cursor: Cursor): boolean {
  const line = cursor.line + 1;
  if (line < loc.start.line || line > loc.end.line) return false;
  if (line === loc.start.line && cursor.character < loc.start.column) return false;
  return !(line === loc.end.line && cursor.character > loc.end.column);
}

/** Hover on a file that does not parse: the key or header on the cursor's line. */
function keyOnLine(lines: readonly string[], cursor: Cursor): KeyAtCursor | undefined {
  const line = lines[cursor.line];
  if (line === undefined) return undefined;
  const header = parseHeader(line);
  const base = header ? [] : tablePathAt(lines, cursor.line);
  const { segments } = header ?? scanDottedKey(line, 0);
  const index = segments.findIndex((s) => cursor.character >= s.start && cursor.character <= s.end);
  if (index < 0) return undefined;
  return { path: [...base, ...segments.slice(0, index + 1).map((s) => s.name)], line: cursor.line, start: segments[index]!.start, end: segments[index]!.end };
}

// ---------------------------------------------------------------------------------------------
// Completion: what may be typed at the cursor.

export type CompletionContext =
  /** After `[` or `[[`: a table name; `from` is where the typed name starts. */
  | { readonly kind: 'header'; readonly array: boolean; readonly from: number }
  /** At the start of a line: a key of `table` not yet in `present`; `from` starts the typed part. */
  | { readonly kind: 'key'; readonly table: KeyPath; readonly present: ReadonlySet<string>; readonly from: number }
  /** After `key = `: a value for the key at `path`; `from` starts the typed value. */
  | { readonly kind: 'value'; readonly path: KeyPath; readonly from: number };

export function completionContext(text: string, cursor: Cursor): CompletionContext | undefined {
  const lines = text.split(/\r?\n/);
  const before = (lines[cursor.line] ?? '').slice(0, cursor.character);
  const header = /^\s*(\[\[?)\s*/.exec(before);
  if (header) {
    // Only while the name is still being typed: nothing but key characters after the bracket.
    return /^[A-Za-z0-9_.\-"' ]*$/.test(before.slice(header[0].length)) ? { kind: 'header', array: header[1] === '[[', from: header[0].length } : undefined;
  }
  const table = tablePathAt(lines, cursor.line);
  const { segments, end } = scanDottedKey(before, 0);
  const afterKey = before.slice(end);
  const assign = /^\s*=\s*/.exec(afterKey);
  if (assign && segments.length > 0) {
    const from = end + assign[0].length;
    // A value still being typed: nothing yet, a bare word (true) or an open quoted string.
    if (!/^("[^"]*|'[^']*|[A-Za-z0-9_-]*)$/.test(before.slice(from))) return undefined;
    return { kind: 'value', path: [...table, ...segments.map((s) => s.name)], from };
  }
  if (afterKey.trim() !== '' && afterKey.trim() !== '.') return undefined;
  // The last segment is the one being typed; the ones before it (`security.`) name a subtable.
  const typing = before.endsWith('.') || segments.length === 0 ? undefined : segments[segments.length - 1];
  const parents = segments.slice(0, typing ? -1 : undefined).map((s) => s.name);
  const present = parents.length === 0 ? keysPresent(lines, cursor.line) : new Set<string>();
  return { kind: 'key', table: [...table, ...parents], present, from: typing ? typing.start : cursor.character };
}
