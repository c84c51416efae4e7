// Starting a prepared pod: move it to run/, take its lock, create its cgroups, write the stage1
// config and hand over to the stage1 (docs/stage1.md). The lock's file descriptor is passed to the
// stage1 as fd 3: the pod is "running" exactly as long as one of its processes holds it. In the
// foreground this process waits and returns the pod's exit status; detached, it returns as soon as
// the stage1 reports the pod started (a line on fd 4) and leaves it running.
import { spawn } from 'node:child_process';
import { closeSync, constants, openSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import * as os from 'node:os';
import * as libc from '../../../native/src/libc.js';
import { cgroupManager, type PodCgroup } from '../cgroups/index.js';
import { describeErrno, ErrorCodes, tspodError, type TspodError } from '../errors.js';
import { err, ok, type Result } from '../result.js';
import { withLock } from '../store/lock.js';
import { stage1Config } from '../stage1/config.js';
import { checkStage1, stage1Path } from '../stage1/contract.js';
import { appCgroupId, podDir, podsLockPath, podsRoot, POD_FILES } from './layout.js';
import { formatResolv, moveState, type PodManifest } from './prepare.js';
import { resultDns, setupPodNetwork, teardownPodNetwork } from '../cni/attach.js';

export interface StartOptions {
  readonly detach: boolean;
  /** Config dirs with net.d/ (local first), for CNI networks. */
  readonly configDirs: readonly string[];
  /** Foreground only: the app gets this process's stdin (one app only); otherwise /dev/null. */
  readonly interactive?: boolean;
}

/** The pod's cgroup id and each app's (siblings under the cgroup parent, named after the pod). */
export function cgroupIds(m: PodManifest): { pod: string; apps: Map<string, string> } {
  return { pod: m.uuid, apps: new Map(m.apps.map((a, i) => [a.name, appCgroupId(m.uuid, i)])) };
}

function createCgroups(m: PodManifest): Result<{ pod: PodCgroup; apps: Map<string, PodCgroup> }, TspodError> {
  const manager = cgroupManager();
  if (manager.isErr()) return err(manager.error);
  const ids = cgroupIds(m);
  const pod = manager.value.create(ids.pod, {});
  if (pod.isErr()) return err(pod.error);
  const apps = new Map<string, PodCgroup>();
  for (const app of m.apps) {
    const limits = {
      ...(app.limits.memory !== undefined && { memoryBytes: app.limits.memory }),
      ...(app.limits.cpuMillis !== undefined && { cpuMillis: app.limits.cpuMillis }),
      ...(app.limits.pids !== undefined && { pids: app.limits.pids }),
    };
    const cg = manager.value.create(ids.apps.get(app.name)!, limits);
    if (cg.isErr()) return err(cg.error);
    apps.set(app.name, cg.value);
  }
  return ok({ pod: pod.value, apps });
}

/** Moves prepared/UUID to run/UUID and locks it, under the pods lock (gc and rm take it too). */
async function claim(dataDir: string, uuid: string): Promise<Result<number, TspodError>> {
  return withLock(podsLockPath(dataDir), 'exclusive', async () => {
    const moved = moveState(dataDir, uuid, 'prepared', 'run');
    if (moved.isErr()) return err(moved.error);
    const lockPath = join(podDir(dataDir, 'run', uuid), POD_FILES.lock);
    let fd: number;
    try {
      fd = openSync(lockPath, constants.O_RDONLY | constants.O_CREAT, 0o600);
    } catch (e) {
      return err(tspodError(ErrorCodes.IO, `lock pod ${uuid}`, describeErrno(e), 'check the data directory'));
    }
    if (libc.flock(fd, libc.LOCK_EX | libc.LOCK_NB) !== 0) {
      closeSync(fd);
      return err(tspodError(ErrorCodes.POD_STATE, `start pod ${uuid}`, 'another process holds its lock', 'it is already starting; see `tspod status`'));
    }
    return ok(fd);
  });
}

/** TSPOD_LOG_MAX_BYTES tunes log rotation (at least 4 KiB); default the stage1's 10 MiB. */
function logMaxBytes(): number | undefined {
  const v = Number(process.env['TSPOD_LOG_MAX_BYTES']);
  return Number.isSafeInteger(v) && v >= 4096 ? v : undefined;
}

export async function startPod(dataDir: string, m: PodManifest, o: StartOptions): Promise<Result<number, TspodError>> {
  const stage1 = checkStage1(stage1Path(), join(podsRoot(dataDir), 'stage1-checked'));
  if (stage1.isErr()) return err(stage1.error);
  const lockFd = await claim(dataDir, m.uuid);
  if (lockFd.isErr()) return err(lockFd.error);
  const dir = podDir(dataDir, 'run', m.uuid);
  const net = { configDirs: o.configDirs, stage1: stage1.value };
  let made: { pod: PodCgroup; apps: Map<string, PodCgroup> } | undefined;
  /** Undoes what a start that failed had set up (network, cgroups); the pod stays, exited. */
  const undo = (): void => {
    if (m.net === 'cni') teardownPodNetwork(net, m.uuid, dir);
    const manager = made ? cgroupManager() : undefined;
    if (manager?.isOk()) for (const cg of [...made!.apps.values(), made!.pod]) manager.value.remove(cg);
  };
  const fail = (e: TspodError): Result<number, TspodError> => {
    closeSync(lockFd.value);
    undo();
    return err(e);
  };
  const cgroups = m.stage1 === 'fly' ? ok(undefined) : createCgroups(m);
  if (cgroups.isErr()) return fail(cgroups.error);
  made = cgroups.value;
  const netns = m.net === 'cni' ? setupPodNetwork(net, m.uuid, dir, m.nets, m.ports) : ok(undefined);
  if (netns.isErr()) return fail(netns.error);
  if (m.dnsFromNetwork) {
    const dns = resultDns(dir);
    writeFileSync(join(dir, POD_FILES.etc, 'resolv.conf'), formatResolv(dns.nameservers, dns.search, dns.options));
  }
  const conf = join(dir, POD_FILES.conf);
  writeFileSync(conf, stage1Config(m, dir, {
    podCgroupProcs: cgroups.value?.pod.procsFiles ?? [],
    appCgroupProcs: new Map([...(cgroups.value?.apps ?? new Map<string, PodCgroup>())].map(([k, v]) => [k, v.procsFiles])),
    logToFiles: o.detach,
    ...(logMaxBytes() !== undefined && { logMaxBytes: logMaxBytes()! }),
    ...(netns.value && { netns: netns.value }),
    ...(o.interactive && { interactive: true }),
  }));
  writeFileSync(join(dir, POD_FILES.started), new Date().toISOString());
  if (o.detach) {
    const started = await runDetached(stage1.value, conf, dir, lockFd.value);
    if (started.isErr()) undo();
    return started;
  }
  const status = await runForeground(stage1.value, conf, lockFd.value, o.interactive ?? false);
  // The pod has ended: its network goes now (gc would do it too; DEL is idempotent).
  if (m.net === 'cni') teardownPodNetwork(net, m.uuid, dir);
  return status;
}

function runForeground(stage1: string, conf: string, lockFd: number, interactive: boolean): Promise<Result<number, TspodError>> {
  return new Promise((resolve) => {
    const child = spawn(stage1, [conf], { stdio: [interactive ? 'inherit' : 'ignore', 'inherit', 'inherit', lockFd, 'ignore'] });
    closeSync(lockFd);
    // The pod gets terminal signals itself (same process group); this process only waits.
    const ignore = (): void => undefined;
    for (const s of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const) process.on(s, ignore);
    child.once('error', (e) => resolve(err(tspodError(ErrorCodes.STAGE1, `run ${stage1}`, describeErrno(e), 'check the stage1 is executable'))));
    child.once('exit', (code, signal) => {
      for (const s of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const) process.off(s, ignore);
      resolve(ok(code ?? 128 + (signal ? signalNumber(signal) : 0)));
    });
  });
}

function signalNumber(signal: NodeJS.Signals): number {
  const n = (os.constants.signals as Record<string, number>)[signal];
  return n ?? 0;
}

function runDetached(stage1: string, conf: string, dir: string, lockFd: number): Promise<Result<number, TspodError>> {
  return new Promise((resolve) => {
    const log = openSync(join(dir, 'stage1.log'), constants.O_WRONLY | constants.O_CREAT | constants.O_APPEND, 0o600);
    const child = spawn(stage1, [conf], { detached: true, stdio: ['ignore', log, log, lockFd, 'pipe'] });
    closeSync(lockFd);
    closeSync(log);
    const ready = child.stdio[4] as NodeJS.ReadableStream | null;
    let answered = false;
    let timer: NodeJS.Timeout | undefined;
    const finish = (r: Result<number, TspodError>): void => {
      if (answered) return;
      answered = true;
      clearTimeout(timer);
      child.unref();
      ready?.removeAllListeners();
      (ready as unknown as { destroy?: () => void })?.destroy?.();
      resolve(r);
    };
    ready?.on('data', () => finish(ok(0)));
    // A stage1 that neither reports ready nor exits must not hang apply or reconcile.
    timer = setTimeout(() => {
      child.kill('SIGKILL');
      finish(err(tspodError(ErrorCodes.STAGE1, `start pod in ${dir}`, 'the stage1 did not report the pod started within 60 s', `see ${join(dir, 'stage1.log')}`)));
    }, 60_000);
    timer.unref();
    child.once('error', (e) => finish(err(tspodError(ErrorCodes.STAGE1, `run ${stage1}`, describeErrno(e), 'check the stage1 is executable'))));
    child.once('exit', (code) => finish(err(tspodError(ErrorCodes.STAGE1, `start pod in ${dir}`, `the stage1 exited with status ${code} before the pod started`, `see ${join(dir, 'stage1.log')}`))));
  });
}

