// Shared by the suites: run the built CLI as a user would, make and clean temp dirs.
import { spawnSync, type SpawnSyncReturns } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

export const REPO = new URL('../../..', import.meta.url).pathname.replace(/\/$/, '');
export const TSPOD = join(REPO, 'bin', 'tspod.js');

export interface RunResult {
  readonly status: number | null;
  readonly stdout: string;
  readonly stderr: string;
}

export function tspod(args: string[], opts: { env?: NodeJS.ProcessEnv; input?: Buffer | string } = {}): RunResult {
  const r: SpawnSyncReturns<string> = spawnSync(process.execPath, [TSPOD, ...args], {
    encoding: 'utf8',
    env: { ...process.env, ...opts.env },
    input: opts.input,
    maxBuffer: 64 << 20,
  });
  return { status: r.status, stdout: r.stdout, stderr: r.stderr };
}

/** Runs a command, throwing with its stderr when it fails: for test set-up steps. */
export function sh(cmd: string, args: string[], cwd?: string): string {
  const r = spawnSync(cmd, args, { encoding: 'utf8', cwd, maxBuffer: 256 << 20 });
  if (r.status !== 0) throw new Error(`${cmd} ${args.join(' ')} failed (${r.status}): ${r.stderr}`);
  return r.stdout;
}

export function tempDir(prefix: string): string {
  return mkdtempSync(join(tmpdir(), `tspod-${prefix}-`));
}

export function removeDir(dir: string): void {
  rmSync(dir, { recursive: true, force: true });
}

export const isRoot = process.geteuid?.() === 0;
export const needsRoot = isRoot ? false : 'needs root (chown, mknod, xattrs in trusted.*)';
