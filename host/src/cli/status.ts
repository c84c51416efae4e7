// `tspod status [--wait[=DURATION]] [--format json] POD`: a pod's state, pid, apps and exit codes,
// read from disk (correct after a killed CLI or a SIGKILLed pod).
import { setTimeout as sleep } from 'node:timers/promises';
import { fail, parseFlags, usageError, type CommandContext } from './command.js';
import { parseDurationMs } from '../pods/spec.js';
import { podTime } from './pods-cli.js';
import type { PodInfo } from '../pods/state.js';

const HELP = `Usage: tspod status [--wait[=DURATION]] [--format text|json] POD

Shows a pod's state, the pid of its init, and each app's exit code once it exited.
  --wait[=DUR]   wait until the pod has exited (at most DUR: 10s, 5m; default forever)
  --check        also run CNI CHECK on the pod's networks (exit 254 when one is broken)
`;

export async function run(ctx: CommandContext, argv: string[]): Promise<number> {
  // --wait takes an optional value: normalise "--wait" alone to "--wait=forever".
  const args = argv.map((a) => (a === '--wait' ? '--wait=forever' : a));
  const parsed = parseFlags(ctx, 'status', args, { wait: { type: 'string' }, format: { type: 'string', default: 'text' }, check: { type: 'boolean' } }, HELP);
  if (typeof parsed === 'number') return parsed;
  if (parsed.positionals.length !== 1) return fail(ctx, usageError('status', 'name one POD'));
  const wait = parsed.values.wait;
  const waitMs = wait === undefined ? 0 : wait === 'forever' ? Infinity : parseDurationMs(wait);
  if (waitMs === undefined) return fail(ctx, usageError('status', `--wait ${JSON.stringify(wait)} is not a duration like 10s`));
  const { resolvePod, podInfo } = await import('../pods/state.js');
  const found = resolvePod(ctx.globals.dir, parsed.positionals[0]!);
  if (found.isErr()) return fail(ctx, found.error);
  let pod = found.value;
  const deadline = Date.now() + waitMs;
  while (waitMs > 0 && (pod.state === 'running' || pod.state === 'prepared' || pod.state === 'embryo') && Date.now() < deadline) {
    await sleep(100);
    const again = resolvePod(ctx.globals.dir, pod.uuid);
    pod = again.isOk() ? again.value : podInfo(ctx.globals.dir, pod.dirState, pod.uuid);
  }
  print(ctx, pod, parsed.values.format === 'json');
  if (parsed.values.check && pod.state === 'running') {
    const { checkPodNetwork } = await import('../cni/attach.js');
    const checked = checkPodNetwork(pod.uuid, pod.dir);
    if (checked.isErr()) return fail(ctx, checked.error);
  }
  return 0;
}

function print(ctx: CommandContext, p: PodInfo, json: boolean): void {
  const isolation = p.stage1 === 'fly' ? 'none (fly: host namespaces, no resource or capability isolation)' : 'namespaces, cgroups, capabilities, seccomp';
  if (json) {
    const { manifest: _m, dir: _d, dirState: _s, ...rest } = p;
    ctx.stdout.write(`${JSON.stringify({ ...rest, isolation }, null, 2)}\n`);
    return;
  }
  const lines = [`uuid=${p.uuid}`, `name=${p.name}`, `state=${p.state}`, `stage1=${p.stage1 ?? '-'}`, `isolation=${isolation}`,
    `created=${podTime(p.createdAt)}`, `started=${podTime(p.startedAt)}`, ...(p.pid ? [`pid=${p.pid}`] : []),
    ...p.networks.map((n) => `networks=${n.name}:${n.ifname}:${n.ips.join(',') || '-'}`),
    ...p.apps.map((a) => `app-${a.name}=${a.exitCode ?? '-'}${a.oomKilled ? ' (OOM-killed: it hit its memory limit)' : ''}${a.restarts ? ` restarts=${a.restarts}` : ''}${a.health ? ` health=${a.health}` : ''}`)];
  ctx.stdout.write(`${lines.join('\n')}\n`);
}
