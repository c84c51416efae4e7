// What a set of pod files declares: every file linted first (any error and nothing is applied),
// then each pod's spec, its `after` list and a hash of its canonical value, so an unchanged file
// means an unchanged pod whatever its formatting or key order.
import { createHash } from 'node:crypto';
import { readdirSync, readFileSync, renameSync, statSync, writeFileSync } from 'node:fs';
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
  // Integers stay numbers (a JSON round trip through the cache keeps them); huge ones become strings.
  if (typeof v === 'bigint') return Number.isSafeInteger(Number(v)) ? Number(v) : v.toString();
  if (v instanceof Date) return v.toISOString();
  if (Array.isArray(v)) return v.map(canonical);
  if (v && typeof v === 'object') return Object.fromEntries(Object.keys(v).sort().map((k) => [k, canonical((v as Record<string, unknown>)[k])]));
  return v;
}

/** What a clean file produced, keyed by its content hash (JSON; bigints are already strings). */
interface CacheEntry {
  readonly hash: string;
  readonly value: unknown;
}

function readCache(file: string | undefined): Map<string, CacheEntry> {
  if (!file) return new Map();
  try {
    return new Map(Object.entries(JSON.parse(readFileSync(file, 'utf8')) as Record<string, CacheEntry>));
  } catch {
    return new Map();
  }
}

function writeCache(file: string | undefined, cache: Map<string, CacheEntry>): void {
  if (!file) return;
  try {
    writeFileSync(`${file}.tmp`, JSON.stringify(Object.fromEntries(cache)));
    renameSync(`${file}.tmp`, file);
  } catch {
    // Only a cache.
  }
}

/**
 * Reads, lints and parses the pod files. With `cacheFile`, a file whose bytes were seen clean
 * before is not parsed again (a reconcile pass over unchanged files is then mostly reading them).
 */
export async function loadDeclared(paths: readonly string[], set: string, cacheFile?: string): Promise<Result<Declared, TspodError>> {
  const files = podFiles(paths);
  if (files.isErr()) return err(files.error);
  const cache = readCache(cacheFile);
  // Loaded only when some file is not in the cache (a no-op reconcile pass never needs it).
  let lint: typeof import('../podfile/lint.js') | undefined;
  const fresh = new Map<string, CacheEntry>();
  const reports: FileReport[] = [];
  const values: Array<{ file: string; value: unknown; hash: string }> = [];
  for (const file of files.value) {
    let bytes: Buffer;
    try {
      bytes = readFileSync(file);
    } catch (e) {
      return err(tspodError(ErrorCodes.IO, `read ${file}`, (e as Error).message, 'check the path'));
    }
    const key = createHash('sha256').update(bytes).digest('hex');
    const hit = cache.get(key);
    if (hit) {
      fresh.set(key, hit);
      reports.push({ path: file, diagnostics: [] });
      values.push({ file, value: hit.value, hash: hit.hash });
      continue;
    }
    lint ??= await import('../podfile/lint.js');
    const linted = lint.lintAndParsePod(bytes.toString('utf8'));
    reports.push({ path: file, diagnostics: linted.diagnostics });
    if (linted.diagnostics.some((d) => d.severity === 'error')) continue;
    const value = canonical(linted.value);
    const hash = createHash('sha256').update(JSON.stringify(value)).digest('hex');
    fresh.set(key, { hash, value });
    values.push({ file, value, hash });
  }
  if (reports.some((r) => r.diagnostics.some((d) => d.severity === 'error'))) return ok({ pods: [], reports, valid: false });
  writeCache(cacheFile, fresh);
  const { specFromPodFile } = await import('../pods/spec.js');
  const pods: DeclaredPod[] = [];
  for (const { file, value, hash } of values) {
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
