// What the pod commands share: the root check, finding a pod, preparing from a spec.
import { ErrorCodes, tspodError, type TspodError } from '../errors.js';
import { err, type Result } from '../result.js';
import type { PodManifest } from '../pods/prepare.js';
import type { PodSpec } from '../pods/spec.js';
import { fail, type CommandContext } from './command.js';
import { isRoot, openStore } from './store-cli.js';

/** Pods need root: namespaces, mounts, cgroups. Returns the exit code when not root. */
export function requireRoot(ctx: CommandContext, command: string): number | undefined {
  if (isRoot()) return undefined;
  return fail(ctx, tspodError(ErrorCodes.PERMISSION, `tspod ${command}`, 'pods need root (namespaces, mounts, cgroups)', `run it as root, e.g. \`sudo tspod ${command} ...\`; fetching images works unprivileged`));
}

/** Prepares a pod; `replacing` names a pod whose name the new one may take over (apply). */
export async function prepareFromSpec(ctx: CommandContext, spec: PodSpec, replacing?: string): Promise<Result<PodManifest, TspodError>> {
  const store = openStore(ctx);
  if (store.isErr()) return err(store.error);
  const { preparePod } = await import('../pods/prepare.js');
  const { takenNames } = await import('../pods/state.js');
  const { fetchImage } = await import('./fetch.js');
  const s = store.value;
  const taken = takenNames(ctx.globals.dir);
  // The pod being replaced keeps its name until the new one is ready to take over.
  if (replacing) taken.delete(replacing);
  const insecure = runInsecure(ctx, spec);
  // A pod file's fetch-time options apply to fetching its images, as the flag's do.
  const fetchCtx = { ...ctx, globals: { ...ctx.globals, insecure: insecure as CommandContext['globals']['insecure'] } };
  return s.locked(() => preparePod({ dataDir: ctx.globals.dir, store: s, fetch: (ref) => fetchImage(fetchCtx, s, ref), takenNames: taken, insecure }, spec));
}

/** The run-time insecure options: the global flag's, plus a pod file's `insecure_options`. */
export function runInsecure(ctx: CommandContext, spec: PodSpec): Set<string> {
  const all = new Set<string>(ctx.globals.insecure);
  const expand: Record<string, string[]> = { 'all-fetch': ['image', 'tls', 'http', 'pubkey'], 'all-run': ['capabilities', 'paths', 'seccomp'] };
  for (const o of spec.insecureOptions ?? []) for (const x of expand[o] ?? [o]) all.add(x);
  for (const o of ['capabilities', 'paths', 'seccomp']) {
    if (all.has(o)) ctx.stderr.write(`tspod: warning: ${o} isolation is disabled (--insecure-options=${o})\n`);
  }
  return all;
}

export function podTime(iso: string | undefined): string {
  return iso ? iso.replace(/\.\d+Z$/, 'Z') : '-';
}

/** Config dirs holding net.d/ (local first) and the stage1, for CNI setup and teardown. */
export async function netContext(ctx: CommandContext): Promise<{ configDirs: string[]; stage1: string }> {
  const { stage1Path } = await import('../stage1/contract.js');
  return { configDirs: [ctx.globals.localConfig, ctx.globals.systemConfig], stage1: stage1Path() };
}
