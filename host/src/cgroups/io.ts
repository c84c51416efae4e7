// Small synchronous helpers for cgroupfs: control files are tiny and the kernel answers at once,
// so sync calls keep the manager simple. Every failure becomes a TspodError (never a throw).
import { existsSync, mkdirSync, readdirSync, readFileSync, rmdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describeErrno, ErrorCodes, tspodError, type TspodError } from '../errors.js';
import { err, ok, type Result } from '../result.js';

export function readText(path: string): string | undefined {
  try {
    return readFileSync(path, 'utf8');
  } catch {
    return undefined;
  }
}

export function writeControl(path: string, value: string): Result<void, TspodError> {
  try {
    // cgroupfs parses each write() on its own, so one value per call, no trailing newline games.
    writeFileSync(path, value);
    return ok(undefined);
  } catch (e) {
    return err(tspodError(ErrorCodes.IO, `write "${value}" to ${path}`, describeErrno(e),
      'check that tspod runs as root and that the controller is enabled for this cgroup', e));
  }
}

/** Writes only if the file exists: optional knobs (memsw, swap.max) vary by kernel and config. */
export function writeIfPresent(path: string, value: string): Result<void, TspodError> {
  return existsSync(path) ? writeControl(path, value) : ok(undefined);
}

export function makeDir(dir: string): Result<void, TspodError> {
  try {
    mkdirSync(dir, { recursive: true });
    return ok(undefined);
  } catch (e) {
    return err(tspodError(ErrorCodes.IO, `create cgroup ${dir}`, describeErrno(e),
      'run tspod as root, or point TSPOD_CGROUP_PARENT at a cgroup delegated to you'));
  }
}

/** Sub-cgroups, deepest first, then dir itself: rmdir only works bottom-up. */
export function treeBottomUp(dir: string): string[] {
  let subs: string[] = [];
  try {
    subs = readdirSync(dir, { withFileTypes: true }).filter((d) => d.isDirectory()).map((d) => join(dir, d.name));
  } catch {
    return [];
  }
  return [...subs.flatMap(treeBottomUp), dir];
}

export function removeDir(dir: string): Result<void, TspodError> {
  try {
    rmdirSync(dir);
    return ok(undefined);
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return ok(undefined);
    return err(tspodError(ErrorCodes.IO, `remove cgroup ${dir}`, describeErrno(e),
      'a process is still in the cgroup; find it with `cat cgroup.procs` and kill it'));
  }
}

/** The kernel may still be tearing the last task down: EBUSY for a moment is normal. */
export function removeDirPatiently(dir: string, timeoutMs: number): Result<void, TspodError> {
  let r = removeDir(dir);
  const end = Date.now() + timeoutMs;
  while (r.isErr() && Date.now() < end) {
    sleepMs(20);
    r = removeDir(dir);
  }
  return r;
}

export function readPids(procsFile: string): number[] {
  const text = readText(procsFile) ?? '';
  return text.split('\n').filter((l) => l !== '').map(Number).filter((n) => Number.isInteger(n) && n > 0);
}

export function sleepMs(ms: number): void {
  Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, ms);
}

/** Polls cond every 10 ms until true or the deadline; true if it became true. */
export function waitFor(cond: () => boolean, timeoutMs: number): boolean {
  const end = Date.now() + timeoutMs;
  for (;;) {
    if (cond()) return true;
    if (Date.now() >= end) return false;
    sleepMs(10);
  }
}

/** "key value" lines (memory.oom_control, memory.events, pids.events) as a map. */
export function parseKeyValues(text: string | undefined): Map<string, number> {
  const out = new Map<string, number>();
  for (const line of (text ?? '').split('\n')) {
    const [k, v] = line.trim().split(/\s+/);
    if (k && v !== undefined && /^\d+$/.test(v)) out.set(k, Number(v));
  }
  return out;
}
