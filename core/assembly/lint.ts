// The lint core's exports: validates a parsed pod file (the node table host/src/podfile/tree.ts
// writes) against the schema tables generated from manifests/pod.schema.json, plus the rules
// across fields, and returns diagnostics with exact ranges. The CLI, CI and the language server
// all call this one module, so they always agree.
//
// Memory: each lint_input() call frees everything the previous call made (the stub runtime's
// __reset), so a long-running language server does not grow. Output, after lint_run() returned N:
// N records of OUT_WORDS i32 at lint_out_ptr() (severity 1 error, 2 warning, 3 info; start line,
// start column, end line, end column, 1-based, columns in UTF-16 units; offset and length of
// "RULE\tmessage" in the UTF-8 text that follows the records).
import { CORE_VERSION } from './version';
import { NODE_WORDS, Tree } from './lint/tree';
import { Report } from './lint/report';
import { Validator } from './lint/validate';
import { CrossRules } from './lint/rules';
import { SCHEMA_ROOTS } from './generated/lint_schema';

const OUT_WORDS: i32 = 7;

let input: usize = 0;
let output: usize = 0;
let outputLen: i32 = 0;
let truncated: bool = false;

export function core_version(): u32 {
  return CORE_VERSION;
}

export function lint_node_words(): i32 {
  return NODE_WORDS;
}

export function lint_out_words(): i32 {
  return OUT_WORDS;
}

/** Frees the previous call's memory and returns room for `bytes` of input (nodes, then pool). */
export function lint_input(bytes: i32): usize {
  __reset();
  input = heap.alloc(<usize>max(bytes, 4));
  output = 0;
  outputLen = 0;
  return input;
}

// Which document the tree is (generated SCHEMA_ROOTS order, core/gen/lint-schema.mjs).
const SCHEMA_POD_FILE: i32 = 0;
const DOCUMENT_NAMES: StaticArray<string> = ['the pod file', 'the image manifest', 'the pod manifest', 'the image config'];

/**
 * Validates nodeCount nodes followed by poolLen pool bytes as document `schema` (0 pod file,
 * 1 appc image manifest, 2 appc pod manifest, 3 OCI image config); returns the diagnostics' count.
 */
export function lint_run(nodeCount: i32, poolLen: i32, schema: i32): i32 {
  const tree = new Tree(input, nodeCount, input + (<usize>nodeCount * NODE_WORDS << 2), poolLen);
  const report = new Report();
  if (nodeCount > 0 && schema >= 0 && schema < SCHEMA_ROOTS.length) {
    new Validator(tree, report, DOCUMENT_NAMES[schema]).node(0, SCHEMA_ROOTS[schema]);
    if (schema == SCHEMA_POD_FILE) new CrossRules(tree, report).run(0);
  }
  truncated = report.truncated;
  serialize(report);
  return report.items.length;
}

export function lint_out_ptr(): usize {
  return output;
}

export function lint_out_len(): i32 {
  return outputLen;
}

/** 1 when more diagnostics were found than the core returns (report.ts MAX_DIAGNOSTICS). */
export function lint_truncated(): i32 {
  return truncated ? 1 : 0;
}

function serialize(report: Report): void {
  const n = report.items.length;
  const texts = new Array<ArrayBuffer>(n);
  let textBytes = 0;
  for (let i = 0; i < n; i++) {
    const d = report.items[i];
    texts[i] = String.UTF8.encode(d.rule + '\t' + d.message);
    textBytes += texts[i].byteLength;
  }
  const recordBytes = n * OUT_WORDS * 4;
  outputLen = recordBytes + textBytes;
  output = heap.alloc(<usize>max(outputLen, 4));
  let text = 0;
  for (let i = 0; i < n; i++) {
    const d = report.items[i];
    const at = output + <usize>(i * OUT_WORDS * 4);
    store<i32>(at, d.severity);
    store<i32>(at, d.range.sl, 4);
    store<i32>(at, d.range.sc, 8);
    store<i32>(at, d.range.el, 12);
    store<i32>(at, d.range.ec, 16);
    store<i32>(at, text, 20);
    store<i32>(at, texts[i].byteLength, 24);
    memory.copy(output + <usize>(recordBytes + text), changetype<usize>(texts[i]), <usize>texts[i].byteLength);
    text += texts[i].byteLength;
  }
}
