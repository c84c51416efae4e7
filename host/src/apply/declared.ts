// What a set of pod files declares: every file linted first (any error and nothing is applied),
// then each pod's spec, its `after` list and a hash of its canonical value, so an unchanged file
// means an unchanged pod whatever its formatting or key order.
import { createHash } from 'node:crypto';
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { ErrorCodes, tspodError, type TspodError } from '../errors.js';
import { err, ok, type Result } from '../result.js';
import type { FileReport } from '../podfile/report-format.js';
import type { PodSpec } from '../pods/spec.js';

export interface DeclaredPod {
  readonly name: string;
  readonly file: string;
  readonly hash: string;
  readonly after: readonly string[];
  readonly spec: PodSpec;
}

export interface Declared {
  readonly pods: readonly DeclaredPod[];
  /** Lint findings per file; when any is an error, `pods` is empty and nothing may be applied. */
  readonly reports: readonly FileReport[];
  readonly valid: boolean;
}

function podFiles(paths: readonly string[]): Result<string[], TspodError> {
  const out: string[] = [];
  const walk = (dir: string): void => {
    for (const e of readdirSync(dir, { withFileTypes: true }).sort((a, b) => a.name.localeCompare(b.name))) {
      if (e.name.startsWith('.')) continue;
      if (e.isDirectory()) walk(join(dir, e.name));
      else if (e.isFile() && e.name.endsWith('.toml')) out.push(join(dir, e.name));
    }
  };
  for (const p of paths) {
    try {
      if (statSync(p).isDirectory()) walk(p);
      else out.push(p);
    } catch (e) {
      return err(tspodError(ErrorCodes.IO, `read ${p}`, (e as Error).message, 'check the path'));
    }
  }
  return ok(out.map((f) => resolve(f)));
}

/** Key order and number representation do not change a pod: hash a canonical JSON form. */
function canonical(v: unknown): unknown {
  if (typeof v === 'bigint') return v.toString();
  if (v instanceof Date) return v.toISOString();
  if (Array.isArray(v)) return v.map(canonical);
  if (v && typeof v === 'object') return Object.fromEntries(Object.keys(v).sort().map((k) => [k, canonical((v as Record<string, unknown>)[k])]));
  return v;
}

export async function loadDeclared(paths: readonly string[], set: string): Promise<Result<Declared, TspodError>> {
  const files = podFiles(paths);
  if (files.isErr()) return err(files.error);
  const { lintPodText } = await import('../podfile/lint.js');
  const { parseTOML, getStaticTOMLValue } = await import('toml-eslint-parser');
  const { specFromPodFile } = await import('../pods/spec.js');
  const reports: FileReport[] = [];
  const values: Array<{ file: string; value: unknown }> = [];
  for (const file of files.value) {
    let text: string;
    try {
      text = readFileSync(file, 'utf8');
    } catch (e) {
      return err(tspodError(ErrorCodes.IO, `read ${file}`, (e as Error).message, 'check the path'));
    }
    const diagnostics = lintPodText(text);
    reports.push({ path: file, diagnostics });
    if (!diagnostics.some((d) => d.severity === 'error')) values.push({ file, value: getStaticTOMLValue(parseTOML(text, { tomlVersion: '1.0.0' })) });
  }
  if (reports.some((r) => r.diagnostics.some((d) => d.severity === 'error'))) return ok({ pods: [], reports, valid: false });
  const pods: DeclaredPod[] = [];
  for (const { file, value } of values) {
    const hash = createHash('sha256').update(JSON.stringify(canonical(value))).digest('hex');
    const after = ((value as { after?: unknown[] }).after ?? []).map(String);
    const spec = specFromPodFile(value, file);
    if (spec.isErr()) return err(spec.error);
    const name = spec.value.name!;
    const twin = pods.find((p) => p.name === name);
    if (twin) return err(tspodError(ErrorCodes.CONFIG, `apply ${file}`, `the pod name ${name} is also declared in ${twin.file}`, 'pod names are unique on the host: rename one'));
    pods.push({ name, file, hash, after, spec: { ...spec.value, origin: { file, hash, set, after } } });
  }
  return ok({ pods, reports, valid: true });
}
