// What a pod should be, before anything is resolved: built from `tspod run` flags or from a pod
// file (after `tspod lint`'s checks pass). prepare.ts turns it into a pod dir.
import type { Stage1Name } from '../stage1/contract.js';
import type { TspodError } from '../errors.js';
import { ok, type Result } from '../result.js';

export interface VolumeSpec {
  readonly name: string;
  readonly kind: 'host' | 'empty' | 'tmpfs';
  readonly source?: string;
  readonly readOnly?: boolean;
  readonly recursive?: boolean;
  readonly mode?: string;
  readonly uid?: number;
  readonly gid?: number;
  readonly size?: number;
}

export interface MountSpec {
  readonly volume: string;
  readonly target: string;
  readonly readOnly?: boolean;
}

export interface SeccompSpec {
  readonly retain?: readonly string[];
  readonly remove?: readonly string[];
  readonly errno?: string;
}

export interface AppSpec {
  readonly name: string;
  readonly image: string;
  readonly exec?: readonly string[];
  readonly args?: readonly string[];
  readonly env?: Readonly<Record<string, string>>;
  readonly user?: string;
  readonly group?: string;
  readonly supplementaryGids?: readonly number[];
  readonly workingDir?: string;
  readonly readOnlyRootfs?: boolean;
  readonly mounts?: readonly MountSpec[];
  readonly memory?: number;
  readonly cpuMillis?: number;
  readonly pids?: number;
  readonly capsRetain?: readonly string[];
  readonly capsRemove?: readonly string[];
  readonly seccomp?: SeccompSpec;
  readonly noNewPrivileges?: boolean;
  readonly oomScoreAdj?: number;
  readonly health?: HealthSpec;
}

export interface HealthSpec {
  readonly exec?: readonly string[];
  /** An http:// URL on the pod's loopback, e.g. http://127.0.0.1:8080/healthz. */
  readonly http?: string;
  readonly intervalMs?: number;
  readonly timeoutMs?: number;
  readonly retries?: number;
}

export interface RestartSpec {
  readonly policy: 'never' | 'on-failure' | 'always';
  readonly backoffInitialMs?: number;
  readonly backoffMaxMs?: number;
  readonly maxRetries?: number;
}

/** "500ms", "10s", "5m", "1h30m" → ms (the lint core checks the same syntax). */
export function parseDurationMs(s: string): number | undefined {
  let total = 0;
  const re = /(\d+)(ms|h|m|s)/gy;
  let m: RegExpExecArray | null;
  let consumed = 0;
  while ((m = re.exec(s)) !== null) {
    total += Number(m[1]) * { ms: 1, s: 1000, m: 60_000, h: 3_600_000 }[m[2] as 'ms' | 's' | 'm' | 'h'];
    consumed = re.lastIndex;
  }
  return consumed === s.length && s.length > 0 ? total : undefined;
}

export interface PortSpec {
  /** An app port name from the image (e.g. http, or 80-tcp for a Docker image), or a port number. */
  readonly name: string;
  readonly hostPort: number;
  readonly hostIp?: string;
  readonly protocol?: 'tcp' | 'udp';
}

export interface PodSpec {
  readonly name?: string;
  readonly stage1: Stage1Name;
  readonly hostname?: string;
  /** cni: its own network namespace joined to `nets` (default: the net named default). */
  readonly net: 'none' | 'host' | 'cni';
  readonly nets?: ReadonlyArray<{ readonly name: string; readonly args?: Readonly<Record<string, string>> }>;
  readonly ports?: readonly PortSpec[];
  /** Nameservers; or "host" (the host's resolv.conf) or "none" (no nameserver). */
  readonly dns?: readonly string[];
  readonly dnsSearch?: readonly string[];
  readonly dnsOptions?: readonly string[];
  readonly hosts?: ReadonlyArray<{ readonly ip: string; readonly names: readonly string[] }>;
  readonly volumes: readonly VolumeSpec[];
  readonly apps: readonly AppSpec[];
  readonly restart?: RestartSpec;
  /** A pod file's insecure_options (image, http, tls... for fetching; capabilities, paths, seccomp at run). */
  readonly insecureOptions?: readonly string[];
  /** Set by `apply`: where the pod was declared, so later applies know which pods are theirs. */
  readonly origin?: PodOrigin;
}

export interface PodOrigin {
  readonly file: string;
  /** sha256 of the pod file's canonical value: a changed hash means a changed pod. */
  readonly hash: string;
  /** The apply set (e.g. a reconciled directory): --prune only removes pods of its own set. */
  readonly set: string;
  /** Pods that must be running first (the pod file's `after`). */
  readonly after: readonly string[];
}

const MEMORY_UNITS: Record<string, number> = { '': 1, k: 1e3, M: 1e6, G: 1e9, T: 1e12, Ki: 1024, Mi: 1024 ** 2, Gi: 1024 ** 3, Ti: 1024 ** 4 };

/** "256M", "1.5Gi", "1048576" → bytes (the lint core checks the same syntax with positions). */
export function parseMemory(s: string): number | undefined {
  const m = /^(\d+(?:\.\d+)?)(k|M|G|T|Ki|Mi|Gi|Ti)?$/.exec(s);
  if (!m) return undefined;
  const bytes = Math.ceil(Number(m[1]) * MEMORY_UNITS[m[2] ?? '']!);
  return bytes > 0 && Number.isSafeInteger(bytes) ? bytes : undefined;
}

/** "500m", "1.5", 2 → millicores. */
export function parseCpu(v: string | number): number | undefined {
  const millis = typeof v === 'number' ? v * 1000 : v.endsWith('m') ? Number(v.slice(0, -1)) : Number(v) * 1000;
  return Number.isFinite(millis) && millis > 0 && millis <= 1024000 ? Math.round(millis) : undefined;
}

type Obj = Record<string, unknown>;
const obj = (v: unknown): Obj => (v && typeof v === 'object' && !Array.isArray(v) ? (v as Obj) : {});
const strs = (v: unknown): string[] | undefined => (Array.isArray(v) ? v.map(String) : undefined);
const num = (v: unknown): number | undefined => (typeof v === 'bigint' ? Number(v) : typeof v === 'number' ? v : undefined);
const str = (v: unknown): string | undefined => (typeof v === 'string' ? v : typeof v === 'number' || typeof v === 'bigint' ? String(v) : undefined);

function appFromFile(a: Obj): AppSpec {
  const resources = obj(a['resources']);
  const security = obj(a['security']);
  const caps = obj(security['capabilities']);
  const seccomp = obj(security['seccomp']);
  const memory = str(resources['memory']);
  const cpu = resources['cpu'];
  return {
    name: String(a['name']), image: String(a['image']),
    ...(a['exec'] !== undefined && { exec: strs(a['exec']) }),
    ...(a['args'] !== undefined && { args: strs(a['args']) }),
    ...(a['env'] !== undefined && { env: Object.fromEntries(Object.entries(obj(a['env'])).map(([k, v]) => [k, String(v)])) }),
    ...(str(a['user']) !== undefined && { user: str(a['user']) }),
    ...(str(a['group']) !== undefined && { group: str(a['group']) }),
    ...(a['supplementary_gids'] !== undefined && { supplementaryGids: (a['supplementary_gids'] as unknown[]).map((g) => num(g)!) }),
    ...((a['working_dir'] ?? a['workdir']) !== undefined && { workingDir: String(a['working_dir'] ?? a['workdir']) }),
    ...(a['read_only_rootfs'] !== undefined && { readOnlyRootfs: a['read_only_rootfs'] === true }),
    mounts: (Array.isArray(a['mount']) ? a['mount'] : []).map((m: Obj) => ({ volume: String(m['volume']), target: String(m['target']), readOnly: m['read_only'] === true })),
    ...(memory !== undefined && { memory: parseMemory(memory) }),
    ...(cpu !== undefined && { cpuMillis: parseCpu(typeof cpu === 'bigint' ? Number(cpu) : (cpu as string | number)) }),
    ...(num(resources['pids']) !== undefined && { pids: num(resources['pids']) }),
    ...(caps['retain'] !== undefined && { capsRetain: strs(caps['retain']) }),
    ...(caps['remove'] !== undefined && { capsRemove: strs(caps['remove']) }),
    ...(Object.keys(seccomp).length > 0 && { seccomp: { ...(seccomp['retain'] !== undefined && { retain: strs(seccomp['retain']) }), ...(seccomp['remove'] !== undefined && { remove: strs(seccomp['remove']) }), ...(seccomp['errno'] !== undefined && { errno: String(seccomp['errno']) }) } }),
    ...(security['no_new_privileges'] !== undefined && { noNewPrivileges: security['no_new_privileges'] === true }),
    ...(num(security['oom_score_adj']) !== undefined && { oomScoreAdj: num(security['oom_score_adj']) }),
    ...(a['health'] !== undefined && { health: healthFromFile(obj(a['health'])) }),
  };
}

function healthFromFile(h: Obj): HealthSpec {
  const ms = (v: unknown): number | undefined => (typeof v === 'string' ? parseDurationMs(v) : undefined);
  return {
    ...(h['exec'] !== undefined && { exec: strs(h['exec']) }),
    ...(h['http'] !== undefined && { http: String(h['http']) }),
    ...(ms(h['interval']) !== undefined && { intervalMs: ms(h['interval']) }),
    ...(ms(h['timeout']) !== undefined && { timeoutMs: ms(h['timeout']) }),
    ...(num(h['retries']) !== undefined && { retries: num(h['retries']) }),
  };
}

function restartFromFile(r: Obj): RestartSpec {
  const ms = (v: unknown): number | undefined => (typeof v === 'string' ? parseDurationMs(v) : undefined);
  return {
    policy: (r['policy'] ?? 'never') as RestartSpec['policy'],
    ...(ms(r['backoff_initial']) !== undefined && { backoffInitialMs: ms(r['backoff_initial']) }),
    ...(ms(r['backoff_max']) !== undefined && { backoffMaxMs: ms(r['backoff_max']) }),
    ...(num(r['max_retries']) !== undefined && { maxRetries: num(r['max_retries']) }),
  };
}

function volumeFromFile(v: Obj): VolumeSpec {
  const size = str(v['size']);
  return {
    name: String(v['name']), kind: v['kind'] as VolumeSpec['kind'],
    ...(v['source'] !== undefined && { source: String(v['source']) }),
    ...(v['read_only'] !== undefined && { readOnly: v['read_only'] === true }),
    ...(v['recursive'] !== undefined && { recursive: v['recursive'] === true }),
    ...(v['mode'] !== undefined && { mode: String(v['mode']) }),
    ...(num(v['uid']) !== undefined && { uid: num(v['uid']) }),
    ...(num(v['gid']) !== undefined && { gid: num(v['gid']) }),
    ...(size !== undefined && { size: parseMemory(size) }),
  };
}

/** A pod file's value (already linted clean) as a PodSpec. */
export function specFromPodFile(value: unknown, _file: string): Result<PodSpec, TspodError> {
  const root = obj(value);
  const network = obj(root['network']);
  const mode = network['mode'] ?? 'private';
  const netArgs = obj(network['net_args']);
  const nets = (strs(network['nets']) ?? ['default']).map((name) => ({
    name, ...(netArgs[name] !== undefined && { args: Object.fromEntries(Object.entries(obj(netArgs[name])).map(([k, v]) => [k, String(v)])) }),
  }));
  return ok({
    name: String(root['name']),
    stage1: (root['stage1'] ?? 'cgroups') as Stage1Name,
    ...(root['hostname'] !== undefined && { hostname: String(root['hostname']) }),
    net: mode === 'host' ? 'host' : mode === 'none' ? 'none' : 'cni',
    ...(mode === 'private' && { nets }),
    ...(Array.isArray(root['port']) && { ports: (root['port'] as Obj[]).map((pt) => ({
      name: String(pt['name']), hostPort: num(pt['host_port'])!,
      ...(pt['host_ip'] !== undefined && { hostIp: String(pt['host_ip']) }),
      ...(pt['protocol'] !== undefined && { protocol: pt['protocol'] as 'tcp' | 'udp' }),
    })) }),
    ...(root['dns'] !== undefined && { dns: strs(root['dns']) }),
    ...(root['dns_search'] !== undefined && { dnsSearch: strs(root['dns_search']) }),
    ...(root['hosts'] !== undefined && { hosts: (root['hosts'] as Obj[]).map((h) => ({ ip: String(h['ip']), names: strs(h['names']) ?? [] })) }),
    volumes: (Array.isArray(root['volume']) ? root['volume'] : []).map(volumeFromFile),
    apps: (Array.isArray(root['app']) ? root['app'] : []).map(appFromFile),
    ...(root['restart'] !== undefined && { restart: restartFromFile(obj(root['restart'])) }),
    ...(root['insecure_options'] !== undefined && { insecureOptions: strs(root['insecure_options']) }),
  });
}
