// What `tspod lint`, `tspod lsp` and `tspod apply` report about a pod file. Positions are what
// a person reads: 1-based lines and 1-based columns counted in UTF-16 code units (an LSP client
// subtracts 1 from both; SARIF uses them as they are). `end` is exclusive.
export type Severity = 'error' | 'warning' | 'info';

export interface Position {
  readonly line: number;
  readonly column: number;
}

export interface Range {
  readonly start: Position;
  readonly end: Position;
}

export interface Diagnostic {
  /** A stable rule id, e.g. TSPOD_L_UNKNOWN_KEY (docs/lint-rules.md). */
  readonly rule: string;
  readonly severity: Severity;
  /** What is wrong and what to do. */
  readonly message: string;
  readonly range: Range;
}
