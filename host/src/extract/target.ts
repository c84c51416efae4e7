// Extraction never builds at the final path: it fills a temporary sibling and renames it into
// place only when the whole archive was extracted, so a failure leaves nothing half-made.
import { mkdtempSync, readdirSync, renameSync, rmSync, statSync } from 'node:fs';
import { basename, dirname, join, resolve } from 'node:path';
import { ok, err, type Result } from '../result.js';
import { describeErrno, ErrorCodes, tspodError, type TspodError } from '../errors.js';

export interface StagedTarget {
  readonly final: string;
  readonly temp: string;
}

function targetState(path: string): 'absent' | 'empty-dir' | 'occupied' {
  try {
    const st = statSync(path);
    return st.isDirectory() && readdirSync(path).length === 0 ? 'empty-dir' : 'occupied';
  } catch {
    return 'absent';
  }
}

/** The target may be absent or an empty directory; its parent must exist. */
export function stageTarget(target: string): Result<StagedTarget, TspodError> {
  const final = resolve(target);
  const what = `extract into ${final}`;
  if (targetState(final) === 'occupied') {
    return err(tspodError(ErrorCodes.EXISTS, what, 'the target exists and is not an empty directory', 'remove it or choose a new directory'));
  }
  try {
    const temp = mkdtempSync(join(dirname(final), `.${basename(final)}.tspod-`));
    return ok({ final, temp });
  } catch (e) {
    return err(tspodError(ErrorCodes.IO, what, `cannot create a staging directory beside it (${describeErrno(e)})`, 'check that the parent directory exists and is writable', e));
  }
}

/** rename(2) replaces an empty directory atomically, so an empty target is fine. */
export function commitTarget(t: StagedTarget): Result<void, TspodError> {
  try {
    renameSync(t.temp, t.final);
    return ok(undefined);
  } catch (e) {
    discardTarget(t);
    return err(tspodError(ErrorCodes.IO, `extract into ${t.final}`, `cannot move the extracted tree into place (${describeErrno(e)})`, 'check that the target is still absent or empty', e));
  }
}

export function discardTarget(t: StagedTarget): void {
  rmSync(t.temp, { recursive: true, force: true });
}
