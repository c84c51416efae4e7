// The three shapes `tspod lint` prints: text for people, JSON for scripts (documented in
// docs/lint-rules.md, versioned), SARIF 2.1.0 for code-scanning tools (1-based lines and
// columns, columns in UTF-16 code units, stated in run.columnKind).
import type { Diagnostic, Severity } from './diagnostic.js';
import { LINT_RULES } from './rules.js';

export interface FileReport {
  readonly path: string;
  readonly diagnostics: readonly Diagnostic[];
}

export interface Summary {
  readonly errors: number;
  readonly warnings: number;
  readonly infos: number;
}

export function summarize(files: readonly FileReport[]): Summary {
  const count = (s: Severity): number => files.reduce((n, f) => n + f.diagnostics.filter((d) => d.severity === s).length, 0);
  return { errors: count('error'), warnings: count('warning'), infos: count('info') };
}

export function formatText(files: readonly FileReport[]): string {
  const lines = files.flatMap((f) => f.diagnostics.map((d) => `${f.path}:${d.range.start.line}:${d.range.start.column}: ${d.severity} ${d.rule} ${d.message}`));
  return lines.length > 0 ? `${lines.join('\n')}\n` : '';
}

export const JSON_FORMAT_VERSION = 1;

export function formatJson(files: readonly FileReport[]): string {
  return `${JSON.stringify({ version: JSON_FORMAT_VERSION, files, summary: summarize(files) }, null, 2)}\n`;
}

const SARIF_LEVEL: Record<Severity, string> = { error: 'error', warning: 'warning', info: 'note' };

export function formatSarif(files: readonly FileReport[], toolVersion: string): string {
  const used = [...new Set(files.flatMap((f) => f.diagnostics.map((d) => d.rule)))].sort();
  const rules = used.map((id) => ({ id, shortDescription: { text: LINT_RULES[id] ?? id } }));
  const results = files.flatMap((f) => f.diagnostics.map((d) => ({
    ruleId: d.rule,
    ruleIndex: used.indexOf(d.rule),
    level: SARIF_LEVEL[d.severity],
    message: { text: d.message },
    locations: [{
      physicalLocation: {
        artifactLocation: { uri: encodeURI(f.path) },
        region: { startLine: d.range.start.line, startColumn: d.range.start.column, endLine: d.range.end.line, endColumn: d.range.end.column },
      },
    }],
  })));
  const log = {
    $schema: 'https://json.schemastore.org/sarif-2.1.0.json',
    version: '2.1.0',
    runs: [{
      tool: { driver: { name: 'tspod', version: toolVersion, informationUri: 'https://github.com/tspod/tspod', rules } },
      columnKind: 'utf16CodeUnits',
      results,
    }],
  };
  return `${JSON.stringify(log, null, 2)}\n`;
}
