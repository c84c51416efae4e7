// stage1.conf (docs/stage1.md): the prepared pod, as the stage1 reads it. Everything is decided;
// the stage1 only carries it out.
import { join } from 'node:path';
import type { PodManifest, PreparedApp } from '../pods/prepare.js';
import { appDir, POD_FILES } from '../pods/layout.js';
import { confLine, STAGE1_INTERFACE_VERSION } from './contract.js';
import { MASKED_PATHS, READ_ONLY_PATHS } from './policy.js';

export interface RunOptions {
  /** cgroup.procs files the monitor joins (the pod's). */
  readonly podCgroupProcs: readonly string[];
  /** Per app: the cgroup.procs files its process joins (its limits). */
  readonly appCgroupProcs: ReadonlyMap<string, readonly string[]>;
  /** Detached pods write each app's output to apps/NAME/{stdout,stderr}. */
  readonly logToFiles: boolean;
  /** Each log file is rotated at this size (NAME.1, NAME.2 kept); default 10 MiB. */
  readonly logMaxBytes?: number;
  /** The network namespace CNI set up (for net = cni). */
  readonly netns?: string;
  /** Foreground with the caller's stdin: apps stay in the terminal's process group. */
  readonly interactive?: boolean;
}

function volumeLines(m: PodManifest, app: PreparedApp, dir: string): string {
  let out = '';
  for (const mount of app.mounts) {
    const v = m.volumes.find((x) => x.name === mount.volume)!;
    const ro = mount.readOnly || v.readOnly ? 'ro' : 'rw';
    if (v.kind === 'tmpfs') out += confLine('tmpfs', mount.target, v.size ?? 64 << 20, v.mode ?? '1777');
    else if (v.kind === 'empty') out += confLine('bind', join(dir, POD_FILES.volumes, v.name), mount.target, ro, 'norec');
    else out += confLine('bind', v.source!, mount.target, ro, v.recursive === false ? 'norec' : 'rec');
  }
  return out;
}

function healthLines(app: PreparedApp, a: string): string {
  const h = app.health;
  if (!h || (!h.exec && !h.http)) return '';
  let out = '';
  if (h.exec) for (const arg of h.exec) out += confLine('health-exec', arg);
  else {
    const url = new URL(h.http!);
    out += confLine('health-http', Number(url.port || 80), `${url.pathname}${url.search}`);
  }
  if (h.intervalMs !== undefined) out += confLine('health-interval-ms', h.intervalMs);
  if (h.timeoutMs !== undefined) out += confLine('health-timeout-ms', h.timeoutMs);
  if (h.retries !== undefined) out += confLine('health-retries', h.retries);
  return out + confLine('health-file', join(a, 'health'));
}

function appBlock(m: PodManifest, app: PreparedApp, dir: string, o: RunOptions): string {
  const a = appDir(dir, app.name);
  let out = confLine('app', app.name);
  for (const p of o.appCgroupProcs.get(app.name) ?? []) out += confLine('cgroup-procs', p);
  out += confLine('rootfs', join(a, 'rootfs'));
  for (const lower of app.lowerDirs) out += confLine('lower', lower);
  out += confLine('upper', join(a, 'upper')) + confLine('work', join(a, 'work'));
  if (app.readOnlyRootfs) out += confLine('read-only', 1);
  out += volumeLines(m, app, dir);
  for (const f of ['hosts', 'hostname', 'resolv.conf']) out += confLine('file', join(dir, POD_FILES.etc, f), `/etc/${f}`);
  if (app.maskPaths !== false) {
    for (const p of MASKED_PATHS) out += confLine('masked', p);
    for (const p of READ_ONLY_PATHS) out += confLine('read-only-path', p);
  }
  for (const arg of app.exec) out += confLine('arg', arg);
  for (const e of app.env) out += confLine('env', e);
  out += confLine('cwd', app.cwd) + confLine('uid', app.uid) + confLine('gid', app.gid);
  for (const g of app.groups) out += confLine('group', g);
  out += confLine('caps', `0x${app.caps}`) + confLine('no-new-privs', app.noNewPrivileges ? 1 : 0);
  if (app.seccomp) out += confLine('seccomp', join(a, 'seccomp.bpf'));
  if (app.oomScoreAdj !== undefined) out += confLine('oom-score-adj', app.oomScoreAdj);
  out += confLine('exit-file', join(a, 'exit')) + confLine('restarts-file', join(a, 'restarts'));
  out += healthLines(app, a);
  if (o.logToFiles) out += confLine('stdout', join(a, 'stdout')) + confLine('stderr', join(a, 'stderr'));
  return `${out}end\n`;
}

export function stage1Config(m: PodManifest, dir: string, o: RunOptions): string {
  let out = confLine('version', STAGE1_INTERFACE_VERSION) + confLine('stage1', m.stage1) + confLine('hostname', m.hostname) + confLine('net', m.net === 'cni' ? o.netns! : m.net);
  for (const p of o.podCgroupProcs) out += confLine('cgroup-procs', p);
  out += confLine('pid-file', join(dir, POD_FILES.pid));
  if (o.interactive) out += confLine('interactive', 1);
  if (m.restart && m.restart.policy !== 'never') {
    out += confLine('restart-policy', m.restart.policy);
    if (m.restart.backoffInitialMs !== undefined) out += confLine('restart-backoff-initial-ms', m.restart.backoffInitialMs);
    if (m.restart.backoffMaxMs !== undefined) out += confLine('restart-backoff-max-ms', m.restart.backoffMaxMs);
    if (m.restart.maxRetries !== undefined) out += confLine('restart-max-retries', m.restart.maxRetries);
  }
  if (o.logMaxBytes !== undefined) out += confLine('log-max-bytes', o.logMaxBytes);
  for (const app of m.apps) out += appBlock(m, app, dir, o);
  return out;
}
