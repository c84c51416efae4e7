// stage0's `prepare`: a PodSpec becomes a pod dir everything is decided in. Images are resolved
// (and fetched when missing), rendered once into the store and used read-only as overlayfs lower
// dirs; identities are resolved in the image; capabilities and the seccomp filter are computed;
// the /etc files are generated; pod.json records it all. Built in pods/embryo and renamed to
// pods/prepared only when complete, so a crash leaves nothing half-made in sight.
import { chownSync, closeSync, constants, mkdirSync, openSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import * as libc from '../../../native/src/libc.js';
import type { PortMapping } from '../cni/attach.js';
import { randomUUID } from 'node:crypto';
import { join } from 'node:path';
import { describeErrno, ErrorCodes, tspodError, type TspodError } from '../errors.js';
import { err, ok, type Result } from '../result.js';
import type { ImageRecord, ImageStore } from '../store/images.js';
import { treePath } from '../store/layout.js';
import { manifestOf, renderChain, renderLayers } from '../store/render.js';
import { allCapabilities, capabilityMask } from '../stage1/policy.js';
import { compileSeccomp } from '../stage1/seccomp.js';
import { appDir, podDir, podsLockPath, POD_FILES, type PodDirState } from './layout.js';
import type { AppSpec, HealthSpec, PodOrigin, PodSpec, RestartSpec, VolumeSpec } from './spec.js';
import { resolveIdentity } from './users.js';

/** pod.json: the pod as prepared; `tspod cat-manifest` prints it and run reads nothing else. */
export interface PodManifest {
  readonly format: 'tspod-pod/1';
  readonly uuid: string;
  readonly name: string;
  readonly stage1: 'cgroups' | 'fly';
  readonly hostname: string;
  readonly net: 'none' | 'host' | 'cni';
  readonly nets: ReadonlyArray<{ readonly name: string; readonly args?: Readonly<Record<string, string>> }>;
  readonly ports: readonly PortMapping[];
  /** resolv.conf comes from the CNI results at run (no --dns given and a CNI net). */
  readonly dnsFromNetwork: boolean;
  /** Set when the pod was created by `tspod apply` / `reconcile`. */
  readonly origin?: PodOrigin;
  readonly restart?: RestartSpec;
  readonly createdAt: string;
  readonly volumes: readonly VolumeSpec[];
  readonly apps: readonly PreparedApp[];
}

export interface PreparedApp {
  readonly name: string;
  readonly image: { readonly ref: string; readonly id: string; readonly name: string };
  readonly exec: readonly string[];
  readonly env: readonly string[];
  readonly uid: number;
  readonly gid: number;
  readonly groups: readonly number[];
  readonly cwd: string;
  readonly readOnlyRootfs: boolean;
  /** runc's masked and read-only /proc and /sys paths (off only with --insecure-options=paths). */
  readonly maskPaths: boolean;
  readonly lowerDirs: readonly string[];
  readonly mounts: ReadonlyArray<{ readonly volume: string; readonly target: string; readonly readOnly: boolean }>;
  readonly limits: { readonly memory?: number; readonly cpuMillis?: number; readonly pids?: number };
  /** Capability mask, hex. */
  readonly caps: string;
  readonly noNewPrivileges: boolean;
  readonly seccomp: boolean;
  readonly oomScoreAdj?: number;
  readonly health?: HealthSpec;
}

export interface PrepareContext {
  readonly dataDir: string;
  readonly store: ImageStore;
  /** Resolves an image reference to a stored image ID, fetching it when needed. */
  readonly fetch: (ref: string) => Promise<Result<string, TspodError>>;
  /** Names of pods that exist (not garbage), to keep names unique. */
  readonly takenNames: ReadonlySet<string>;
  /** rkt's run-time --insecure-options: capabilities (all of tspod's), seccomp (no filter), paths (nothing masked). */
  readonly insecure?: ReadonlySet<string>;
}

const DEFAULT_PATH = '/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin';

function ioError(what: string, e: unknown): TspodError {
  return tspodError(ErrorCodes.IO, what, describeErrno(e), 'check free space and the permissions of the data directory', e);
}

export async function preparePod(ctx: PrepareContext, spec: PodSpec): Promise<Result<PodManifest, TspodError>> {
  const checked = checkSpec(ctx, spec);
  if (checked.isErr()) return err(checked.error);
  const uuid = randomUUID();
  const name = spec.name ?? `pod-${uuid.slice(0, 8)}`;
  const embryo = podDir(ctx.dataDir, 'embryo', uuid);
  let lockFd: number;
  try {
    mkdirSync(embryo, { recursive: true, mode: 0o700 });
    writeFileSync(join(embryo, POD_FILES.created), new Date().toISOString());
    // Held while preparing: gc leaves a locked embryo alone however long the fetch takes.
    lockFd = openSync(join(embryo, POD_FILES.lock), constants.O_RDONLY | constants.O_CREAT, 0o600);
    libc.flock(lockFd, libc.LOCK_EX | libc.LOCK_NB);
  } catch (e) {
    return err(ioError(`create pod ${uuid}`, e));
  }
  // The pods already holding this name (a pod being replaced): any other one at publish is a race.
  const { listPods } = await import('./state.js');
  const live = (st: string): boolean => st !== 'garbage' && st !== 'exited-garbage' && st !== 'embryo';
  const holdersBefore = new Set(listPods(ctx.dataDir, true).filter((p) => p.name === name && live(p.state)).map((p) => p.uuid));
  try {
    const built = await buildPod(ctx, spec, uuid, name, embryo);
    if (built.isErr()) {
      rmSync(embryo, { recursive: true, force: true });
      return err(built.error);
    }
    return await publish(ctx, uuid, name, holdersBefore).then((r) => r.map(() => built.value));
  } catch (e) {
    rmSync(embryo, { recursive: true, force: true });
    return err(ioError(`prepare pod ${uuid}`, e));
  } finally {
    closeSync(lockFd);
  }
}

/**
 * embryo -> prepared under the pods lock, with the name checked again there: two commands that
 * both saw a name free cannot both take it.
 */
async function publish(ctx: PrepareContext, uuid: string, name: string, holdersBefore: ReadonlySet<string>): Promise<Result<void, TspodError>> {
  const { withLock } = await import('../store/lock.js');
  const { listPods } = await import('./state.js');
  return withLock(podsLockPath(ctx.dataDir), 'exclusive', async () => {
    const holder = listPods(ctx.dataDir, true).find((p) => p.uuid !== uuid && p.name === name && !holdersBefore.has(p.uuid)
      && p.state !== 'garbage' && p.state !== 'exited-garbage' && p.state !== 'embryo');
    if (holder) {
      rmSync(podDir(ctx.dataDir, 'embryo', uuid), { recursive: true, force: true });
      return err(tspodError(ErrorCodes.EXISTS, `prepare pod ${name}`, `a pod named ${name} was created meanwhile (${holder.uuid})`, 'pick another name, or remove that pod'));
    }
    return moveState(ctx.dataDir, uuid, 'embryo', 'prepared');
  });
}

function checkSpec(ctx: PrepareContext, spec: PodSpec): Result<void, TspodError> {
  const what = `prepare pod ${spec.name ?? ''}`.trim();
  if ((spec.stage1 as string) !== 'cgroups' && (spec.stage1 as string) !== 'fly') {
    return err(tspodError(ErrorCodes.UNSUPPORTED, what, `the ${spec.stage1} stage1 is not available in this build`, 'use stage1 "cgroups" or "fly"'));
  }
  if (spec.apps.length === 0) return err(tspodError(ErrorCodes.USAGE, what, 'the pod has no apps', 'name at least one image'));
  if (spec.name && ctx.takenNames.has(spec.name)) {
    return err(tspodError(ErrorCodes.EXISTS, what, `a pod named ${spec.name} already exists`, 'pick another name, or `tspod rm` the old pod'));
  }
  const names = spec.apps.map((a) => a.name);
  const dup = names.find((n, i) => names.indexOf(n) !== i);
  if (dup) return err(tspodError(ErrorCodes.USAGE, what, `two apps are named ${dup}`, 'give each app its own name'));
  return ok(undefined);
}

export function moveState(dataDir: string, uuid: string, from: PodDirState, to: PodDirState): Result<void, TspodError> {
  try {
    mkdirSync(join(podDir(dataDir, to, uuid), '..'), { recursive: true, mode: 0o700 });
    renameSync(podDir(dataDir, from, uuid), podDir(dataDir, to, uuid));
    return ok(undefined);
  } catch (e) {
    return err(tspodError(ErrorCodes.POD_STATE, `move pod ${uuid} from ${from} to ${to}`, describeErrno(e), 'another tspod command may have moved it; check `tspod list`', e));
  }
}

async function buildPod(ctx: PrepareContext, spec: PodSpec, uuid: string, name: string, dir: string): Promise<Result<PodManifest, TspodError>> {
  const apps: PreparedApp[] = [];
  const portsOf = new Map<string, ImagePort[]>();
  for (const app of spec.apps) {
    const prepared = await prepareApp(ctx, spec, app, dir, portsOf);
    if (prepared.isErr()) return err(prepared.error);
    apps.push(prepared.value);
  }
  const volumes = prepareVolumes(spec, dir);
  if (volumes.isErr()) return err(volumes.error);
  const ports = resolvePorts(spec, apps, portsOf);
  if (ports.isErr()) return err(ports.error);
  const net = spec.stage1 === 'fly' ? 'host' : spec.net;
  const manifest: PodManifest = {
    format: 'tspod-pod/1', uuid, name, stage1: spec.stage1, hostname: spec.hostname ?? name, net,
    nets: net === 'cni' ? (spec.nets ?? [{ name: 'default' }]) : [], ports: ports.value,
    dnsFromNetwork: net === 'cni' && spec.dns === undefined,
    ...(spec.origin && { origin: spec.origin }),
    ...(spec.restart && { restart: spec.restart }),
    createdAt: new Date().toISOString(), volumes: spec.volumes, apps,
  };
  try {
    writeEtc(spec, manifest, dir);
    writeFileSync(join(dir, POD_FILES.manifest), `${JSON.stringify(manifest, null, 2)}\n`);
  } catch (e) {
    return err(ioError(`write pod ${uuid}`, e));
  }
  return ok(manifest);
}

async function imageRecord(ctx: PrepareContext, ref: string): Promise<Result<ImageRecord, TspodError>> {
  // A name already in the store is used as is (as rkt does); anything else is fetched.
  const stored = await ctx.store.resolve(ref);
  if (stored.isOk()) return stored;
  const id = await ctx.fetch(ref);
  if (id.isErr()) return err(id.error);
  return ctx.store.resolve(id.value);
}

/** Read-only lower dirs (top first): store-rendered trees where possible, else rendered here. */
async function lowerDirsOf(ctx: PrepareContext, image: ImageRecord, dir: string, app: string): Promise<Result<string[], TspodError>> {
  if (image.kind === 'oci') {
    const rendered = image.rendered ? ok(image) : await ctx.store.renderLayerDirs(image);
    return rendered.map((r) => ctx.store.lowerDirs(r));
  }
  const deps = manifestOf(image).dependencies ?? [];
  if (image.rendered && deps.length === 0) return ok([join(treePath(ctx.store.paths, image.id), 'rootfs')]);
  // Images with dependencies are rendered per pod: the store caches no rendered chains yet.
  const chain = await renderChain(ctx.store, image);
  if (chain.isErr()) return err(chain.error);
  const rootfs = join(appDir(dir, app), 'image');
  mkdirSync(rootfs, { recursive: true });
  return (await renderLayers(ctx.store, chain.value, rootfs)).map(() => [rootfs]);
}

async function prepareApp(ctx: PrepareContext, spec: PodSpec, app: AppSpec, dir: string, portsOf: Map<string, ImagePort[]>): Promise<Result<PreparedApp, TspodError>> {
  const what = `prepare app ${app.name}`;
  const image = await imageRecord(ctx, app.image);
  if (image.isErr()) return err(image.error);
  const lowers = await lowerDirsOf(ctx, image.value, dir, app.name);
  if (lowers.isErr()) return err(lowers.error);
  const m = manifestOf(image.value).app;
  portsOf.set(app.name, (m?.ports ?? []).map((pt) => ({ name: pt.name, port: pt.port, protocol: pt.protocol === 'udp' ? 'udp' : 'tcp' })));
  const exec = [...(app.exec ?? m?.exec ?? []), ...(app.args ?? [])];
  if (exec.length === 0) return err(tspodError(ErrorCodes.CONFIG, what, `the image ${image.value.name} names no command`, 'give one with --exec (or exec in the pod file)'));
  // A user given here brings its own primary group unless a group is given too (as Docker does).
  const group = app.group ?? (app.user !== undefined ? undefined : m?.group);
  const id = resolveIdentity(lowers.value, app.user ?? m?.user, group, app.supplementaryGids ?? [], app.name);
  if (id.isErr()) return err(id.error);
  const fly = spec.stage1 === 'fly';
  const insecure = ctx.insecure ?? new Set<string>();
  const caps = fly || insecure.has('capabilities') ? ok(allCapabilities()) : capabilityMask(app.capsRetain, app.capsRemove);
  if (caps.isErr()) return err(caps.error);
  const seccomp = fly || insecure.has('seccomp') ? ok(false) : writeSeccomp(app, dir);
  if (seccomp.isErr()) return err(seccomp.error);
  for (const sub of ['rootfs', 'upper', 'work']) mkdirSync(join(appDir(dir, app.name), sub), { recursive: true });
  return ok({
    name: app.name,
    image: { ref: app.image, id: image.value.id, name: image.value.name },
    exec, env: envOf(m?.environment ?? [], app.env ?? {}, app.name),
    uid: id.value.uid, gid: id.value.gid, groups: id.value.groups,
    cwd: app.workingDir ?? m?.workingDirectory ?? '/',
    readOnlyRootfs: app.readOnlyRootfs ?? false,
    maskPaths: !insecure.has('paths'),
    lowerDirs: lowers.value,
    mounts: (app.mounts ?? []).map((mt) => ({ volume: mt.volume, target: mt.target, readOnly: mt.readOnly ?? false })),
    limits: {
      ...(app.memory !== undefined && { memory: app.memory }),
      ...(app.cpuMillis !== undefined && { cpuMillis: app.cpuMillis }),
      ...(app.pids !== undefined && { pids: app.pids }),
    },
    caps: caps.value.toString(16),
    // no_new_privs by default for non-root apps (setuid binaries then cannot raise them).
    noNewPrivileges: app.noNewPrivileges ?? id.value.uid !== 0,
    seccomp: seccomp.value,
    ...(app.oomScoreAdj !== undefined && { oomScoreAdj: app.oomScoreAdj }),
    ...(app.health && { health: app.health }),
  });
}

interface ImagePort {
  readonly name: string;
  readonly port: number;
  readonly protocol: 'tcp' | 'udp';
}

/** Port forwards: a name the images declare (appc ports, Docker ExposedPorts as 80-tcp), or a number. */
function resolvePorts(spec: PodSpec, _apps: readonly PreparedApp[], portsOf: ReadonlyMap<string, ImagePort[]>): Result<PortMapping[], TspodError> {
  const declared = [...portsOf.values()].flat();
  const out: PortMapping[] = [];
  for (const p of spec.ports ?? []) {
    const named = declared.find((d) => d.name === p.name);
    const containerPort = named?.port ?? (/^\d+$/.test(p.name) ? Number(p.name) : undefined);
    if (containerPort === undefined || containerPort < 1 || containerPort > 65535) {
      return err(tspodError(ErrorCodes.CONFIG, `forward port ${p.name}`, `no app declares a port named ${p.name}`, `use a declared name (${declared.map((d) => d.name).join(', ') || 'none declared'}) or a port number`));
    }
    if (spec.net !== 'cni') return err(tspodError(ErrorCodes.CONFIG, `forward port ${p.name}`, `the pod uses the ${spec.net} network`, 'ports are forwarded into a pod network (CNI); with net=host the app listens on the host directly'));
    out.push({ hostPort: p.hostPort, containerPort, protocol: p.protocol ?? named?.protocol ?? 'tcp', ...(p.hostIp && { hostIP: p.hostIp }) });
  }
  return ok(out);
}

function envOf(image: ReadonlyArray<{ name: string; value: string }>, overrides: Readonly<Record<string, string>>, app: string): string[] {
  const env = new Map<string, string>([['PATH', DEFAULT_PATH]]);
  for (const { name, value } of image) env.set(name, value);
  for (const [k, v] of Object.entries(overrides)) env.set(k, v);
  env.set('AC_APP_NAME', app);
  return [...env].map(([k, v]) => `${k}=${v}`);
}

function writeSeccomp(app: AppSpec, dir: string): Result<boolean, TspodError> {
  const filter = compileSeccomp({
    ...(app.seccomp?.retain && { retain: app.seccomp.retain }),
    ...(app.seccomp?.remove && { remove: app.seccomp.remove }),
    ...(app.seccomp?.errno && { errno: app.seccomp.errno }),
  });
  if (filter.isErr()) return err(filter.error);
  mkdirSync(appDir(dir, app.name), { recursive: true });
  writeFileSync(join(appDir(dir, app.name), 'seccomp.bpf'), filter.value);
  return ok(true);
}

function prepareVolumes(spec: PodSpec, dir: string): Result<void, TspodError> {
  const names = new Set(spec.volumes.map((v) => v.name));
  for (const app of spec.apps) {
    const missing = (app.mounts ?? []).find((m) => !names.has(m.volume));
    if (missing) return err(tspodError(ErrorCodes.CONFIG, `prepare app ${app.name}`, `it mounts volume ${missing.volume}, which the pod does not define`, 'define the volume (--volume or [[volume]])'));
    const bad = (app.mounts ?? []).find((m) => !m.target.startsWith('/') || m.target.split('/').includes('..'));
    if (bad) return err(tspodError(ErrorCodes.CONFIG, `prepare app ${app.name}`, `mount target ${bad.target} is not an absolute path without ..`, 'write the normalized absolute path'));
  }
  try {
    for (const v of spec.volumes.filter((x) => x.kind === 'empty')) {
      const p = join(dir, POD_FILES.volumes, v.name);
      mkdirSync(p, { recursive: true, mode: Number.parseInt(v.mode ?? '0755', 8) });
      chownSync(p, v.uid ?? 0, v.gid ?? 0);
    }
  } catch (e) {
    return err(ioError('create the pod volumes', e));
  }
  return ok(undefined);
}

function writeEtc(spec: PodSpec, m: PodManifest, dir: string): void {
  const etc = join(dir, POD_FILES.etc);
  mkdirSync(etc, { recursive: true });
  const hosts = ['127.0.0.1\tlocalhost', '::1\tlocalhost ip6-localhost ip6-loopback', `127.0.1.1\t${m.hostname}`,
    ...(spec.hosts ?? []).map((h) => `${h.ip}\t${h.names.join(' ')}`)];
  writeFileSync(join(etc, 'hosts'), `${hosts.join('\n')}\n`);
  writeFileSync(join(etc, 'hostname'), `${m.hostname}\n`);
  writeFileSync(join(etc, 'resolv.conf'), resolvConf(spec, m));
}

/** --dns host: the host's file; none or nothing given: no nameserver (a CNI net may fill it at run). */
function resolvConf(spec: PodSpec, m: PodManifest): string {
  if (spec.dns?.[0] === 'host' || (spec.dns === undefined && m.net === 'host')) {
    try {
      return readFileSync('/etc/resolv.conf', 'utf8');
    } catch {
      return '';
    }
  }
  const servers = (spec.dns ?? []).filter((d) => d !== 'none');
  return formatResolv(servers, spec.dnsSearch ?? [], spec.dnsOptions ?? []);
}

export function formatResolv(servers: readonly string[], search: readonly string[], options: readonly string[]): string {
  const lines = [...servers.map((d) => `nameserver ${d}`), ...(search.length ? [`search ${search.join(' ')}`] : []), ...(options.length ? [`options ${options.join(' ')}`] : [])];
  return lines.length ? `${lines.join('\n')}\n` : '';
}
