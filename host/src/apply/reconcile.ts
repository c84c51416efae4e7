// `tspod reconcile`: level-triggered GitOps. Each pass reads the desired pods (a directory, or a
// git checkout refreshed with the git CLI), and converges with prune for its own apply set. A
// revision whose files do not lint is refused as a whole: the pods of the last good one keep
// running. Killed or hand-removed pods come back on the next pass. One reconciler per set: the
// set's lock file is held for the reconciler's lifetime.
import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { closeSync, constants, existsSync, mkdirSync, openSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import * as libc from '../../../native/src/libc.js';
import { ErrorCodes, tspodError, type TspodError } from '../errors.js';
import { err, ok, type Result } from '../result.js';

export interface Source {
  readonly dir?: string;
  readonly git?: string;
  readonly branch?: string;
  /** Sub directory of the repository holding the pod files. */
  readonly path?: string;
}

export interface PodCondition {
  readonly name: string;
  readonly uuid?: string;
  readonly condition: 'Ready' | 'Progressing' | 'Degraded';
  readonly reason?: string;
}

export interface ReconcileStatus {
  readonly set: string;
  readonly source: string;
  readonly revision?: string;
  readonly lastGoodRevision?: string;
  readonly lastPass: string;
  readonly lastError?: string;
  readonly pods: readonly PodCondition[];
}

export function describeSource(s: Source): string {
  return s.git ? `${s.git}#${s.branch ?? 'HEAD'}:${s.path ?? '.'}` : resolve(s.dir ?? '.');
}

/** The apply set of a source: stable for the same directory or repository, branch and path. */
export function setOf(s: Source): string {
  return `reconcile-${createHash('sha256').update(describeSource(s)).digest('hex').slice(0, 12)}`;
}

export function stateDir(dataDir: string, set: string): string {
  return join(dataDir, 'reconcile', set);
}

/** Holds the set's lock for the life of this process, or says who holds it. */
export function lockSet(dataDir: string, set: string): Result<number, TspodError> {
  const dir = stateDir(dataDir, set);
  mkdirSync(dir, { recursive: true });
  const fd = openSync(join(dir, 'lock'), constants.O_RDONLY | constants.O_CREAT, 0o600);
  if (libc.flock(fd, libc.LOCK_EX | libc.LOCK_NB) === 0) return ok(fd);
  closeSync(fd);
  return err(tspodError(ErrorCodes.POD_STATE, `reconcile ${set}`, 'another reconciler is running this source', 'stop it first; two reconcilers on one source would fight'));
}

function git(args: string[], cwd?: string): string {
  return execFileSync('git', args, { cwd, encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] }).trim();
}

/** The directory holding the pod files for this pass, and the revision (git commit) it is at. */
export function checkout(dataDir: string, set: string, s: Source): Result<{ dir: string; revision?: string }, TspodError> {
  if (!s.git) return ok({ dir: resolve(s.dir!) });
  const repo = join(stateDir(dataDir, set), 'repo');
  try {
    if (!existsSync(join(repo, '.git'))) git(['clone', '--quiet', ...(s.branch ? ['--branch', s.branch] : []), s.git, repo]);
    else {
      git(['fetch', '--quiet', 'origin', ...(s.branch ? [s.branch] : [])], repo);
      git(['reset', '--quiet', '--hard', 'FETCH_HEAD'], repo);
    }
    return ok({ dir: join(repo, s.path ?? '.'), revision: git(['rev-parse', 'HEAD'], repo) });
  } catch (e) {
    const stderr = (e as { stderr?: string }).stderr?.trim();
    return err(tspodError(ErrorCodes.FETCH, `fetch ${s.git}`, stderr || (e as Error).message, 'check the URL, the branch and that git can reach it'));
  }
}

export function writeStatus(dataDir: string, status: ReconcileStatus): void {
  const file = join(stateDir(dataDir, status.set), 'status.json');
  writeFileSync(`${file}.tmp`, `${JSON.stringify(status, null, 2)}\n`);
  renameSync(`${file}.tmp`, file);
}

export function readStatus(dataDir: string, set: string): ReconcileStatus | undefined {
  try {
    return JSON.parse(readFileSync(join(stateDir(dataDir, set), 'status.json'), 'utf8')) as ReconcileStatus;
  } catch {
    return undefined;
  }
}
