// Converts between the tspod pod file (TOML, manifests/pod.schema.json) and the appc Pod
// Manifest (JSON, spec pods.md 0.8.11; /work/shared/reference/appc.md §3, §6.4).
//
// TOML → appc, field by field:
//   [[app]] name, read_only_rootfs       → apps[].name, readOnlyRootFS
//   app image "name[:version]"           → image {name, labels [{version}]}
//   app image "sha512-..."               → image {id}
//   app image anything else (docker://, oci:, URL, path, name@sha256:...) → image {} plus the
//        app annotation tspod.dev/image, and a warning: an appc executor cannot fetch it
//   exec (+ args)                        → app.exec (args appended; args alone: annotation)
//   user, group, supplementary_gids, env, working_dir (or workdir)
//                                        → app.user, group (strings), supplementaryGIDs,
//                                          environment [{name,value}], workingDirectory
//   resources.memory / cpu               → isolators resource/memory, resource/cpu {limit}
//   security.*                           → os/linux/no-new-privileges, oom-score-adj,
//                                          capabilities-{retain,remove}-set,
//                                          seccomp-{retain,remove}-set {set, errno}
//   [[app.mount]] volume, target         → mounts [{volume, path}]; read_only mounts are
//                                          listed in the app annotation tspod.dev/read-only-mounts
//   [[volume]] host/empty                → volumes [{name, kind, source, readOnly, recursive,
//                                          mode, uid, gid}]
//   [[volume]] tmpfs                     → kind "empty" (appc has no tmpfs) plus the pod
//                                          annotation tspod.dev/volume/NAME {"kind":"tmpfs",
//                                          "size":...}; a warning says the appc executor gives
//                                          a directory on disk
//   [[port]] name, host_port, host_ip    → ports [{name, hostPort, hostIP}]; protocol goes to
//                                          tspod.dev/port/NAME
//   labels                               → userLabels (appc's own field for labels that do not
//                                          affect the runtime)
//   annotations                          → annotations when the key is an AC Identifier outside
//                                          tspod.dev/, else userAnnotations (free-form)
//
// Nothing is dropped going this way: every other field (name, stage1, kvm, restart, network,
// dns, dns_search, hostname, hosts, after, insecure_options; per app health, stop_signal,
// stop_grace_period, resources.pids, ...) becomes an annotation named `tspod.dev/` + its dotted
// TOML path, pod fields on the pod and app fields on the app. Values are strings as they are
// when that is unambiguous (`tspod.dev/name` = `web`), otherwise JSON (`tspod.dev/restart` =
// `{"policy":"on-failure",...}`, a string that reads as JSON is JSON-quoted); see encodeValue.
// When the app needs an `app` section (appc then requires user and group) but the pod file
// names no user or group, "0" is written and tspod.dev/defaulted-ids says so, so that the
// way back does not invent them.
//
// appc → TOML reverses all of the above. What the pod file cannot say (pod isolators, podPort,
// image labels other than version, app eventHandlers, mountPoints, ports, app annotations not
// under tspod.dev/, mounts with an appVolume, unknown isolators) is dropped with a warning.
// Annotation lists are sorted by name so that a round trip gives the same JSON.
import { getStaticTOMLValue, parseTOML } from 'toml-eslint-parser';
import TOML from '@iarna/toml';
import { ErrorCodes, tspodError, type TspodError } from '../errors.js';
import { err, ok, type Result } from '../result.js';
import { isAcIdentifier } from '../appc/types.js';

export const AC_VERSION = '0.8.11';
const PREFIX = 'tspod.dev/';

type Obj = Record<string, unknown>;
export interface NameValue {
  name: string;
  value: string;
}

export interface Converted<T> {
  readonly value: T;
  /** Things the target format cannot say exactly, for stderr. */
  readonly warnings: string[];
}

// ---------------------------------------------------------------- small helpers

function isObj(v: unknown): v is Obj {
  return typeof v === 'object' && v !== null && !Array.isArray(v) && !(v instanceof Date);
}

function asObj(v: unknown): Obj {
  return isObj(v) ? v : {};
}

function asArray(v: unknown): unknown[] {
  return Array.isArray(v) ? v : [];
}

function stringArray(v: unknown): string[] {
  return asArray(v).filter((x): x is string => typeof x === 'string');
}

/** Strings stay readable; anything that JSON.parse would read back differently is JSON. */
export function encodeValue(v: unknown): string {
  if (typeof v !== 'string') return JSON.stringify(v);
  try {
    JSON.parse(v);
    return JSON.stringify(v);
  } catch {
    return v;
  }
}

export function decodeValue(s: string): unknown {
  try {
    return JSON.parse(s);
  } catch {
    return s;
  }
}

const UNSAFE_KEYS = new Set(['__proto__', 'constructor', 'prototype']);

/** Sets obj.a.b.c = value for path "a.b.c", making tables on the way; false if it cannot. */
function setAt(obj: Obj, path: string, value: unknown): boolean {
  const parts = path.split('.');
  if (parts.some((p) => p === '' || UNSAFE_KEYS.has(p))) return false;
  let at = obj;
  for (const p of parts.slice(0, -1)) {
    if (at[p] === undefined) at[p] = {};
    if (!isObj(at[p])) return false;
    at = at[p] as Obj;
  }
  at[parts[parts.length - 1]!] = value;
  return true;
}

function byName(a: NameValue, b: NameValue): number {
  return a.name < b.name ? -1 : a.name > b.name ? 1 : 0;
}

/** Adds `tspod.dev/<prefix><key>` for each key of `obj` not in `mapped`. */
function annotateRest(out: NameValue[], obj: Obj, mapped: readonly string[], prefix = ''): void {
  for (const [k, v] of Object.entries(obj)) {
    if (!mapped.includes(k) && v !== undefined) out.push({ name: `${PREFIX}${prefix}${k}`, value: encodeValue(v) });
  }
}

// ---------------------------------------------------------------- parsing the inputs

/** Reads TOML text into a plain value, or a syntax error naming the file and position. */
export function parsePodToml(text: string, source: string): Result<Obj, TspodError> {
  let value: unknown;
  try {
    value = getStaticTOMLValue(parseTOML(text));
  } catch (e) {
    const pe = e as { lineNumber?: number; column?: number; message?: string };
    const where = pe.lineNumber !== undefined ? ` at line ${pe.lineNumber}, column ${(pe.column ?? 0) + 1}` : '';
    return err(tspodError(ErrorCodes.CONFIG, `read pod file ${source}`, `TOML syntax error${where}: ${pe.message ?? String(e)}`, 'fix the TOML syntax (`tspod lint FILE` shows every problem)', e));
  }
  return isObj(value) ? ok(value) : err(podFileError(source, 'the document is not a table', 'write a pod file as manifests/pod.schema.json describes'));
}

function podFileError(source: string, why: string, hint: string): TspodError {
  return tspodError(ErrorCodes.CONFIG, `convert pod file ${source}`, why, hint);
}

function manifestError(source: string, why: string, hint = 'give an appc pod manifest (acKind "PodManifest", spec pods.md)'): TspodError {
  return tspodError(ErrorCodes.MANIFEST_INVALID, `convert pod manifest ${source}`, why, hint);
}

/** Reads JSON text and checks it is shaped like a PodManifest (the fields this module reads). */
export function parsePodManifest(text: string, source: string): Result<Obj, TspodError> {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (e) {
    return err(manifestError(source, `not JSON: ${(e as Error).message}`, 'fix the JSON syntax'));
  }
  if (!isObj(value)) return err(manifestError(source, 'the document is not a JSON object'));
  if (value['acKind'] !== 'PodManifest') {
    return err(manifestError(source, `acKind is ${JSON.stringify(value['acKind'] ?? null)}, not "PodManifest"`, 'convert a pod manifest; an image manifest (ImageManifest) describes one image, not a pod'));
  }
  const problem = manifestShapeProblem(value);
  return problem ? err(manifestError(source, problem)) : ok(value);
}

function nameValueListProblem(v: unknown, where: string): string | undefined {
  if (v === undefined) return undefined;
  if (!Array.isArray(v)) return `${where} is not a list`;
  const bad = v.findIndex((x) => !isObj(x) || typeof x['name'] !== 'string' || typeof x['value'] !== 'string');
  return bad >= 0 ? `${where}[${bad}] is not {"name": string, "value": string}` : undefined;
}

function manifestShapeProblem(m: Obj): string | undefined {
  if (typeof m['acVersion'] !== 'string') return 'acVersion is missing or not a string';
  for (const key of ['apps', 'volumes', 'ports', 'isolators']) {
    if (m[key] !== undefined && !Array.isArray(m[key])) return `${key} is not a list`;
  }
  const apps = asArray(m['apps']);
  const bad = apps.findIndex((a) => !isObj(a) || typeof a['name'] !== 'string');
  if (bad >= 0) return `apps[${bad}] has no name`;
  const lists = [nameValueListProblem(m['annotations'], 'annotations'), ...apps.map((a, i) => nameValueListProblem(asObj(a)['annotations'], `apps[${i}].annotations`))];
  return lists.find((p) => p !== undefined);
}

// ---------------------------------------------------------------- TOML → appc

const NOT_APPC = /^(docker:\/\/|docker-archive:|oci:|oci-archive:|https?:\/\/|file:\/\/|\/|\.)/;

/** The appc image for a pod file image reference, or undefined when appc cannot name it. */
export function appcImage(ref: string): Obj | undefined {
  if (/^sha512-[0-9a-f]+$/.test(ref)) return { id: ref };
  if (NOT_APPC.test(ref) || ref.endsWith('.aci')) return undefined;
  const m = /^([^:@]+)(?::([^:@/]+))?$/.exec(ref);
  if (!m || !isAcIdentifier(m[1]!)) return undefined;
  return m[2] === undefined ? { name: m[1] } : { name: m[1], labels: [{ name: 'version', value: m[2] }] };
}

const POD_MAPPED = ['apiVersion', 'kind', 'labels', 'annotations', 'port', 'volume', 'app'];
const APP_MAPPED = ['name', 'image', 'exec', 'args', 'env', 'user', 'group', 'supplementary_gids', 'working_dir', 'workdir', 'read_only_rootfs', 'mount', 'resources', 'security'];

export function podFileToManifest(pod: Obj, source: string): Result<Converted<Obj>, TspodError> {
  const problem = podFileProblem(pod);
  if (problem) return err(podFileError(source, problem, 'fix the pod file (`tspod lint FILE`)'));
  const warnings: string[] = [];
  const annotations: NameValue[] = [];
  const userAnnotations: Record<string, string> = {};
  for (const [k, v] of Object.entries(asObj(pod['annotations']))) {
    if (isAcIdentifier(k) && !k.startsWith(PREFIX)) annotations.push({ name: k, value: String(v) });
    else userAnnotations[k] = String(v);
  }
  annotateRest(annotations, pod, POD_MAPPED);
  const manifest: Obj = { acKind: 'PodManifest', acVersion: AC_VERSION };
  manifest['apps'] = asArray(pod['app']).map((a) => appToRuntimeApp(asObj(a), warnings));
  const volumes = asArray(pod['volume']).map((v) => volumeToAppc(asObj(v), annotations, warnings));
  if (volumes.length > 0) manifest['volumes'] = volumes;
  const ports = asArray(pod['port']).map((p) => portToAppc(asObj(p), annotations));
  if (ports.length > 0) manifest['ports'] = ports;
  if (annotations.length > 0) manifest['annotations'] = annotations.sort(byName);
  if (isObj(pod['labels']) && Object.keys(pod['labels']).length > 0) manifest['userLabels'] = { ...pod['labels'] };
  if (Object.keys(userAnnotations).length > 0) manifest['userAnnotations'] = userAnnotations;
  return ok({ value: manifest, warnings });
}

/** The few shapes the conversion relies on; the full rules are the schema's (`tspod lint`). */
function podFileProblem(pod: Obj): string | undefined {
  if (pod['kind'] !== undefined && pod['kind'] !== 'Pod') return `kind is ${JSON.stringify(pod['kind'])}, not "Pod"`;
  const apps = pod['app'];
  if (!Array.isArray(apps) || apps.length === 0) return 'it has no [[app]]';
  const bad = apps.findIndex((a) => !isObj(a) || typeof a['name'] !== 'string' || typeof a['image'] !== 'string');
  if (bad >= 0) return `app ${bad + 1} needs a name and an image (strings)`;
  for (const key of ['volume', 'port']) {
    if (pod[key] !== undefined && !asArray(pod[key]).every(isObj)) return `${key} is not an array of tables`;
  }
  return undefined;
}

function appToRuntimeApp(a: Obj, warnings: string[]): Obj {
  const name = a['name'] as string;
  const ref = a['image'] as string;
  const annotations: NameValue[] = [];
  let image = appcImage(ref);
  if (!image) {
    image = {};
    annotations.push({ name: `${PREFIX}image`, value: ref });
    warnings.push(`app ${name}: image ${JSON.stringify(ref)} has no appc name or image ID; kept in the annotation ${PREFIX}image, which only tspod reads`);
  }
  const out: Obj = { name, image };
  const app = runtimeAppSection(a, annotations);
  if (app) out['app'] = app;
  if (typeof a['read_only_rootfs'] === 'boolean') out['readOnlyRootFS'] = a['read_only_rootfs'];
  const mounts = asArray(a['mount']).map(asObj);
  if (mounts.length > 0) out['mounts'] = mounts.map((m) => ({ volume: m['volume'], path: m['target'] }));
  const readOnly = mounts.filter((m) => m['read_only'] === true).map((m) => m['target']);
  if (readOnly.length > 0) annotations.push({ name: `${PREFIX}read-only-mounts`, value: JSON.stringify(readOnly) });
  annotateRest(annotations, a, APP_MAPPED);
  if (a['args'] !== undefined && a['exec'] === undefined) annotations.push({ name: `${PREFIX}args`, value: encodeValue(a['args']) });
  if (annotations.length > 0) out['annotations'] = annotations.sort(byName);
  return out;
}

/** The image-app override, or undefined when the pod file overrides nothing in it. */
function runtimeAppSection(a: Obj, annotations: NameValue[]): Obj | undefined {
  const app: Obj = {};
  if (Array.isArray(a['exec'])) app['exec'] = [...stringArray(a['exec']), ...stringArray(a['args'])];
  const isolators = appIsolators(a, annotations);
  const env = Object.entries(asObj(a['env'])).map(([n, v]) => ({ name: n, value: String(v) }));
  const workdir = a['working_dir'] ?? a['workdir'];
  const wanted = app['exec'] !== undefined || a['user'] !== undefined || a['group'] !== undefined || env.length > 0 || workdir !== undefined || a['supplementary_gids'] !== undefined || isolators.length > 0;
  if (!wanted) return undefined;
  // appc requires user and group whenever `app` is present; "0" is appc's (and docker2aci's) default.
  const defaulted = (['user', 'group'] as const).filter((k) => a[k] === undefined);
  if (defaulted.length > 0) annotations.push({ name: `${PREFIX}defaulted-ids`, value: defaulted.join(',') });
  app['user'] = String(a['user'] ?? '0');
  app['group'] = String(a['group'] ?? '0');
  if (a['supplementary_gids'] !== undefined) app['supplementaryGIDs'] = a['supplementary_gids'];
  if (env.length > 0) app['environment'] = env;
  if (typeof workdir === 'string') app['workingDirectory'] = workdir;
  if (isolators.length > 0) app['isolators'] = isolators;
  return app;
}

function appIsolators(a: Obj, annotations: NameValue[]): Obj[] {
  const out: Obj[] = [];
  const resources = asObj(a['resources']);
  if (typeof resources['memory'] === 'string') out.push({ name: 'resource/memory', value: { limit: resources['memory'] } });
  if (resources['cpu'] !== undefined) out.push({ name: 'resource/cpu', value: { limit: String(resources['cpu']) } });
  annotateRest(annotations, resources, ['memory', 'cpu'], 'resources.');
  const security = asObj(a['security']);
  if (typeof security['no_new_privileges'] === 'boolean') out.push({ name: 'os/linux/no-new-privileges', value: security['no_new_privileges'] });
  if (typeof security['oom_score_adj'] === 'number') out.push({ name: 'os/linux/oom-score-adj', value: security['oom_score_adj'] });
  out.push(...setIsolators('capabilities', asObj(security['capabilities']), annotations));
  out.push(...setIsolators('seccomp', asObj(security['seccomp']), annotations));
  annotateRest(annotations, security, ['no_new_privileges', 'oom_score_adj', 'capabilities', 'seccomp'], 'security.');
  return out;
}

/** capabilities/seccomp retain and remove lists; an empty set (actool refuses it) stays an annotation. */
function setIsolators(kind: 'capabilities' | 'seccomp', section: Obj, annotations: NameValue[]): Obj[] {
  const out: Obj[] = [];
  const used: string[] = [];
  for (const mode of ['retain', 'remove'] as const) {
    const set = stringArray(section[mode]);
    if (set.length === 0) continue;
    const value: Obj = { set };
    if (kind === 'seccomp' && typeof section['errno'] === 'string') value['errno'] = section['errno'];
    out.push({ name: `os/linux/${kind}-${mode}-set`, value });
    used.push(mode);
  }
  if (kind === 'seccomp' && out.length > 0) used.push('errno');
  annotateRest(annotations, section, used, `security.${kind}.`);
  return out;
}

// tmpfs: kind "empty" plus an annotation (not skipped), so the pod still starts under an appc
// executor, only without the memory backing; tspod reads the annotation back.
function volumeToAppc(v: Obj, annotations: NameValue[], warnings: string[]): Obj {
  const kind = v['kind'] === 'host' ? 'host' : 'empty';
  const out: Obj = { name: v['name'], kind };
  const copy: [string, string][] = [['source', 'source'], ['read_only', 'readOnly'], ['recursive', 'recursive'], ['mode', 'mode'], ['uid', 'uid'], ['gid', 'gid']];
  for (const [from, to] of copy) if (v[from] !== undefined) out[to] = v[from];
  const extras: Obj = {};
  if (v['kind'] !== 'host' && v['kind'] !== 'empty') extras['kind'] = v['kind'];
  for (const [k, val] of Object.entries(v)) if (!['name', 'kind', ...copy.map(([f]) => f)].includes(k)) extras[k] = val;
  if (Object.keys(extras).length > 0) annotations.push({ name: `${PREFIX}volume/${String(v['name'])}`, value: JSON.stringify(extras) });
  if (v['kind'] === 'tmpfs') warnings.push(`volume ${String(v['name'])}: appc has no tmpfs volumes; written as kind "empty" (a directory on disk under other executors) with the annotation ${PREFIX}volume/${String(v['name'])}`);
  return out;
}

function portToAppc(p: Obj, annotations: NameValue[]): Obj {
  const out: Obj = { name: p['name'], hostPort: p['host_port'] };
  if (p['host_ip'] !== undefined) out['hostIP'] = p['host_ip'];
  const extras: Obj = {};
  for (const [k, v] of Object.entries(p)) if (!['name', 'host_port', 'host_ip'].includes(k)) extras[k] = v;
  if (Object.keys(extras).length > 0) annotations.push({ name: `${PREFIX}port/${String(p['name'])}`, value: JSON.stringify(extras) });
  return out;
}

// ---------------------------------------------------------------- appc → TOML

/** Pod file keys the generic `tspod.dev/<path>` annotations must not overwrite. */
const POD_RESERVED = ['apiVersion', 'kind', 'name', ...POD_MAPPED];

export function manifestToPodFile(m: Obj, source: string, name: string | undefined): Result<Converted<Obj>, TspodError> {
  const warnings: string[] = [];
  const annotations = asArray(m['annotations']) as NameValue[];
  const podName = name ?? annotations.find((a) => a.name === `${PREFIX}name`)?.value;
  if (podName === undefined) {
    return err(tspodError(ErrorCodes.USAGE, `convert pod manifest ${source}`, `it has no ${PREFIX}name annotation, so the pod file has no name`, 'pass --name NAME'));
  }
  const pod: Obj = { apiVersion: 'tspod/v1', kind: 'Pod', name: podName };
  const extras = { port: new Map<string, Obj>(), volume: new Map<string, Obj>() };
  const podAnnotations: Record<string, string> = {};
  for (const a of annotations) readPodAnnotation(a, pod, podAnnotations, extras, warnings);
  Object.assign(podAnnotations, asObj(m['userAnnotations']));
  if (isObj(m['userLabels']) && Object.keys(m['userLabels']).length > 0) pod['labels'] = { ...m['userLabels'] };
  if (Object.keys(podAnnotations).length > 0) pod['annotations'] = podAnnotations;
  if (asArray(m['isolators']).length > 0) warnings.push('pod isolators dropped: the pod file sets limits per app');
  const ports = asArray(m['ports']).map((p) => portFromAppc(asObj(p), extras.port, warnings));
  if (ports.length > 0) pod['port'] = ports;
  const volumes = asArray(m['volumes']).map((v) => volumeFromAppc(asObj(v), extras.volume));
  if (volumes.length > 0) pod['volume'] = volumes;
  const apps: Obj[] = [];
  for (const a of asArray(m['apps'])) {
    const app = runtimeAppToApp(asObj(a), warnings);
    if (app.isErr()) return err(manifestError(source, app.error));
    apps.push(app.value);
  }
  if (apps.length === 0) return err(manifestError(source, 'it has no apps, and a pod file needs at least one [[app]]'));
  pod['app'] = apps;
  return ok({ value: pod, warnings });
}

function readPodAnnotation(a: NameValue, pod: Obj, podAnnotations: Record<string, string>, extras: { port: Map<string, Obj>; volume: Map<string, Obj> }, warnings: string[]): void {
  if (!a.name.startsWith(PREFIX)) {
    podAnnotations[a.name] = a.value;
    return;
  }
  const rest = a.name.slice(PREFIX.length);
  const entry = /^(port|volume)\/(.+)$/.exec(rest);
  if (entry) {
    extras[entry[1] as 'port' | 'volume'].set(entry[2]!, asObj(decodeValue(a.value)));
    return;
  }
  if (rest === 'name') return;
  if (POD_RESERVED.includes(rest.split('.')[0]!) || !setAt(pod, rest, decodeValue(a.value))) warnings.push(`annotation ${a.name} dropped: it would overwrite a field the manifest sets`);
}

function portFromAppc(p: Obj, extras: Map<string, Obj>, warnings: string[]): Obj {
  const out: Obj = { name: p['name'], host_port: p['hostPort'] };
  if (p['hostIP'] !== undefined) out['host_ip'] = p['hostIP'];
  if (p['podPort'] !== undefined) warnings.push(`port ${String(p['name'])}: podPort dropped (the pod file forwards to the app port of that name)`);
  return { ...out, ...extras.get(String(p['name'])) };
}

function volumeFromAppc(v: Obj, extras: Map<string, Obj>): Obj {
  const out: Obj = { name: v['name'], kind: v['kind'] };
  const copy: [string, string][] = [['source', 'source'], ['readOnly', 'read_only'], ['recursive', 'recursive'], ['mode', 'mode'], ['uid', 'uid'], ['gid', 'gid']];
  for (const [from, to] of copy) if (v[from] !== undefined && v[from] !== null) out[to] = v[from];
  return { ...out, ...extras.get(String(v['name'])) };
}

function runtimeAppToApp(ra: Obj, warnings: string[]): Result<Obj, string> {
  const name = String(ra['name']);
  const annotations = asArray(ra['annotations']) as NameValue[];
  const special = (n: string): string | undefined => annotations.find((a) => a.name === `${PREFIX}${n}`)?.value;
  const image = special('image') ?? imageRef(asObj(ra['image']), name, warnings);
  if (image === undefined) return err(`app ${name} has neither image.id nor image.name`);
  const app: Obj = { name, image };
  readAppSection(asObj(ra['app']), app, (special('defaulted-ids') ?? '').split(','), name, warnings);
  if (typeof ra['readOnlyRootFS'] === 'boolean') app['read_only_rootfs'] = ra['readOnlyRootFS'];
  const readOnly = new Set(asArray(decodeValue(special('read-only-mounts') ?? '[]')));
  const mounts = asArray(ra['mounts']).map(asObj);
  if (mounts.some((mt) => mt['appVolume'] !== undefined)) warnings.push(`app ${name}: appVolume dropped from its mounts (declare a [[volume]] instead)`);
  if (mounts.length > 0) app['mount'] = mounts.map((mt) => (readOnly.has(mt['path']) ? { volume: mt['volume'], target: mt['path'], read_only: true } : { volume: mt['volume'], target: mt['path'] }));
  for (const a of annotations) readAppAnnotation(a, app, name, warnings);
  return ok(app);
}

const APP_SPECIAL = ['image', 'defaulted-ids', 'read-only-mounts'];

function readAppAnnotation(a: NameValue, app: Obj, appName: string, warnings: string[]): void {
  if (!a.name.startsWith(PREFIX)) {
    warnings.push(`app ${appName}: annotation ${a.name} dropped (pod file apps have no annotations)`);
    return;
  }
  const rest = a.name.slice(PREFIX.length);
  if (APP_SPECIAL.includes(rest)) return;
  const top = rest.split('.')[0]!;
  const clobbers = APP_MAPPED.includes(top) && !['args', 'resources', 'security'].includes(top);
  if (clobbers || !setAt(app, rest, decodeValue(a.value))) warnings.push(`app ${appName}: annotation ${a.name} dropped: it would overwrite a field the manifest sets`);
}

function imageRef(image: Obj, appName: string, warnings: string[]): string | undefined {
  const labels = asArray(image['labels']).map(asObj);
  const version = labels.find((l) => l['name'] === 'version')?.['value'];
  const others = labels.filter((l) => l['name'] !== 'version').map((l) => String(l['name']));
  if (typeof image['id'] === 'string' && image['id'] !== '') {
    if (image['name'] !== undefined) warnings.push(`app ${appName}: image name ${String(image['name'])} dropped; the image ID pins it`);
    return image['id'];
  }
  if (typeof image['name'] !== 'string') return undefined;
  if (others.length > 0) warnings.push(`app ${appName}: image labels ${others.join(', ')} dropped (a pod file image names only name:version)`);
  return typeof version === 'string' ? `${image['name']}:${version}` : image['name'];
}

function readAppSection(app: Obj, out: Obj, defaulted: string[], appName: string, warnings: string[]): void {
  if (Array.isArray(app['exec'])) out['exec'] = app['exec'];
  for (const k of ['user', 'group'] as const) {
    const v = app[k];
    if (typeof v === 'string' && !defaulted.includes(k)) out[k] = /^\d+$/.test(v) ? Number(v) : v;
  }
  const gids = app['supplementaryGIDs'] ?? app['supplementaryGids'];
  if (Array.isArray(gids)) out['supplementary_gids'] = gids;
  const env = asArray(app['environment']).map(asObj);
  if (env.length > 0) out['env'] = Object.fromEntries(env.map((e) => [String(e['name']), String(e['value'])]));
  if (typeof app['workingDirectory'] === 'string') out['working_dir'] = app['workingDirectory'];
  for (const iso of asArray(app['isolators']).map(asObj)) readIsolator(iso, out, appName, warnings);
  for (const k of ['eventHandlers', 'mountPoints', 'ports', 'userLabels', 'userAnnotations']) {
    if (app[k] !== undefined) warnings.push(`app ${appName}: app.${k} dropped (no pod file equivalent)`);
  }
}

function readIsolator(iso: Obj, out: Obj, appName: string, warnings: string[]): void {
  const name = String(iso['name']);
  const value = iso['value'];
  const v = asObj(value);
  const set = (path: string, x: unknown): void => void setAt(out, path, x);
  const sets = /^os\/linux\/(capabilities|seccomp)-(retain|remove)-set$/.exec(name);
  if (name === 'resource/memory' && v['limit'] !== undefined) set('resources.memory', String(v['limit']));
  else if (name === 'resource/cpu' && v['limit'] !== undefined) set('resources.cpu', String(v['limit']));
  else if (name === 'os/linux/no-new-privileges' && typeof value === 'boolean') set('security.no_new_privileges', value);
  else if (name === 'os/linux/oom-score-adj' && typeof value === 'number') set('security.oom_score_adj', value);
  else if (sets) {
    set(`security.${sets[1]}.${sets[2]}`, stringArray(v['set']));
    if (sets[1] === 'seccomp' && typeof v['errno'] === 'string') set('security.seccomp.errno', v['errno']);
  } else {
    warnings.push(`app ${appName}: isolator ${name} dropped (no pod file equivalent)`);
    return;
  }
  if (name.startsWith('resource/') && v['request'] !== undefined) warnings.push(`app ${appName}: ${name} request dropped (the pod file sets limits only)`);
}

// ---------------------------------------------------------------- emitting TOML

/**
 * TOML text for a pod file. @iarna/toml writes integers with `_` every three digits (8_080);
 * they are removed where they stand as bare values, and the result is kept only if it reads
 * back to the same value (a string that happened to look like `= 1_000` would fail that).
 */
export function stringifyPodToml(pod: Obj): Result<string, TspodError> {
  let text: string;
  try {
    text = TOML.stringify(pod as TOML.JsonMap);
  } catch (e) {
    return err(tspodError(ErrorCodes.INTERNAL, 'write the pod file as TOML', (e as Error).message, 'report this with the input manifest', e));
  }
  const plain = text.replace(/(?<=(?:= |\[ |, ))(-?\d{1,3}(?:_\d{3})+)(?=(?: \]|,|\n))/g, (n) => n.replaceAll('_', ''));
  const chosen = sameValue(plain, text) ? plain : text;
  return ok(chosen.endsWith('\n') ? chosen : `${chosen}\n`);
}

function sameValue(a: string, b: string): boolean {
  try {
    return JSON.stringify(getStaticTOMLValue(parseTOML(a))) === JSON.stringify(getStaticTOMLValue(parseTOML(b)));
  } catch {
    return false;
  }
}
