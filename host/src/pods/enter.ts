// Entering a running app: find the app's processes through its cgroup (host PIDs, whatever the
// pod's PID namespace says), then let the stage1's `--enter` entry point join them.
import { spawn } from 'node:child_process';
import { join } from 'node:path';
import { cgroupManager } from '../cgroups/index.js';
import { ErrorCodes, tspodError, type TspodError } from '../errors.js';
import { err, ok, type Result } from '../result.js';
import { checkStage1, stage1Path } from '../stage1/contract.js';
import { appCgroupId, podsRoot, POD_FILES } from './layout.js';
import { resolvePod } from './state.js';

export async function enterPod(dataDir: string, ref: string, appName: string | undefined, cmd: readonly string[]): Promise<Result<number, TspodError>> {
  const pod = resolvePod(dataDir, ref);
  if (pod.isErr()) return err(pod.error);
  const p = pod.value;
  const what = `enter pod ${p.uuid}`;
  if (p.state !== 'running' || !p.manifest) return err(tspodError(ErrorCodes.POD_STATE, what, `it is ${p.state}, not running`, 'start it first'));
  const apps = p.manifest.apps;
  const index = appName === undefined ? (apps.length === 1 ? 0 : -1) : apps.findIndex((a) => a.name === appName);
  if (index < 0) {
    return err(tspodError(ErrorCodes.USAGE, what, appName === undefined ? `it has ${apps.length} apps` : `it has no app ${appName}`, `name one with --app (${apps.map((a) => a.name).join(', ')})`));
  }
  const target = targetPid(p.manifest.uuid, index, p.manifest.stage1);
  if (target.isErr()) return err(target.error);
  const stage1 = checkStage1(stage1Path(), join(podsRoot(dataDir), 'stage1-checked'));
  if (stage1.isErr()) return err(stage1.error);
  return new Promise((resolve) => {
    const child = spawn(stage1.value, ['--enter', join(p.dir, POD_FILES.conf), apps[index]!.name, String(target.value), ...cmd], { stdio: 'inherit' });
    child.once('error', (e) => resolve(err(tspodError(ErrorCodes.STAGE1, what, e.message, 'check the stage1'))));
    child.once('exit', (code, signal) => resolve(ok(code ?? (signal ? 128 + 9 : 1))));
  });
}

/** A process of the app, as a host PID: the app's cgroup lists them. */
function targetPid(uuid: string, index: number, stage1: string): Result<number, TspodError> {
  const what = `enter pod ${uuid}`;
  if (stage1 === 'fly') return err(tspodError(ErrorCodes.UNSUPPORTED, what, 'fly pods share the host namespaces: there is nothing to enter', 'run the command on the host'));
  const manager = cgroupManager();
  if (manager.isErr()) return err(manager.error);
  const cg = manager.value.open(appCgroupId(uuid, index));
  if (cg.isErr()) return err(cg.error);
  const pids = cg.value ? manager.value.pids(cg.value) : [];
  if (pids.length === 0) return err(tspodError(ErrorCodes.POD_STATE, what, 'the app has no running process', 'it may have exited; see `tspod status`'));
  return ok(Math.min(...pids));
}
