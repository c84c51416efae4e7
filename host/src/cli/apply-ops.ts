// The real pod operations apply and reconcile converge with (apply/converge.ts's PodOps).
import type { CommandContext } from './command.js';
import type { PodOps } from '../apply/converge.js';
import { netContext, runInsecure } from './pods-cli.js';
import { isRoot, openStore } from './store-cli.js';
import { err, ok } from '../result.js';

export async function podOps(ctx: CommandContext): Promise<PodOps> {
  const dataDir = ctx.globals.dir;
  const net = await netContext(ctx);
  const { preparePod } = await import('../pods/prepare.js');
  const { listPods, podInfo, takenNames } = await import('../pods/state.js');
  const { startPod } = await import('../pods/run.js');
  const { stopPod, removePod } = await import('../pods/lifecycle.js');
  const { fetchImage } = await import('./fetch.js');
  return {
    async prepare(spec, replacing) {
      const store = openStore(ctx);
      if (store.isErr()) return err(store.error);
      const s = store.value;
      const taken = takenNames(dataDir);
      // The pod being replaced keeps its name until the new one is ready to take over.
      if (replacing) taken.delete(replacing);
      const insecure = runInsecure(ctx, spec);
      const fetchCtx = { ...ctx, globals: { ...ctx.globals, insecure: insecure as CommandContext['globals']['insecure'] } };
      return s.locked(() => preparePod({ dataDir, store: s, fetch: (ref) => fetchImage(fetchCtx, s, ref), takenNames: taken, insecure }, spec));
    },
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

export function rootOnly(): boolean {
  return isRoot();
}
