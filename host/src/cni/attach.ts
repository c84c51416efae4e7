// A pod's CNI networks: a network namespace made before the pod starts (kept alive by a bind mount
// in /run/tspod/netns, made and removed by the stage1 binary: Node cannot unshare), one ADD per net
// (eth0, eth1... in order) with each result stored in the pod dir, and DEL in reverse at stop and
// gc. Teardown is idempotent and works from the stored results alone, so a pod that was SIGKILLed
// is cleaned up the same way.
import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { ErrorCodes, tspodError, type TspodError } from '../errors.js';
import { err, ok, type Result } from '../result.js';
import { loadNets, type NetConfig } from './config.js';
import { addNetwork, checkNetwork, delNetwork, type Attachment } from './invoke.js';

export interface NetRequest {
  readonly name: string;
  readonly args?: Readonly<Record<string, string>>;
}

export interface PortMapping {
  readonly hostPort: number;
  readonly containerPort: number;
  readonly protocol: 'tcp' | 'udp';
  readonly hostIP?: string;
}

export interface NetStatus {
  readonly name: string;
  readonly ifname: string;
  readonly ips: readonly string[];
}

interface Stored {
  readonly name: string;
  readonly ifname: string;
  readonly args: Record<string, string>;
  readonly runtimeConfig: Record<string, unknown>;
  readonly config: NetConfig;
  readonly result: unknown;
  /** Where it is stored (set when read back). */
  readonly file?: string;
}

export interface NetContext {
  /** Config dirs holding net.d/, local first. */
  readonly configDirs: readonly string[];
  /** The stage1 binary (for --netns-create/--netns-remove). */
  readonly stage1: string;
}

const NETNS_DIR = process.env['TSPOD_NETNS_DIR'] ?? '/run/tspod/netns';

export function netnsPath(uuid: string): string {
  return join(NETNS_DIR, uuid);
}

function netDir(podDir: string): string {
  return join(podDir, 'net');
}

function stage1Netns(ctx: NetContext, op: 'create' | 'remove', path: string): Result<void, TspodError> {
  try {
    execFileSync(ctx.stage1, [`--netns-${op}`, path], { stdio: ['ignore', 'ignore', 'pipe'], encoding: 'utf8' });
    return ok(undefined);
  } catch (e) {
    const stderr = (e as { stderr?: string }).stderr?.trim();
    return err(tspodError(ErrorCodes.NETWORK, `${op} the network namespace ${path}`, stderr || (e as Error).message, 'check that tspod runs as root'));
  }
}

function readStored(podDir: string): Stored[] {
  let files: string[];
  try {
    files = readdirSync(netDir(podDir)).filter((f) => f.endsWith('.json')).sort((a, b) => parseInt(a, 10) - parseInt(b, 10));
  } catch {
    return [];
  }
  return files.flatMap((f) => {
    try {
      return [{ ...(JSON.parse(readFileSync(join(netDir(podDir), f), 'utf8')) as Stored), file: join(netDir(podDir), f) }];
    } catch {
      return [];
    }
  });
}

/**
 * Makes the pod's netns and ADDs every net; port mappings go to the first net that takes them.
 * On any failure everything done so far is undone. Returns the netns path for the stage1.
 */
export function setupPodNetwork(ctx: NetContext, uuid: string, podDir: string, nets: readonly NetRequest[], ports: readonly PortMapping[]): Result<string, TspodError> {
  const configs = loadNets(ctx.configDirs);
  if (configs.isErr()) return err(configs.error);
  const unknown = nets.find((n) => !configs.value.has(n.name));
  if (unknown) {
    return err(tspodError(ErrorCodes.NETWORK, `join network ${unknown.name}`, 'no such network', `define it in net.d/ of the config dirs, or use one of: ${[...configs.value.keys()].join(', ')}, host, none`));
  }
  mkdirSync(NETNS_DIR, { recursive: true });
  const netns = netnsPath(uuid);
  const made = stage1Netns(ctx, 'create', netns);
  if (made.isErr()) return err(made.error);
  mkdirSync(netDir(podDir), { recursive: true });
  let portsGiven = false;
  for (const [i, n] of nets.entries()) {
    const config = configs.value.get(n.name)!;
    const takesPorts: boolean = !portsGiven && ports.length > 0 && config.plugins.some((p) => p.capabilities?.['portMappings']);
    portsGiven ||= takesPorts;
    const stored = { name: n.name, ifname: `eth${i}`, args: { ...n.args }, runtimeConfig: takesPorts ? { portMappings: ports } : {}, config };
    const added = addNetwork(config, attachment(uuid, netns, stored));
    if (added.isErr()) {
      delNetwork(config, attachment(uuid, netns, stored), undefined);
      teardownPodNetwork(ctx, uuid, podDir);
      return err(added.error);
    }
    writeFileSync(join(netDir(podDir), `${i}-${n.name}.json`), JSON.stringify({ ...stored, result: added.value }));
  }
  if (ports.length > 0 && !portsGiven) {
    teardownPodNetwork(ctx, uuid, podDir);
    return err(tspodError(ErrorCodes.NETWORK, 'forward ports', 'none of the pod\'s networks has a plugin with the portMappings capability', 'add the portmap plugin to a network (the built-in default has it)'));
  }
  return ok(netns);
}

function attachment(uuid: string, netns: string, s: Pick<Stored, 'ifname' | 'args' | 'runtimeConfig'>): Attachment {
  return { containerId: uuid, netns, ifname: s.ifname, args: s.args, runtimeConfig: s.runtimeConfig };
}

/** DEL every stored net (reverse order), then remove the netns. Idempotent. */
export function teardownPodNetwork(ctx: NetContext, uuid: string, podDir: string): Result<void, TspodError> {
  let first: TspodError | undefined;
  const netns = netnsPath(uuid);
  for (const s of readStored(podDir).reverse()) {
    const r = delNetwork(s.config, attachment(uuid, netns, s), s.result);
    // A failed DEL keeps its record: the next stop or gc retries it (the spec's expectation).
    if (r.isErr()) first ??= r.error;
    else if (s.file) rmSync(s.file, { force: true });
  }
  if (first) return err(first);
  rmSync(netDir(podDir), { recursive: true, force: true });
  if (existsSync(netns)) {
    const removed = stage1Netns(ctx, 'remove', netns);
    if (removed.isErr()) first ??= removed.error;
  }
  return first ? err(first) : ok(undefined);
}

/** CHECK every net against what ADD returned. */
export function checkPodNetwork(uuid: string, podDir: string): Result<void, TspodError> {
  for (const s of readStored(podDir)) {
    const r = checkNetwork(s.config, attachment(uuid, netnsPath(uuid), s), s.result);
    if (r.isErr()) return err(r.error);
  }
  return ok(undefined);
}

/** Each net's interface and addresses, from the stored results. */
export function podNetworks(podDir: string): NetStatus[] {
  return readStored(podDir).map((s) => {
    const ips = ((s.result as { ips?: Array<{ address?: string }> })?.ips ?? []).map((ip) => ip.address ?? '').filter(Boolean);
    return { name: s.name, ifname: s.ifname, ips };
  });
}

/** Nameservers, search domains and options the nets' results offer (for resolv.conf). */
export function resultDns(podDir: string): { nameservers: string[]; search: string[]; options: string[] } {
  const out = { nameservers: [] as string[], search: [] as string[], options: [] as string[] };
  for (const s of readStored(podDir)) {
    const dns = (s.result as { dns?: { nameservers?: string[]; search?: string[]; options?: string[] } })?.dns;
    out.nameservers.push(...(dns?.nameservers ?? []));
    out.search.push(...(dns?.search ?? []));
    out.options.push(...(dns?.options ?? []));
  }
  return out;
}
