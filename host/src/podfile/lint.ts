// Lints a pod file (and appc manifests and OCI image configs, which are JSON): bounds first (size, nesting), then the TOML 1.0 parse with positions, then the
// WASM lint core (core/assembly/lint.ts) on the merged value tree. Never throws on any input: every
// problem, syntax errors included, is a Diagnostic. The language server calls this too.
import { getStaticTOMLValue, parseTOML } from 'toml-eslint-parser';
import { instantiateCore } from '../core/wasm.js';
import { ErrorCodes, tspodError } from '../errors.js';
import { Failure } from '../failure.js';
import type { Diagnostic, Range, Severity } from './diagnostic.js';
import { encodeTree, Kind, NODE_WORDS, poolBound, TreeBuilder, type ValueNode } from './tree.js';
import { JsonSyntaxError, JsonTreeParser } from './json-tree.js';

/** Pod files are small; these bound what a hostile file can cost (time, memory, stack). */
export const LINT_LIMITS = { maxBytes: 1 << 20, maxDepth: 64, maxValues: 100_000 } as const;

interface LintExports {
  readonly memory: WebAssembly.Memory;
  lint_node_words(): number;
  lint_out_words(): number;
  lint_input(bytes: number): number;
  lint_run(nodeCount: number, poolLen: number, schema: number): number;
  lint_out_ptr(): number;
  lint_out_len(): number;
  lint_truncated(): number;
}

let core: LintExports | undefined;
const decoder = new TextDecoder();

function lintCore(): LintExports {
  if (core) return core;
  const instance = instantiateCore('lint');
  // Not a problem of the input (which never throws): a broken install, reported as TSPOD_E_CORE.
  if (instance.isErr()) throw new Failure(instance.error);
  const exports = instance.value.exports as unknown as LintExports;
  if (exports.lint_node_words() !== NODE_WORDS) {
    throw new Failure(tspodError(ErrorCodes.CORE, 'load the WASM core module lint', 'the core and the host disagree on the node layout', 'rebuild tspod with `npm run build`'));
  }
  core = exports;
  return core;
}

const SEVERITY: Record<number, Severity> = { 1: 'error', 2: 'warning', 3: 'info' };

function at(line: number, column: number, endColumn = column + 1): Range {
  return { start: { line, column }, end: { line, column: endColumn } };
}

function firstLineRange(text: string): Range {
  const nl = text.indexOf('\n');
  return at(1, 1, (nl < 0 ? text.length : nl) + 1);
}

/**
 * Where `[`/`{` nesting first goes deeper than max, outside strings and comments, or undefined.
 * Runs before the parser, whose recursion a 100k-deep array would overflow.
 */
export function tooDeepAt(text: string, max: number): Range | undefined {
  let depth = 0;
  let line = 1;
  let lineStart = 0;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (c === 10) {
      line++;
      lineStart = i + 1;
    } else if (c === 35) {
      while (i + 1 < text.length && text.charCodeAt(i + 1) !== 10) i++;
    } else if (c === 34 || c === 39) {
      const end = skipString(text, i);
      for (let j = i; j < end; j++) {
        if (text.charCodeAt(j) === 10) {
          line++;
          lineStart = j + 1;
        }
      }
      i = end - 1;
    } else if (c === 91 || c === 123) {
      if (++depth > max) return at(line, i - lineStart + 1);
    } else if (c === 93 || c === 125) {
      depth = Math.max(0, depth - 1);
    }
  }
  return undefined;
}

/** The index just past the string starting at i (basic or literal, single or multi-line). */
function skipString(text: string, i: number): number {
  const q = text[i]!;
  const multi = text.startsWith(q.repeat(3), i);
  const close = multi ? q.repeat(3) : q;
  let j = i + close.length;
  while (j < text.length) {
    if (q === '"' && text[j] === '\\') j += 2;
    else if (text.startsWith(close, j)) return j + close.length;
    else if (!multi && text[j] === '\n') return j;
    else j++;
  }
  return text.length;
}

function syntaxDiagnostic(e: unknown, text: string): Diagnostic {
  const p = e as { lineNumber?: number; column?: number; message?: string };
  if (typeof p.lineNumber === 'number' && typeof p.column === 'number') {
    return { rule: 'TSPOD_L_SYNTAX', severity: 'error', message: `TOML syntax error: ${p.message}.`, range: at(p.lineNumber, p.column + 1) };
  }
  return { rule: 'TSPOD_L_SYNTAX', severity: 'error', message: `the file cannot be parsed as TOML 1.0 (${String(p.message ?? e)}).`, range: firstLineRange(text) };
}

function bounded(rule: string, message: string, range: Range): Diagnostic[] {
  return [{ rule, severity: 'error', message, range }];
}

/** Diagnostics for a pod file's text, sorted by position. */
export function lintPodText(text: string): Diagnostic[] {
  return lintAndParsePod(text).diagnostics;
}

/**
 * Lint and, when the file parses, its plain value (bigints for integers): one parse for callers
 * that need both (apply), as parsing is most of the cost.
 */
export function lintAndParsePod(text: string): { diagnostics: Diagnostic[]; value?: unknown } {
  const bytes = Buffer.byteLength(text);
  if (bytes > LINT_LIMITS.maxBytes) {
    return { diagnostics: bounded('TSPOD_L_TOO_LARGE', `the file is ${bytes} bytes; pod files are limited to ${LINT_LIMITS.maxBytes} bytes: split it, or check it is the file you meant.`, firstLineRange(text)) };
  }
  const deep = tooDeepAt(text, LINT_LIMITS.maxDepth);
  if (deep) return { diagnostics: bounded('TSPOD_L_TOO_DEEP', `arrays and inline tables nest deeper than ${LINT_LIMITS.maxDepth} levels here: flatten the structure.`, deep) };
  let ast;
  try {
    ast = parseTOML(text, { tomlVersion: '1.0.0' });
  } catch (e) {
    return { diagnostics: [syntaxDiagnostic(e, text)] };
  }
  const first = firstLineRange(text);
  const builder = new TreeBuilder({ start: { line: 1, column: 0 }, end: { line: 1, column: first.end.column - 1 } });
  const tree = builder.build(ast);
  if (builder.count > LINT_LIMITS.maxValues) {
    return { diagnostics: bounded('TSPOD_L_TOO_MANY_VALUES', `the file holds ${builder.count} values; pod files are limited to ${LINT_LIMITS.maxValues}: check it is the file you meant.`, first) };
  }
  return { diagnostics: runCore(tree, builder.count, poolBound(text), SCHEMA.podFile), value: getStaticTOMLValue(ast) };
}

/** The documents the core knows (core/assembly/lint.ts's schema ids). */
export const SCHEMA = { podFile: 0, appcImageManifest: 1, appcPodManifest: 2, ociImageConfig: 3 } as const;

/** Which document a JSON file is: appc manifests say so in acKind; an OCI config has rootfs. */
function jsonSchemaOf(root: ValueNode): number | undefined {
  const acKind = root.member('acKind');
  if (acKind?.scalar === 'ImageManifest') return SCHEMA.appcImageManifest;
  if (acKind?.scalar === 'PodManifest') return SCHEMA.appcPodManifest;
  if (!acKind && root.member('rootfs')) return SCHEMA.ociImageConfig;
  return undefined;
}

/** Diagnostics for an appc image or pod manifest, or an OCI image config (JSON), by position. */
export function lintJsonText(text: string): Diagnostic[] {
  const bytes = Buffer.byteLength(text);
  if (bytes > LINT_LIMITS.maxBytes) {
    return bounded('TSPOD_L_TOO_LARGE', `the file is ${bytes} bytes; manifests are limited to ${LINT_LIMITS.maxBytes} bytes: check it is the file you meant.`, firstLineRange(text));
  }
  const deep = tooDeepAt(text, LINT_LIMITS.maxDepth);
  if (deep) return bounded('TSPOD_L_TOO_DEEP', `arrays and objects nest deeper than ${LINT_LIMITS.maxDepth} levels here: flatten the structure.`, deep);
  const parser = new JsonTreeParser(text);
  let root: ValueNode;
  try {
    root = parser.parse();
  } catch (e) {
    if (!(e instanceof JsonSyntaxError)) throw e;
    return bounded('TSPOD_L_SYNTAX', `${e.message}.`, at(e.line, e.column + 1));
  }
  if (parser.count > LINT_LIMITS.maxValues) {
    return bounded('TSPOD_L_TOO_MANY_VALUES', `the file holds ${parser.count} values; manifests are limited to ${LINT_LIMITS.maxValues}.`, firstLineRange(text));
  }
  const schema = root.kind === Kind.Table ? jsonSchemaOf(root) : undefined;
  if (schema === undefined) {
    return bounded('TSPOD_L_UNKNOWN_DOCUMENT', 'this JSON is neither an appc manifest (acKind ImageManifest or PodManifest) nor an OCI image config (rootfs): tspod lint checks those and TOML pod files.', firstLineRange(text));
  }
  return runCore(root, parser.count, poolBound(text), schema);
}

/** Encodes the tree straight into the core's memory and runs it. */
function runCore(tree: ValueNode, count: number, poolMax: number, schema: number): Diagnostic[] {
  const c = lintCore();
  const nodeBytes = count * NODE_WORDS * 4;
  const ptr = c.lint_input(nodeBytes + poolMax);
  const nodes = new Int32Array(c.memory.buffer, ptr, count * NODE_WORDS);
  const pool = Buffer.from(c.memory.buffer, ptr + nodeBytes, poolMax);
  const poolLen = encodeTree(tree, count, nodes, pool);
  const n = c.lint_run(count, poolLen, schema);
  const out = c.lint_out_ptr();
  const words = c.lint_out_words();
  const records = new Int32Array(c.memory.buffer, out, n * words);
  const textBase = out + n * words * 4;
  const diagnostics: Diagnostic[] = [];
  for (let i = 0; i < n; i++) {
    const r = records.subarray(i * words, (i + 1) * words);
    const raw = decoder.decode(new Uint8Array(c.memory.buffer, textBase + r[5]!, r[6]!));
    const tab = raw.indexOf('\t');
    diagnostics.push({
      rule: raw.slice(0, tab), severity: SEVERITY[r[0]!] ?? 'error', message: raw.slice(tab + 1),
      range: { start: { line: r[1]!, column: r[2]! }, end: { line: r[3]!, column: r[4]! } },
    });
  }
  if (c.lint_truncated()) {
    diagnostics.push({ rule: 'TSPOD_L_TOO_MANY_DIAGNOSTICS', severity: 'error', message: `more problems were found than the ${n} shown: fix these and lint again.`, range: at(1, 1) });
  }
  return diagnostics.sort(byPosition);
}

function byPosition(a: Diagnostic, b: Diagnostic): number {
  return a.range.start.line - b.range.start.line || a.range.start.column - b.range.start.column;
}
