// `tspod lint [--format text|json|sarif] PATH...`: checks pod files (directories: every *.toml in
// them, recursively; named *.json files as appc manifests or OCI image configs) with the same core the language server uses. Exit 0 when no errors (warnings
// and infos do not fail), 1 when any file has an error, 2 on usage, 254 when a path is unreadable.
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { isUtf8 } from 'node:buffer';
import { join } from 'node:path';
import { fail, parseFlags, usageError, type CommandContext } from './command.js';
import { describeErrno, ErrorCodes, tspodError, type TspodError } from '../errors.js';
import { err, ok, type Result } from '../result.js';
import type { Diagnostic } from '../podfile/diagnostic.js';
import type { FileReport } from '../podfile/report-format.js';

const HELP = `Usage: tspod lint [--format text|json|sarif] PATH...

Checks pod files (TOML 1.0) and prints every problem with its exact position and a stable rule
id (docs/lint-rules.md). A directory means every *.toml file under it. A *.json file is checked
as what it is: an appc image or pod manifest (by its acKind) or an OCI image config.
  --format text    path:line:column: severity RULE message (default)
  --format json    {version, files: [{path, diagnostics}], summary} (docs/lint-rules.md)
  --format sarif   SARIF 2.1.0, for code-scanning tools
Exit status: 0 no errors, 1 errors found, 2 usage, 254 a path could not be read.
`;

const FORMATS = ['text', 'json', 'sarif'] as const;
type Format = (typeof FORMATS)[number];

export async function run(ctx: CommandContext, argv: string[]): Promise<number> {
  const parsed = parseFlags(ctx, 'lint', argv, { format: { type: 'string', default: 'text' } }, HELP);
  if (typeof parsed === 'number') return parsed;
  const format = parsed.values.format as Format;
  if (!FORMATS.includes(format)) return fail(ctx, usageError('lint', `--format must be text, json or sarif, not ${JSON.stringify(format)}`));
  if (parsed.positionals.length === 0) return fail(ctx, usageError('lint', 'name at least one pod file or directory'));
  const files = collectFiles(parsed.positionals);
  if (files.isErr()) return fail(ctx, files.error);
  const { lintJsonText, lintPodText } = await import('../podfile/lint.js');
  const reports: FileReport[] = [];
  for (const path of files.value) {
    const text = readText(path);
    if (text.isErr()) return fail(ctx, text.error);
    // appc manifests are often named just `manifest`: JSON is told by its first character.
    const isJson = path.endsWith('.json') || (typeof text.value === 'string' && text.value.trimStart().startsWith('{'));
    const lint = isJson ? lintJsonText : lintPodText;
    reports.push({ path, diagnostics: typeof text.value === 'string' ? lint(text.value) : [text.value] });
  }
  await print(ctx, format, reports);
  return reports.some((r) => r.diagnostics.some((d) => d.severity === 'error')) ? 1 : 0;
}

async function print(ctx: CommandContext, format: Format, reports: FileReport[]): Promise<void> {
  const f = await import('../podfile/report-format.js');
  if (format === 'json') ctx.stdout.write(f.formatJson(reports));
  else if (format === 'sarif') ctx.stdout.write(f.formatSarif(reports, (await import('../package-version.js')).packageVersion()));
  else {
    ctx.stdout.write(f.formatText(reports));
    const s = f.summarize(reports);
    if (s.errors + s.warnings + s.infos > 0) ctx.stderr.write(`${s.errors} errors, ${s.warnings} warnings, ${s.infos} infos in ${reports.length} files\n`);
  }
}

function unreadable(path: string, e: unknown): TspodError {
  return tspodError(ErrorCodes.IO, `lint ${path}`, describeErrno(e), 'check the path and its permissions');
}

/** The files to lint, in the order given; directories expand to their *.toml files, sorted. */
function collectFiles(paths: readonly string[]): Result<string[], TspodError> {
  const out: string[] = [];
  for (const p of paths) {
    try {
      if (statSync(p).isDirectory()) out.push(...tomlFilesUnder(p));
      else out.push(p);
    } catch (e) {
      return err(unreadable(p, e));
    }
  }
  return ok(out);
}

function tomlFilesUnder(dir: string): string[] {
  const entries = readdirSync(dir, { withFileTypes: true }).sort((a, b) => a.name.localeCompare(b.name));
  return entries.flatMap((e) => {
    if (e.name.startsWith('.') || e.name === 'node_modules') return [];
    const p = join(dir, e.name);
    if (e.isDirectory()) return tomlFilesUnder(p);
    return e.isFile() && e.name.endsWith('.toml') ? [p] : [];
  });
}

/** The file's text, or the diagnostic saying it is not UTF-8. */
function readText(path: string): Result<string | Diagnostic, TspodError> {
  let bytes: Buffer;
  try {
    bytes = readFileSync(path);
  } catch (e) {
    return err(unreadable(path, e));
  }
  try {
    return ok(new TextDecoder('utf-8', { fatal: true }).decode(bytes));
  } catch {
    const line = firstInvalidUtf8Line(bytes);
    return ok({
      rule: 'TSPOD_L_ENCODING', severity: 'error', message: 'the file is not valid UTF-8 (TOML files are UTF-8): re-save it as UTF-8.',
      range: { start: { line, column: 1 }, end: { line, column: 2 } },
    });
  }
}

/** 1-based; a newline byte is never inside a UTF-8 sequence, so lines can be checked alone. */
function firstInvalidUtf8Line(bytes: Buffer): number {
  let line = 1;
  for (let start = 0; start <= bytes.length; line++) {
    const nl = bytes.indexOf(10, start);
    const end = nl < 0 ? bytes.length : nl;
    if (!isUtf8(bytes.subarray(start, end))) return line;
    if (nl < 0) break;
    start = nl + 1;
  }
  return line;
}
