// `tspod run ... --emit-pod`: the pod file equivalent to a command line, so an imperative run can
// become a declarative one. Written with @iarna/toml (used only to write; lint re-reads it).
import type { AppSpec, PodSpec, VolumeSpec } from './spec.js';

function bytes(n: number): string {
  for (const [unit, size] of [['Gi', 1024 ** 3], ['Mi', 1024 ** 2], ['Ki', 1024]] as const) if (n % size === 0) return `${n / size}${unit}`;
  return String(n);
}

function volume(v: VolumeSpec): Record<string, unknown> {
  return {
    name: v.name, kind: v.kind,
    ...(v.source !== undefined && { source: v.source }), ...(v.readOnly !== undefined && { read_only: v.readOnly }),
    ...(v.recursive !== undefined && { recursive: v.recursive }), ...(v.mode !== undefined && { mode: v.mode }),
    ...(v.uid !== undefined && { uid: v.uid }), ...(v.gid !== undefined && { gid: v.gid }), ...(v.size !== undefined && { size: bytes(v.size) }),
  };
}

function app(a: AppSpec): Record<string, unknown> {
  const resources = {
    ...(a.memory !== undefined && { memory: bytes(a.memory) }), ...(a.cpuMillis !== undefined && { cpu: `${a.cpuMillis}m` }), ...(a.pids !== undefined && { pids: a.pids }),
  };
  const capabilities = { ...(a.capsRetain && { retain: [...a.capsRetain] }), ...(a.capsRemove && { remove: [...a.capsRemove] }) };
  const seccomp = { ...(a.seccomp?.retain && { retain: [...a.seccomp.retain] }), ...(a.seccomp?.remove && { remove: [...a.seccomp.remove] }), ...(a.seccomp?.errno && { errno: a.seccomp.errno }) };
  const security = {
    ...(a.noNewPrivileges !== undefined && { no_new_privileges: a.noNewPrivileges }), ...(a.oomScoreAdj !== undefined && { oom_score_adj: a.oomScoreAdj }),
    ...(Object.keys(capabilities).length > 0 && { capabilities }), ...(Object.keys(seccomp).length > 0 && { seccomp }),
  };
  return {
    name: a.name, image: a.image,
    ...(a.exec && { exec: [...a.exec] }), ...(a.args && { args: [...a.args] }), ...(a.env && { env: { ...a.env } }),
    ...(a.user !== undefined && { user: a.user }), ...(a.group !== undefined && { group: a.group }),
    ...(a.supplementaryGids && { supplementary_gids: [...a.supplementaryGids] }), ...(a.workingDir && { working_dir: a.workingDir }),
    ...(a.readOnlyRootfs !== undefined && { read_only_rootfs: a.readOnlyRootfs }),
    ...(a.mounts?.length && { mount: a.mounts.map((m) => ({ volume: m.volume, target: m.target, ...(m.readOnly && { read_only: true }) })) }),
    ...(Object.keys(resources).length > 0 && { resources }), ...(Object.keys(security).length > 0 && { security }),
  };
}

export async function emitPodFile(spec: PodSpec): Promise<string> {
  const TOML = (await import('@iarna/toml')).default;
  const doc = {
    apiVersion: 'tspod/v1', kind: 'Pod', name: spec.name ?? 'pod', stage1: spec.stage1,
    ...(spec.hostname && { hostname: spec.hostname }), ...(spec.dns && { dns: [...spec.dns] }),
    network: {
      mode: spec.net === 'cni' ? 'private' : spec.net,
      ...(spec.net === 'cni' && { nets: (spec.nets ?? [{ name: 'default' }]).map((n) => n.name) }),
      ...(spec.nets?.some((n) => n.args) && { net_args: Object.fromEntries(spec.nets.filter((n) => n.args).map((n) => [n.name, { ...n.args }])) }),
    },
    ...(spec.ports?.length && { port: spec.ports.map((p) => ({ name: p.name, host_port: p.hostPort, ...(p.hostIp && { host_ip: p.hostIp }), ...(p.protocol && { protocol: p.protocol }) })) }),
    ...(spec.dnsSearch && { dns_search: [...spec.dnsSearch] }),
    ...(spec.hosts && { hosts: spec.hosts.map((h) => ({ ip: h.ip, names: [...h.names] })) }),
    ...(spec.volumes.length > 0 && { volume: spec.volumes.map(volume) }),
    app: spec.apps.map(app),
  };
  // @iarna/toml writes 8_080 for large integers, which TOML allows; plain digits read better.
  return TOML.stringify(doc as Parameters<typeof TOML.stringify>[0]).replace(/(?<==\s*-?)(\d{1,3}(?:_\d{3})+)(?=\s*$)/gm, (n) => n.replaceAll('_', ''));
}
