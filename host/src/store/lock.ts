// Daemonless coordination: flock(2) on lock files, as rkt does. Shared locks let many tspod
// processes use the store at once; exclusive ones serialise what must not overlap (removing an
// image, repairing the store). Locks die with their process, so a crash never leaves one behind.
import { closeSync, constants, openSync } from 'node:fs';
import { setTimeout as sleep } from 'node:timers/promises';
import * as libc from '../../../native/src/libc.js';
import { ok, err, type Result } from '../result.js';
import { describeErrno, ErrorCodes, tspodError, type TspodError } from '../errors.js';

export type LockMode = 'shared' | 'exclusive';

export interface HeldLock {
  readonly path: string;
  release(): void;
}

const POLL_MS = 25;
export const DEFAULT_LOCK_WAIT_MS = 30_000;

function tryLock(fd: number, mode: LockMode): number {
  return libc.flock(fd, (mode === 'shared' ? libc.LOCK_SH : libc.LOCK_EX) | libc.LOCK_NB);
}

/**
 * Takes a lock on `path` (created if missing), polling without blocking the event loop, for at
 * most `waitMs`. Never a blocking flock: that would freeze Node's only JS thread.
 */
export async function acquireLock(path: string, mode: LockMode, waitMs = DEFAULT_LOCK_WAIT_MS): Promise<Result<HeldLock, TspodError>> {
  let fd: number;
  try {
    // Read-only is enough for flock, and works for group members on a lock file root created.
    fd = openSync(path, constants.O_RDONLY | constants.O_CREAT, 0o664);
  } catch (e) {
    return err(tspodError(ErrorCodes.IO, `lock ${path}`, describeErrno(e), 'check the permissions of the tspod data directory', e));
  }
  const deadline = Date.now() + waitMs;
  for (;;) {
    const r = tryLock(fd, mode);
    if (r === 0) return ok({ path, release: () => closeSync(fd) });
    if (r !== -libc.errno.EWOULDBLOCK || Date.now() >= deadline) {
      closeSync(fd);
      const why = r === -libc.errno.EWOULDBLOCK ? `another tspod process has held it for ${waitMs / 1000}s` : libc.errnoName(r);
      return err(tspodError(ErrorCodes.STORE, `take a ${mode} lock on ${path}`, why, 'wait for the other tspod command to finish, then retry'));
    }
    await sleep(POLL_MS);
  }
}

/** Runs fn under a lock and releases it whatever happens. */
export async function withLock<T>(
  path: string, mode: LockMode, fn: () => Promise<Result<T, TspodError>>,
): Promise<Result<T, TspodError>> {
  const lock = await acquireLock(path, mode);
  if (lock.isErr()) return err(lock.error);
  try {
    return await fn();
  } finally {
    lock.value.release();
  }
}
