// The stage0 side of the stage1 interface (docs/stage1.md, version 1): where a stage1 lives, the
// version check, and the config file it is given. A stage1 is an executable; stage0 runs
// `STAGE1 --interface-version` once and refuses one that does not answer 1.
import { execFileSync } from 'node:child_process';
import { existsSync, readFileSync, renameSync, statSync, writeFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { ErrorCodes, tspodError, type TspodError } from '../errors.js';
import { err, ok, type Result } from '../result.js';

export const STAGE1_INTERFACE_VERSION = 1;
export type Stage1Name = 'cgroups' | 'fly';

/** The bundled stage1 (native/stage1/tspod-stage1.c, built by scripts/build.mjs); TSPOD_STAGE1 overrides. */
export function stage1Path(): string {
  return process.env['TSPOD_STAGE1'] ?? fileURLToPath(new URL('../../../native/tspod-stage1', import.meta.url));
}

/**
 * Checks the stage1's interface version. The answer is remembered in `cacheFile` for that exact
 * file (path, inode, size, mtime): asking costs a process start on every `run` otherwise.
 */
export function checkStage1(path: string, cacheFile?: string): Result<string, TspodError> {
  const what = `use the stage1 ${path}`;
  if (!existsSync(path)) return err(tspodError(ErrorCodes.STAGE1, what, 'it does not exist', 'rebuild tspod (`npm run build` compiles the bundled stage1 with gcc)'));
  const st = statSync(path);
  const key = `${path}:${st.ino}:${st.size}:${st.mtimeMs}:${STAGE1_INTERFACE_VERSION}`;
  if (cacheFile && readCache(cacheFile) === key) return ok(path);
  const checked = askVersion(path, what);
  if (checked.isOk() && cacheFile) writeCache(cacheFile, key);
  return checked;
}

function readCache(file: string): string | undefined {
  try {
    return readFileSync(file, 'utf8');
  } catch {
    return undefined;
  }
}

function writeCache(file: string, key: string): void {
  try {
    writeFileSync(`${file}.tmp`, key);
    renameSync(`${file}.tmp`, file);
  } catch {
    // Only a cache: the next run asks again.
  }
}

function askVersion(path: string, what: string): Result<string, TspodError> {
  let answer: string;
  try {
    answer = execFileSync(path, ['--interface-version'], { encoding: 'utf8', timeout: 5000 }).trim();
  } catch (e) {
    return err(tspodError(ErrorCodes.STAGE1, what, `\`--interface-version\` failed (${(e as Error).message})`, 'check it is a tspod stage1 (docs/stage1.md)'));
  }
  if (answer !== String(STAGE1_INTERFACE_VERSION)) {
    return err(tspodError(ErrorCodes.STAGE1, what, `it speaks interface version ${JSON.stringify(answer)}, this tspod drives ${STAGE1_INTERFACE_VERSION}`, 'use a stage1 built for this tspod version'));
  }
  return ok(path);
}

/** One `key value` line; values escape backslash and newline (and tab inside fields is literal). */
export function confLine(key: string, ...fields: Array<string | number>): string {
  const value = fields.map((f) => String(f).replaceAll('\\', '\\\\').replaceAll('\n', '\\n')).join('\t');
  return `${key} ${value}\n`;
}
