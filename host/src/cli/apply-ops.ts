// The real pod operations apply and reconcile converge with (apply/converge.ts's PodOps).
import type { CommandContext } from './command.js';
import type { PodOps } from '../apply/converge.js';
import { netContext, prepareFromSpec } from './pods-cli.js';
import { ok } from '../result.js';

export async function podOps(ctx: CommandContext): Promise<PodOps> {
  const dataDir = ctx.globals.dir;
  const net = await netContext(ctx);
  const { listPods, podInfo } = await import('../pods/state.js');
  const { startPod } = await import('../pods/run.js');
  const { stopPod, removePod } = await import('../pods/lifecycle.js');
  return {
    prepare: (spec, replacing) => prepareFromSpec(ctx, spec, replacing),
    start: (m) => startPod(dataDir, m, { detach: true, configDirs: net.configDirs }),
    // Plans list pods briefly: read the pod again (its pid) before stopping it; one that has
    // exited meanwhile needs no stop.
    stop: async (pod) => {
      const now = podInfo(dataDir, pod.dirState, pod.uuid);
      return now.state === 'running' ? stopPod(now, { force: false, timeoutMs: 10_000 }, net) : ok(undefined);
    },
    discard: async (m) => {
      await removePod(dataDir, podInfo(dataDir, 'prepared', m.uuid), net);
    },
    remove: (pod) => removePod(dataDir, pod, net),
    // Ready: running, and healthy where the app has a health check.
    running: () => new Set(listPods(dataDir).filter((p) => p.state === 'running'
      && (p.manifest?.apps ?? []).every((a) => !a.health || p.apps.find((x) => x.name === a.name)?.health === 'healthy')).map((p) => p.name)),
  };
}
