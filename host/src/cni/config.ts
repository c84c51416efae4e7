// CNI network configurations (spec up to 1.0.0, what Debian's containernetworking-plugins 1.1.1
// speaks): `net.d/*.conf` and `*.conflist` in the local config dir, then the system one (the first
// definition of a name wins), and rkt's built-in nets, which a user config of the same name
// replaces. A `.conf` is one plugin: it is read as a conflist of one.
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { ErrorCodes, tspodError, type TspodError } from '../errors.js';
import { err, ok, type Result } from '../result.js';

export interface NetPlugin {
  readonly type: string;
  readonly capabilities?: Readonly<Record<string, boolean>>;
  readonly [key: string]: unknown;
}

export interface NetConfig {
  readonly name: string;
  readonly cniVersion: string;
  readonly plugins: readonly NetPlugin[];
  /** The spec's disableCheck: the runtime must not run CHECK. */
  readonly disableCheck?: boolean;
  /** Where it came from: a file, or "built-in". */
  readonly source: string;
}

export const SUPPORTED_VERSIONS = ['0.3.0', '0.3.1', '0.4.0', '1.0.0'];

/** rkt's built-in nets: `default` (ptp, masqueraded, default route) and `default-restricted` (host only). */
export function builtinNets(): NetConfig[] {
  const ptp = (subnet: string, masquerade: boolean, routes: object[]): NetPlugin => ({
    type: 'ptp', ipMasq: masquerade,
    ipam: { type: 'host-local', ranges: [[{ subnet }]], routes },
  });
  return [
    {
      name: 'default', cniVersion: '1.0.0', source: 'built-in',
      plugins: [ptp('172.16.28.0/24', true, [{ dst: '0.0.0.0/0' }]), { type: 'portmap', capabilities: { portMappings: true }, snat: true }],
    },
    {
      name: 'default-restricted', cniVersion: '1.0.0', source: 'built-in',
      plugins: [ptp('172.17.0.0/16', false, []), { type: 'portmap', capabilities: { portMappings: true }, snat: true }],
    },
  ];
}

function invalid(file: string, why: string): TspodError {
  return tspodError(ErrorCodes.CONFIG, `read the network config ${file}`, why, 'fix the file (CNI spec: name, cniVersion, and type or plugins)');
}

export function parseNetConfig(text: string, file: string): Result<NetConfig, TspodError> {
  let v: unknown;
  try {
    v = JSON.parse(text);
  } catch (e) {
    return err(invalid(file, `it is not JSON (${(e as Error).message})`));
  }
  if (!v || typeof v !== 'object' || Array.isArray(v)) return err(invalid(file, 'it is not a JSON object'));
  const o = v as Record<string, unknown>;
  if (typeof o['name'] !== 'string' || !/^[a-zA-Z0-9][a-zA-Z0-9_.-]*$/.test(o['name'])) return err(invalid(file, 'its "name" is missing or not a valid network name'));
  const cniVersion = typeof o['cniVersion'] === 'string' ? o['cniVersion'] : '';
  if (!SUPPORTED_VERSIONS.includes(cniVersion)) return err(invalid(file, `its cniVersion ${JSON.stringify(o['cniVersion'])} is not one of ${SUPPORTED_VERSIONS.join(', ')}`));
  const plugins = file.endsWith('.conflist') ? o['plugins'] : [o];
  if (!Array.isArray(plugins) || plugins.length === 0) return err(invalid(file, 'a .conflist needs a non-empty "plugins" array'));
  for (const p of plugins) {
    if (!p || typeof p !== 'object' || typeof (p as Record<string, unknown>)['type'] !== 'string') return err(invalid(file, 'every plugin needs a "type"'));
  }
  return ok({ name: o['name'], cniVersion, plugins: plugins as NetPlugin[], source: file, ...(o['disableCheck'] === true && { disableCheck: true }) });
}

/** Every net by name: local config, then system config, then built-ins. */
export function loadNets(configDirs: readonly string[]): Result<Map<string, NetConfig>, TspodError> {
  const nets = new Map<string, NetConfig>();
  for (const dir of configDirs) {
    let names: string[];
    try {
      names = readdirSync(join(dir, 'net.d')).filter((n) => n.endsWith('.conf') || n.endsWith('.conflist')).sort();
    } catch {
      continue;
    }
    for (const name of names) {
      const file = join(dir, 'net.d', name);
      const parsed = parseNetConfig(readFileSync(file, 'utf8'), file);
      if (parsed.isErr()) return err(parsed.error);
      if (!nets.has(parsed.value.name)) nets.set(parsed.value.name, parsed.value);
    }
  }
  for (const b of builtinNets()) if (!nets.has(b.name)) nets.set(b.name, b);
  return ok(nets);
}
