// rkt's `run`/`prepare` command line: pod flags, then each image followed by its own app flags,
// `-- ARGS` for that app's arguments, and `---` before the next image:
//   tspod run [POD FLAGS] IMAGE [APP FLAGS] [-- ARGS...] [--- IMAGE [APP FLAGS] [-- ARGS...]]...
// or a pod file: `tspod run POD.toml`.
import { readFileSync } from 'node:fs';
import { ErrorCodes, tspodError, type TspodError } from '../errors.js';
import { err, ok, type Result } from '../result.js';
import { parseCpu, parseMemory, type AppSpec, type PodSpec, type VolumeSpec } from '../pods/spec.js';
import { usageError } from './command.js';

export interface PodArgs {
  readonly spec: PodSpec;
  readonly detach: boolean;
  readonly interactive?: boolean;
  readonly uuidFileSave?: string;
  readonly emitPod: boolean;
}

type Mutable<T> = { -readonly [K in keyof T]: T[K] extends ReadonlyArray<infer U> ? U[] : T[K] };

const POD_VALUE_FLAGS = new Set(['--name', '--stage1', '--net', '--hostname', '--volume', '--uuid-file-save', '--dns', '--dns-search', '--dns-opt', '--port', '--hosts-entry']);
const POD_BOOL_FLAGS = new Set(['--detach', '--emit-pod', '--interactive']);
const APP_VALUE_FLAGS = new Set(['--exec', '--user', '--group', '--set-env', '--working-dir', '--memory', '--cpu', '--pids', '--caps-retain', '--caps-remove', '--seccomp', '--mount', '--app-name', '--oom-score-adj']);
const APP_BOOL_FLAGS = new Set(['--read-only-rootfs', '--no-new-privileges']);

/** "k=v,k2=v2" → map; a bare word goes to key "" (seccomp's syscall names). */
function keyValues(s: string): Map<string, string[]> {
  const out = new Map<string, string[]>();
  for (const part of s.split(',').filter(Boolean)) {
    const eq = part.indexOf('=');
    const [k, v] = eq < 0 ? ['', part] : [part.slice(0, eq), part.slice(eq + 1)];
    out.set(k, [...(out.get(k) ?? []), v]);
  }
  return out;
}

function volumeFlag(command: string, s: string): Result<VolumeSpec, TspodError> {
  const [name, ...rest] = s.split(',');
  const kv = keyValues(rest.join(','));
  const kind = kv.get('kind')?.[0];
  if (!name || (kind !== 'host' && kind !== 'empty' && kind !== 'tmpfs')) {
    return err(usageError(command, `--volume must be NAME,kind=host|empty|tmpfs[,source=PATH][,readOnly=true], not ${JSON.stringify(s)}`));
  }
  if (kind === 'host' && !kv.get('source')?.[0]?.startsWith('/')) return err(usageError(command, `--volume ${name}: kind=host needs source=ABSOLUTE_PATH`));
  const size = kv.get('size')?.[0];
  return ok({
    name, kind,
    ...(kv.get('source') && { source: kv.get('source')![0]! }),
    ...(kv.get('readOnly') && { readOnly: kv.get('readOnly')![0] === 'true' }),
    ...(kv.get('recursive') && { recursive: kv.get('recursive')![0] !== 'false' }),
    ...(kv.get('mode') && { mode: kv.get('mode')![0]! }),
    ...(kv.get('uid') && { uid: Number(kv.get('uid')![0]) }),
    ...(kv.get('gid') && { gid: Number(kv.get('gid')![0]) }),
    ...(size && { size: parseMemory(size) }),
  });
}

function appName(image: string, taken: readonly AppSpec[]): string {
  const base = (image.replace(/^[a-z-]+:(\/\/)?/, '').split(/[/@]/).filter(Boolean).pop() ?? 'app').replace(/[:].*$/, '').toLowerCase().replace(/[^a-z0-9-]+/g, '-').replace(/^-+|-+$/g, '') || 'app';
  let name = base;
  for (let i = 2; taken.some((a) => a.name === name); i++) name = `${base}-${i}`;
  return name;
}

function appFlag(command: string, app: Mutable<AppSpec>, flag: string, value: string): Result<void, TspodError> {
  const list = (v: string): string[] => v.split(',').map((x) => x.trim()).filter(Boolean);
  switch (flag) {
    case '--exec': app.exec = [value]; break;
    case '--user': app.user = value; break;
    case '--group': app.group = value; break;
    case '--working-dir': app.workingDir = value; break;
    case '--app-name': app.name = value; break;
    case '--set-env': {
      const eq = value.indexOf('=');
      if (eq <= 0) return err(usageError(command, `--set-env must be NAME=VALUE, not ${JSON.stringify(value)}`));
      app.env = { ...app.env, [value.slice(0, eq)]: value.slice(eq + 1) };
      break;
    }
    case '--memory': {
      const m = parseMemory(value);
      if (m === undefined) return err(usageError(command, `--memory ${JSON.stringify(value)} is not a size like 256M or 1Gi`));
      app.memory = m;
      break;
    }
    case '--cpu': {
      const c = parseCpu(value);
      if (c === undefined) return err(usageError(command, `--cpu ${JSON.stringify(value)} is not like 500m or 1.5`));
      app.cpuMillis = c;
      break;
    }
    case '--pids': app.pids = Number(value); break;
    case '--oom-score-adj': app.oomScoreAdj = Number(value); break;
    case '--caps-retain': app.capsRetain = list(value); break;
    case '--caps-remove': app.capsRemove = list(value); break;
    case '--seccomp': {
      const kv = keyValues(value);
      const mode = kv.get('mode')?.[0] ?? 'remove';
      const names = kv.get('') ?? [];
      app.seccomp = { ...(mode === 'retain' ? { retain: names } : { remove: names }), ...(kv.get('errno') && { errno: kv.get('errno')![0]! }) };
      break;
    }
    case '--mount': {
      const kv = keyValues(value);
      const volume = kv.get('volume')?.[0];
      const target = kv.get('target')?.[0];
      if (!volume || !target) return err(usageError(command, `--mount must be volume=NAME,target=PATH, not ${JSON.stringify(value)}`));
      app.mounts = [...(app.mounts ?? []), { volume, target, readOnly: kv.get('readOnly')?.[0] === 'true' }];
      break;
    }
  }
  return ok(undefined);
}

/** `--net=host`, `--net=none`, or CNI nets: `--net=n1,n2:IP=198.18.0.5;K=V`. */
function parseNetFlag(command: string, value: string): Result<Pick<PodSpec, 'net' | 'nets'>, TspodError> {
  if (value === 'host' || value === 'none') return ok({ net: value });
  const nets = [];
  for (const part of value.split(',').filter(Boolean)) {
    const colon = part.indexOf(':');
    const name = colon < 0 ? part : part.slice(0, colon);
    if (!/^[a-zA-Z0-9][a-zA-Z0-9_.-]*$/.test(name)) return err(usageError(command, `--net: ${JSON.stringify(name)} is not a network name`));
    const args: Record<string, string> = {};
    for (const kv of colon < 0 ? [] : part.slice(colon + 1).split(';').filter(Boolean)) {
      const eq = kv.indexOf('=');
      if (eq <= 0) return err(usageError(command, `--net ${name}: arguments are K=V separated by ;, not ${JSON.stringify(kv)}`));
      args[kv.slice(0, eq)] = kv.slice(eq + 1);
    }
    nets.push({ name, ...(Object.keys(args).length > 0 && { args }) });
  }
  if (nets.length === 0) return err(usageError(command, '--net needs a network name, host or none'));
  return ok({ net: 'cni', nets });
}

/** Pod-level flags that set a field of the spec. */
function podFlag(command: string, pod: Omit<Mutable<PodSpec>, 'stage1'> & { stage1: string }, flag: string, value: string): Result<void, TspodError> {
  switch (flag) {
    case '--name': pod.name = value; break;
    case '--stage1': pod.stage1 = value; break;
    case '--hostname': pod.hostname = value; break;
    case '--dns': pod.dns = [...(pod.dns ?? []), value]; break;
    case '--dns-search': pod.dnsSearch = [...(pod.dnsSearch ?? []), value]; break;
    case '--dns-opt': pod.dnsOptions = [...(pod.dnsOptions ?? []), value]; break;
    case '--hosts-entry': {
      const eq = value.indexOf('=');
      if (eq <= 0) return err(usageError(command, `--hosts-entry must be IP=HOSTNAME, not ${JSON.stringify(value)}`));
      pod.hosts = [...(pod.hosts ?? []), { ip: value.slice(0, eq), names: [value.slice(eq + 1)] }];
      break;
    }
    case '--port': {
      // NAME:[HOSTIP:]HOSTPORT; NAME may itself be a number (the container port).
      const m = /^([^:]+):(?:(.+):)?(\d+)$/.exec(value);
      if (!m || Number(m[3]) < 1 || Number(m[3]) > 65535) return err(usageError(command, `--port must be NAME:[HOSTIP:]HOSTPORT, not ${JSON.stringify(value)}`));
      pod.ports = [...(pod.ports ?? []), { name: m[1]!, hostPort: Number(m[3]), ...(m[2] && { hostIp: m[2] }) }];
      break;
    }
  }
  return ok(undefined);
}

export function parsePodArgs(command: string, argv: string[]): Result<PodArgs, TspodError> {
  const pod: Omit<Mutable<PodSpec>, 'stage1'> & { stage1: string } = { stage1: 'cgroups', net: 'cni', volumes: [], apps: [] };
  let netFlag: string | undefined;
  const apps: Array<Mutable<AppSpec>> = [];
  let detach = false;
  let emitPod = false;
  let interactive = false;
  let uuidFileSave: string | undefined;
  let args: string[] | undefined;
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i]!;
    const app = apps.at(-1);
    if (args) {
      if (a === '---') args = undefined;
      else args.push(a);
      continue;
    }
    if (a === '--') {
      if (!app) return err(usageError(command, '-- must follow an IMAGE (its arguments come after it)'));
      args = app.args = [];
      continue;
    }
    if (a === '---') continue;
    const [flag, inline] = a.startsWith('--') && a.includes('=') ? [a.slice(0, a.indexOf('=')), a.slice(a.indexOf('=') + 1)] : [a, undefined];
    if (POD_BOOL_FLAGS.has(flag) || APP_BOOL_FLAGS.has(flag)) {
      if (flag === '--detach') detach = true;
      else if (flag === '--emit-pod') emitPod = true;
      else if (flag === '--interactive') interactive = true;
      else if (!app) return err(usageError(command, `${flag} applies to an app: put it after its IMAGE`));
      else if (flag === '--read-only-rootfs') app.readOnlyRootfs = true;
      else app.noNewPrivileges = true;
      continue;
    }
    if (POD_VALUE_FLAGS.has(flag) || APP_VALUE_FLAGS.has(flag)) {
      const value = inline ?? argv[++i];
      if (value === undefined) return err(usageError(command, `${flag} needs a value`));
      if (APP_VALUE_FLAGS.has(flag)) {
        if (!app) return err(usageError(command, `${flag} applies to an app: put it after its IMAGE`));
        const r = appFlag(command, app, flag, value);
        if (r.isErr()) return err(r.error);
        continue;
      }
      const done = podFlag(command, pod, flag, value);
      if (done.isErr()) return err(done.error);
      if (flag === '--net') netFlag = value;
      else if (flag === '--uuid-file-save') uuidFileSave = value;
      else if (flag === '--volume') {
        const v = volumeFlag(command, value);
        if (v.isErr()) return err(v.error);
        pod.volumes.push(v.value);
      }
      continue;
    }
    if (a.startsWith('--')) return err(usageError(command, `unknown flag ${a}`));
    apps.push({ name: appName(a, apps), image: a });
  }
  if (apps.length === 0) return err(usageError(command, 'name at least one IMAGE (or a pod file)'));
  if (interactive && (detach || apps.length !== 1)) return err(usageError(command, '--interactive needs exactly one app and no --detach'));
  if (pod.stage1 !== 'cgroups' && pod.stage1 !== 'fly') return err(usageError(command, `--stage1 must be cgroups or fly, not ${JSON.stringify(pod.stage1)}`));
  const nets = parseNetFlag(command, netFlag ?? 'default');
  if (nets.isErr()) return err(nets.error);
  const spec: PodSpec = { ...pod, ...nets.value, stage1: pod.stage1 as PodSpec['stage1'], apps };
  return ok({ spec, detach, emitPod, interactive, ...(uuidFileSave && { uuidFileSave }) });
}

/** `tspod run POD.toml`: the file must lint clean (errors), then becomes a spec. */
export async function podFileArgs(file: string, rest: string[]): Promise<Result<PodArgs, TspodError>> {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (e) {
    return err(tspodError(ErrorCodes.IO, `read ${file}`, (e as Error).message, 'check the path'));
  }
  const { lintPodText } = await import('../podfile/lint.js');
  const errors = lintPodText(text).filter((d) => d.severity === 'error');
  if (errors.length > 0) {
    const d = errors[0]!;
    return err(tspodError(ErrorCodes.CONFIG, `run ${file}`, `${file}:${d.range.start.line}:${d.range.start.column}: ${d.rule} ${d.message}`, `fix it; \`tspod lint ${file}\` lists every problem`));
  }
  const { parseTOML, getStaticTOMLValue } = await import('toml-eslint-parser');
  const { specFromPodFile } = await import('../pods/spec.js');
  const spec = specFromPodFile(getStaticTOMLValue(parseTOML(text, { tomlVersion: '1.0.0' })), file);
  if (spec.isErr()) return err(spec.error);
  return ok({ spec: spec.value, detach: rest.includes('--detach'), emitPod: false });
}
