// Running CNI plugins as the spec says: one process per plugin, the network config (with
// `prevResult` chained through a conflist, and `runtimeConfig` for the capabilities a plugin
// declares) on stdin, CNI_* in the environment, the result or an error object on stdout.
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { ErrorCodes, tspodError, type TspodError } from '../errors.js';
import { err, ok, type Result } from '../result.js';
import type { NetConfig, NetPlugin } from './config.js';

export type CniCommand = 'ADD' | 'CHECK' | 'DEL';

export interface Attachment {
  readonly containerId: string;
  readonly netns: string;
  readonly ifname: string;
  /** CNI_ARGS pairs (e.g. IP=198.18.0.5). */
  readonly args: Readonly<Record<string, string>>;
  /** runtimeConfig values offered to plugins that declare the capability. */
  readonly runtimeConfig: Readonly<Record<string, unknown>>;
}

/** Where plugins are looked up: TSPOD_CNI_PATH, else Debian's and the upstream default. */
export function pluginPath(): string[] {
  return (process.env['TSPOD_CNI_PATH'] ?? '/usr/lib/cni:/opt/cni/bin').split(':').filter(Boolean);
}

function findPlugin(type: string, path: readonly string[]): string | undefined {
  if (!/^[a-zA-Z0-9_.-]+$/.test(type)) return undefined;
  return path.map((d) => join(d, type)).find((p) => existsSync(p));
}

function stdinFor(net: NetConfig, plugin: NetPlugin, a: Attachment, prevResult: unknown): string {
  const runtimeConfig = Object.fromEntries(Object.entries(plugin.capabilities ?? {}).filter(([k, on]) => on && a.runtimeConfig[k] !== undefined).map(([k]) => [k, a.runtimeConfig[k]]));
  const { capabilities: _c, ...rest } = plugin;
  return JSON.stringify({
    ...rest, cniVersion: net.cniVersion, name: net.name,
    ...(Object.keys(runtimeConfig).length > 0 && { runtimeConfig }),
    ...(prevResult !== undefined && { prevResult }),
  });
}

function failure(net: NetConfig, command: CniCommand, plugin: string, why: string): TspodError {
  return tspodError(ErrorCodes.NETWORK, `${command} network ${net.name} (plugin ${plugin})`, why, `check the network config (${net.source}) and the plugin path (${pluginPath().join(':')})`);
}

function runPlugin(net: NetConfig, plugin: NetPlugin, command: CniCommand, a: Attachment, prevResult: unknown): Result<unknown, TspodError> {
  const path = pluginPath();
  const exe = findPlugin(plugin.type, path);
  if (!exe) return err(failure(net, command, plugin.type, `no plugin named ${JSON.stringify(plugin.type)} in ${path.join(':')}`));
  const env = {
    PATH: process.env['PATH'] ?? '/usr/sbin:/usr/bin:/sbin:/bin', CNI_COMMAND: command, CNI_CONTAINERID: a.containerId, CNI_NETNS: a.netns,
    CNI_IFNAME: a.ifname, // IgnoreUnknown=1: plugins that do not use an argument (bridge, ptp) then accept it, as with podman.
    CNI_ARGS: Object.keys(a.args).length === 0 ? '' : ['IgnoreUnknown=1', ...Object.entries(a.args).map(([k, v]) => `${k}=${v}`)].join(';'), CNI_PATH: path.join(':'),
  };
  const r = spawnSync(exe, [], { input: stdinFor(net, plugin, a, prevResult), env, encoding: 'utf8', timeout: 30_000 });
  if (r.error) return err(failure(net, command, plugin.type, r.error.message));
  if (r.status !== 0) return err(failure(net, command, plugin.type, pluginError(r.stdout, r.stderr, r.status)));
  if (command !== 'ADD') return ok(prevResult);
  try {
    return ok(JSON.parse(r.stdout));
  } catch {
    return err(failure(net, command, plugin.type, `its result is not JSON: ${JSON.stringify(r.stdout.slice(0, 200))}`));
  }
}

/** The spec's error object {code, msg, details}, or whatever the plugin printed. */
function pluginError(stdout: string, stderr: string, status: number | null): string {
  try {
    const e = JSON.parse(stdout) as { code?: number; msg?: string; details?: string };
    if (e.msg) return `error ${e.code ?? '?'}: ${e.msg}${e.details ? ` (${e.details})` : ''}`;
  } catch {
    // not JSON: fall through
  }
  return `exit status ${status}: ${(stderr || stdout).trim().slice(0, 300) || 'no output'}`;
}

/** ADD through the chain; returns the final result. */
export function addNetwork(net: NetConfig, a: Attachment): Result<unknown, TspodError> {
  let result: unknown;
  for (const plugin of net.plugins) {
    const r = runPlugin(net, plugin, 'ADD', a, result);
    if (r.isErr()) return err(r.error);
    result = r.value;
  }
  return ok(result);
}

/** CHECK (cniVersion 0.4.0 and later) against the stored result. */
export function checkNetwork(net: NetConfig, a: Attachment, result: unknown): Result<void, TspodError> {
  if (net.cniVersion === '0.3.0' || net.cniVersion === '0.3.1' || net.disableCheck) return ok(undefined);
  for (const plugin of net.plugins) {
    const r = runPlugin(net, plugin, 'CHECK', a, result);
    if (r.isErr() && !portmapIpv6Quirk(plugin, r.error, result)) return err(r.error);
  }
  return ok(undefined);
}

/**
 * portmap 1.1.1 (Debian 12) also CHECKs the IPv6 DNAT chain of a pod that has no IPv6 address,
 * a chain it never creates, and fails. For such a pod that one failure is not a broken network.
 */
function portmapIpv6Quirk(plugin: NetPlugin, e: TspodError, result: unknown): boolean {
  const ips = (result as { ips?: Array<{ address?: string }> })?.ips ?? [];
  return plugin.type === 'portmap' && /could not check ipv6 dnat/.test(e.why) && !ips.some((ip) => ip.address?.includes(':'));
}

/** DEL in reverse order; every plugin is asked even if one fails (DEL must clean up all it can). */
export function delNetwork(net: NetConfig, a: Attachment, result: unknown): Result<void, TspodError> {
  let first: TspodError | undefined;
  for (const plugin of [...net.plugins].reverse()) {
    const r = runPlugin(net, plugin, 'DEL', a, result);
    if (r.isErr()) first ??= r.error;
  }
  return first ? err(first) : ok(undefined);
}
