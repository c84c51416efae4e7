// The appc Image Manifest (schema 0.8.11, /work/shared/reference/appc.md §2): parsing and
// validation in plain TypeScript (JSON.parse + field checks; a WASM round trip would cost ten
// times more for a document this small).
//
// Verdicts follow Debian's actool 0.8.11 wherever appc.md records them, with these deliberate
// differences, all named in the problem messages:
// - stricter where the spec says so and actool does not check: required fields (label and
//   environment `value`, port `name`/`protocol`, mountPoint `name`/`path`, isolator `value`),
//   absolute mountPoint paths, port `count` >= 1, unsigned supplementary GIDs, non-negative
//   resource quantities, the AC Identifier / AC Name regular expressions (no doubled
//   separators), SemVer without leading zeros, no capabilities retain and remove sets together;
// - lenient where appc.md says tspod should warn, not fail: isolators the 0.8.11 schema does not
//   know (actool refuses them) are warnings, and so are relative pathWhitelist entries (actool
//   accepts them), unknown fields, unusual port protocols and image IDs that are not hex.
// - one known limitation: JSON.parse reads `80.0` as 80, so a whole number written with a
//   fraction is accepted where Go refuses it for an integer field.
// Field names match case-insensitively, as Go's encoding/json does (the spec's own example spells
// `supplementaryGids`); `null` stands for an absent optional field, as in Go.
import { ErrorCodes, tspodError, type TspodError } from '../errors.js';
import { err, ok, type Result } from '../result.js';
import { acIdentifierProblem, acNameProblem, osArchProblem, semverProblem } from './types.js';

/** A manifest larger than this is refused before it is parsed. */
export const MAX_MANIFEST_BYTES = 1 << 20;

export interface Label {
  readonly name: string;
  readonly value: string;
}

export type Annotation = Label;

export interface EventHandler {
  readonly name: 'pre-start' | 'post-stop';
  readonly exec: readonly string[];
}

export interface EnvironmentVariable {
  readonly name: string;
  readonly value: string;
}

export interface MountPoint {
  readonly name: string;
  readonly path: string;
  readonly readOnly: boolean;
}

export interface Port {
  readonly name: string;
  readonly protocol: string;
  readonly port: number;
  /** Ports port .. port+count-1; 1 when the manifest leaves it out. */
  readonly count: number;
  readonly socketActivated: boolean;
}

export interface Isolator {
  readonly name: string;
  /** The value as written (its shape depends on the isolator; checked for the known ones). */
  readonly value: unknown;
}

export interface App {
  /** Empty when the image gives no command (a pod manifest must then give one). */
  readonly exec: readonly string[];
  readonly eventHandlers: readonly EventHandler[];
  readonly user: string;
  readonly group: string;
  readonly supplementaryGIDs: readonly number[];
  /** Absolute; "/" when the manifest leaves it out. */
  readonly workingDirectory: string;
  readonly environment: readonly EnvironmentVariable[];
  readonly mountPoints: readonly MountPoint[];
  readonly ports: readonly Port[];
  readonly isolators: readonly Isolator[];
  readonly userAnnotations: Readonly<Record<string, string>>;
  readonly userLabels: Readonly<Record<string, string>>;
}

export interface Dependency {
  readonly imageName: string;
  readonly imageID?: string;
  readonly labels: readonly Label[];
  readonly size?: number;
}

/**
 * A valid image manifest, normalised: canonical field names, defaults filled in (empty lists,
 * port count 1, workingDirectory "/"), unknown fields dropped. Keep the manifest's bytes when
 * they must be reproduced exactly (the image ID covers them).
 */
export interface ImageManifest {
  readonly acKind: 'ImageManifest';
  readonly acVersion: string;
  readonly name: string;
  readonly labels: readonly Label[];
  readonly app?: App;
  readonly dependencies: readonly Dependency[];
  readonly pathWhitelist: readonly string[];
  readonly annotations: readonly Annotation[];
}

export interface ManifestProblem {
  /** JSON pointer (RFC 6901) to the offending value, as spelled in the document; "" = the whole document. */
  readonly path: string;
  readonly message: string;
  /** Errors make the manifest invalid; warnings are reported and the manifest is used. */
  readonly severity: 'error' | 'warning';
  /** What to change, when there is more to say than the message. */
  readonly fix?: string;
}

export interface CheckedManifest {
  readonly manifest: ImageManifest;
  readonly warnings: readonly ManifestProblem[];
}

// ---------------------------------------------------------------------------------------------
// JSON helpers

type Json = null | boolean | number | string | Json[] | { [key: string]: Json };
type JsonObject = { [key: string]: Json };

function describe(v: unknown): string {
  if (v === null) return 'null';
  if (Array.isArray(v)) return 'a list';
  switch (typeof v) {
    case 'object':
      return 'an object';
    case 'string':
      return `the string ${clip(JSON.stringify(v))}`;
    case 'number':
      return `the number ${v}`;
    case 'boolean':
      return `${v}`;
    default:
      return typeof v;
  }
}

function clip(s: string, max = 60): string {
  return s.length > max ? `${s.slice(0, max - 1)}…` : s;
}

function pointer(base: string, key: string | number): string {
  return `${base}/${String(key).replace(/~/g, '~0').replace(/\//g, '~1')}`;
}

function isObject(v: unknown): v is JsonObject {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

// ---------------------------------------------------------------------------------------------
// The checker: walks the document, collects problems, builds the normalised manifest.

const FIX_AC_IDENTIFIER = 'use lower-case letters and digits with single "-._~/" between them, e.g. "example.com/my-app"';
const FIX_AC_NAME = 'use lower-case letters and digits with single "-" between them, e.g. "data-dir"';

interface Field {
  readonly key: string;
  readonly value: Json;
}

class Checker {
  readonly problems: ManifestProblem[] = [];

  error(path: string, message: string, fix?: string): void {
    this.problems.push(fix === undefined ? { path, message, severity: 'error' } : { path, message, severity: 'error', fix });
  }

  warn(path: string, message: string, fix?: string): void {
    this.problems.push(fix === undefined ? { path, message, severity: 'warning' } : { path, message, severity: 'warning', fix });
  }

  /**
   * The object's fields by canonical name, matched case-insensitively (the last spelling in the
   * document wins, as in Go); unknown fields are warned about. `null` values are skipped.
   */
  fields(obj: JsonObject, path: string, known: readonly string[], what: string): Map<string, Field> {
    const byLower = new Map(known.map((k) => [k.toLowerCase(), k]));
    const out = new Map<string, Field>();
    for (const key of Object.keys(obj)) {
      const canonical = byLower.get(key.toLowerCase());
      if (canonical === undefined) {
        this.warn(pointer(path, key), `unknown field ${JSON.stringify(key)} in ${what} is ignored`,
          `the fields of ${what} are: ${known.join(', ')}`);
        continue;
      }
      const value = obj[key]!;
      // Go leaves a field untouched when it reads null, so an earlier spelling keeps its value.
      if (value !== null) out.set(canonical, { key, value });
    }
    return out;
  }

  at(path: string, f: Field): string {
    return pointer(path, f.key);
  }

  /** A string field; reports and returns undefined when absent (if required) or of another type. */
  string(fields: Map<string, Field>, name: string, path: string, required: boolean): string | undefined {
    const f = fields.get(name);
    if (f === undefined) {
      if (required) this.error(pointer(path, name), `${name} is required`);
      return undefined;
    }
    if (typeof f.value !== 'string') {
      this.error(this.at(path, f), `${name} must be a string, not ${describe(f.value)}`);
      return undefined;
    }
    return f.value;
  }

  boolean(fields: Map<string, Field>, name: string, path: string): boolean | undefined {
    const f = fields.get(name);
    if (f === undefined) return undefined;
    if (typeof f.value !== 'boolean') {
      this.error(this.at(path, f), `${name} must be true or false, not ${describe(f.value)}`);
      return undefined;
    }
    return f.value;
  }

  /** A whole number in [min, max]; reports and returns undefined otherwise. */
  integer(fields: Map<string, Field>, name: string, path: string, min: number, max: number, required: boolean): number | undefined {
    const f = fields.get(name);
    if (f === undefined) {
      if (required) this.error(pointer(path, name), `${name} is required`);
      return undefined;
    }
    const p = this.at(path, f);
    if (typeof f.value !== 'number' || !Number.isInteger(f.value)) {
      this.error(p, `${name} must be a whole number, not ${describe(f.value)}`);
      return undefined;
    }
    if (f.value < min || f.value > max) {
      this.error(p, `${name} ${f.value} is out of range (${min}-${max})`);
      return undefined;
    }
    return f.value;
  }

  /** A list field: returns its elements with their pointers, or [] (reported when not a list). */
  list(fields: Map<string, Field>, name: string, path: string): Array<{ value: Json; path: string }> {
    const f = fields.get(name);
    if (f === undefined) return [];
    const p = this.at(path, f);
    if (!Array.isArray(f.value)) {
      this.error(p, `${name} must be a list, not ${describe(f.value)}`);
      return [];
    }
    return f.value.map((value, i) => ({ value, path: pointer(p, i) }));
  }

  stringList(fields: Map<string, Field>, name: string, path: string): string[] {
    const out: string[] = [];
    for (const item of this.list(fields, name, path)) {
      if (typeof item.value === 'string') out.push(item.value);
      else this.error(item.path, `${name} entries must be strings, not ${describe(item.value)}`);
    }
    return out;
  }

  /** An object of string values (userAnnotations, userLabels, sysctl). */
  stringMap(value: Json, path: string, name: string): Record<string, string> {
    const out: Record<string, string> = {};
    if (!isObject(value)) {
      this.error(path, `${name} must be an object of strings, not ${describe(value)}`);
      return out;
    }
    for (const [k, v] of Object.entries(value)) {
      if (typeof v === 'string') out[k] = v;
      else this.error(pointer(path, k), `${name} values must be strings, not ${describe(v)}`);
    }
    return out;
  }

  acIdentifier(value: string, path: string, what: string): boolean {
    const problem = acIdentifierProblem(value);
    if (problem !== undefined) this.error(path, `${what}: ${problem}`, FIX_AC_IDENTIFIER);
    return problem === undefined;
  }

  acName(value: string, path: string, what: string): boolean {
    const problem = acNameProblem(value);
    if (problem !== undefined) this.error(path, `${what}: ${problem}`, FIX_AC_NAME);
    return problem === undefined;
  }

  /** Elements of a list that must be objects; non-objects are reported and skipped. */
  objects(fields: Map<string, Field>, name: string, path: string): Array<{ obj: JsonObject; path: string }> {
    const out: Array<{ obj: JsonObject; path: string }> = [];
    for (const item of this.list(fields, name, path)) {
      if (isObject(item.value)) out.push({ obj: item.value, path: item.path });
      else this.error(item.path, `${name} entries must be objects, not ${describe(item.value)}`);
    }
    return out;
  }
}

// ---------------------------------------------------------------------------------------------
// Labels, annotations, dates and URLs

/** Name/value lists (labels, annotations): AC Identifier names, unique, string values. */
function nameValueList(c: Checker, fields: Map<string, Field>, key: string, path: string, what: string): Array<Label & { path: string }> {
  const out: Array<Label & { path: string }> = [];
  const seen = new Set<string>();
  for (const { obj, path: p } of c.objects(fields, key, path)) {
    const f = c.fields(obj, p, ['name', 'value'], `a ${what}`);
    const name = c.string(f, 'name', p, true);
    const value = c.string(f, 'value', p, true);
    if (name === undefined) continue;
    const namePath = pointer(p, f.get('name')!.key);
    if (!c.acIdentifier(name, namePath, `${what} name`)) continue;
    if (seen.has(name)) {
      c.error(namePath, `duplicate ${what} ${JSON.stringify(name)}: ${what} names must be unique`);
      continue;
    }
    seen.add(name);
    if (value !== undefined) out.push({ name, value, path: p });
  }
  return out;
}

function labels(c: Checker, fields: Map<string, Field>, path: string): Label[] {
  const list = nameValueList(c, fields, 'labels', path, 'label');
  const result: Label[] = [];
  let os: { value: string; path: string } | undefined;
  let arch: { value: string; path: string } | undefined;
  for (const l of list) {
    if (l.name === 'name') {
      c.error(pointer(l.path, 'name'), 'a label cannot be called "name" (the image name is the top-level name field)');
      continue;
    }
    if (l.name === 'os') os = { value: l.value, path: pointer(l.path, 'value') };
    if (l.name === 'arch') arch = { value: l.value, path: pointer(l.path, 'value') };
    result.push({ name: l.name, value: l.value });
  }
  const problem = osArchProblem(os?.value, arch?.value);
  if (problem !== undefined) {
    const archProblem = os !== undefined && arch !== undefined && problem.startsWith('unknown arch');
    c.error((archProblem ? arch : os)!.path, problem, 'use appc spellings: os linux, freebsd or darwin; arch e.g. amd64, aarch64, armv7l');
  }
  return result;
}

const DAYS_IN_MONTH = [31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31];

/** Why s is not an RFC 3339 timestamp (as Go's time.RFC3339 parses it), or undefined. */
export function rfc3339Problem(s: string): string | undefined {
  const m = /^(\d{4})-(\d{2})-(\d{2})T(\d{2}):(\d{2}):(\d{2})(\.\d+)?(Z|[+-](\d{2}):(\d{2}))$/.exec(s);
  const bad = `${clip(JSON.stringify(s))} is not an RFC 3339 timestamp such as "2017-09-19T12:00:00Z"`;
  if (!m) return bad;
  const [year, month, day, hour, minute, second] = m.slice(1, 7).map(Number) as [number, number, number, number, number, number];
  const leap = (year % 4 === 0 && year % 100 !== 0) || year % 400 === 0;
  const days = month === 2 && leap ? 29 : DAYS_IN_MONTH[month - 1];
  if (days === undefined || day < 1 || day > days || hour > 23 || minute > 59 || second > 59) return `${bad}: a field is out of range`;
  if (m[9] !== undefined && (Number(m[9]) > 23 || Number(m[10]) > 59)) return `${bad}: the time zone offset is out of range`;
  return undefined;
}

function httpUrlProblem(s: string): string | undefined {
  let u: URL;
  try {
    u = new URL(s);
  } catch {
    return `${clip(JSON.stringify(s))} is not a URL`;
  }
  if (u.protocol !== 'http:' && u.protocol !== 'https:') return `${clip(JSON.stringify(s))} must be an http or https URL`;
  return undefined;
}

function annotations(c: Checker, fields: Map<string, Field>, path: string): Annotation[] {
  const result: Annotation[] = [];
  for (const a of nameValueList(c, fields, 'annotations', path, 'annotation')) {
    const valuePath = pointer(a.path, 'value');
    if (a.name === 'created') {
      const problem = rfc3339Problem(a.value);
      if (problem !== undefined) c.error(valuePath, `annotation "created": ${problem}`);
    } else if (a.name === 'homepage' || a.name === 'documentation') {
      const problem = httpUrlProblem(a.value);
      if (problem !== undefined) c.error(valuePath, `annotation ${JSON.stringify(a.name)}: ${problem}`);
    } else if (a.name === 'appc.io/executor/supports-systemd-notify' && a.value !== 'true' && a.value !== 'false') {
      c.warn(valuePath, `annotation ${JSON.stringify(a.name)} should be "true" or "false", not ${clip(JSON.stringify(a.value))}`);
    }
    result.push({ name: a.name, value: a.value });
  }
  return result;
}

// ---------------------------------------------------------------------------------------------
// Isolators (ace.md 0.8.11 and the Go schema's registered types)

const QUANTITY_RE = /^[+-]?(?:\d+(?:\.\d*)?|\.\d+)(?:[numkMGTPE]|[KMGTPE]i|[eE][+-]?\d+)?$/;

function quantity(c: Checker, fields: Map<string, Field>, name: string, path: string): void {
  const f = fields.get(name);
  if (f === undefined) return;
  const p = c.at(path, f);
  let text: string;
  if (typeof f.value === 'string') text = f.value.trim();
  else if (typeof f.value === 'number') text = String(f.value);
  else {
    c.error(p, `${name} must be a quantity such as "500m", "1G" or "512Mi", not ${describe(f.value)}`);
    return;
  }
  if (!QUANTITY_RE.test(text)) {
    c.error(p, `${name} ${clip(JSON.stringify(text))} is not a quantity: a number with an optional suffix n, u, m, k, M, G, T, P, E, Ki, Mi, Gi, Ti, Pi, Ei or an exponent (e.g. "500m", "1G", "512Mi")`);
  } else if (text.startsWith('-')) {
    c.error(p, `${name} ${clip(JSON.stringify(text))} is negative`);
  }
}

function objectValue(c: Checker, value: Json, path: string, isolator: string, known: readonly string[]): Map<string, Field> | undefined {
  if (!isObject(value)) {
    c.error(path, `the value of ${isolator} must be an object with ${known.join(', ')}, not ${describe(value)}`);
    return undefined;
  }
  return c.fields(value, path, known, `the value of ${isolator}`);
}

function nonEmptySet(c: Checker, fields: Map<string, Field>, path: string, isolator: string): void {
  const f = fields.get('set');
  if (f === undefined) {
    c.error(pointer(path, 'set'), `${isolator} needs a non-empty set`);
    return;
  }
  c.stringList(fields, 'set', path);
  if (Array.isArray(f.value) && f.value.length === 0) c.error(c.at(path, f), `the set of ${isolator} must not be empty`);
}

function resourceValue(c: Checker, value: Json, path: string, isolator: string, defaultMustBe: boolean): void {
  const f = objectValue(c, value, path, isolator, ['default', 'request', 'limit']);
  if (!f) return;
  const dflt = c.boolean(f, 'default', path) ?? false;
  if (dflt !== defaultMustBe) {
    c.error(f.has('default') ? c.at(path, f.get('default')!) : pointer(path, 'default'), `${isolator} needs "default": ${defaultMustBe}`);
  }
  if (defaultMustBe && f.has('request')) c.error(c.at(path, f.get('request')!), `${isolator} takes no request, only a limit`);
  quantity(c, f, 'request', path);
  quantity(c, f, 'limit', path);
}

interface IsolatorKind {
  /** At most one per app. */
  readonly single: boolean;
  /** Names it cannot be combined with. */
  readonly conflicts?: readonly string[];
  readonly check: (c: Checker, value: Json, path: string, name: string) => void;
}

const CAPS_RETAIN = 'os/linux/capabilities-retain-set';
const CAPS_REMOVE = 'os/linux/capabilities-remove-set';
const SECCOMP_RETAIN = 'os/linux/seccomp-retain-set';
const SECCOMP_REMOVE = 'os/linux/seccomp-remove-set';

const capabilitySet = (c: Checker, value: Json, path: string, name: string): void => {
  const f = objectValue(c, value, path, name, ['set']);
  if (f) nonEmptySet(c, f, path, name);
};

const seccompSet = (c: Checker, value: Json, path: string, name: string): void => {
  const f = objectValue(c, value, path, name, ['set', 'errno']);
  if (!f) return;
  nonEmptySet(c, f, path, name);
  const errno = c.string(f, 'errno', path, false);
  if (errno !== undefined && errno !== '' && !/^E[A-Z0-9]*$/.test(errno)) {
    c.error(c.at(path, f.get('errno')!), `errno ${clip(JSON.stringify(errno))} must be an upper-case errno name such as "EPERM"`);
  }
};

const intValue = (min: number, max: number) => (c: Checker, value: Json, path: string, name: string): void => {
  if (typeof value !== 'number' || !Number.isInteger(value)) c.error(path, `the value of ${name} must be a whole number, not ${describe(value)}`);
  else if (value < min || value > max) c.error(path, `the value of ${name} must be between ${min} and ${max}, not ${value}`);
};

const KNOWN_ISOLATORS: Readonly<Record<string, IsolatorKind>> = {
  [CAPS_RETAIN]: { single: false, conflicts: [CAPS_REMOVE], check: capabilitySet },
  [CAPS_REMOVE]: { single: false, conflicts: [CAPS_RETAIN], check: capabilitySet },
  [SECCOMP_RETAIN]: { single: true, conflicts: [SECCOMP_REMOVE], check: seccompSet },
  [SECCOMP_REMOVE]: { single: true, conflicts: [SECCOMP_RETAIN], check: seccompSet },
  'os/linux/no-new-privileges': {
    single: false,
    check: (c, value, path, name) => {
      if (typeof value !== 'boolean') c.error(path, `the value of ${name} must be true or false, not ${describe(value)}`);
    },
  },
  'os/linux/oom-score-adj': { single: true, check: intValue(-1000, 1000) },
  'os/linux/cpu-shares': { single: true, check: intValue(2, 262144) },
  'os/linux/selinux-context': {
    single: true,
    check: (c, value, path, name) => {
      const f = objectValue(c, value, path, name, ['user', 'role', 'type', 'level']);
      if (!f) return;
      for (const part of ['user', 'role', 'type', 'level']) {
        const v = c.string(f, part, path, true);
        if (v === undefined) continue;
        if (v === '' || (part !== 'level' && v.includes(':'))) {
          c.error(c.at(path, f.get(part)!), `the SELinux ${part} ${JSON.stringify(v)} is invalid: it must be non-empty${part !== 'level' ? ' and hold no ":"' : ''}`);
        }
      }
    },
  },
  'os/unix/sysctl': { single: true, check: (c, value, path, name) => void c.stringMap(value, path, `the value of ${name}`) },
  'resource/cpu': { single: false, check: (c, v, p, n) => resourceValue(c, v, p, n, false) },
  'resource/memory': { single: false, check: (c, v, p, n) => resourceValue(c, v, p, n, false) },
  'resource/block-bandwidth': { single: false, check: (c, v, p, n) => resourceValue(c, v, p, n, true) },
  'resource/block-iops': { single: false, check: (c, v, p, n) => resourceValue(c, v, p, n, true) },
  'resource/network-bandwidth': { single: false, check: (c, v, p, n) => resourceValue(c, v, p, n, true) },
};

function isolators(c: Checker, fields: Map<string, Field>, path: string): Isolator[] {
  const result: Isolator[] = [];
  const seen = new Map<string, string>();
  for (const { obj, path: p } of c.objects(fields, 'isolators', path)) {
    const f = c.fields(obj, p, ['name', 'value'], 'an isolator');
    const name = c.string(f, 'name', p, true);
    if (name === undefined || !c.acIdentifier(name, pointer(p, f.get('name')!.key), 'isolator name')) continue;
    const valueField = f.get('value');
    const kind = KNOWN_ISOLATORS[name];
    if (kind === undefined) {
      c.warn(pointer(p, f.get('name')!.key), `isolator ${JSON.stringify(name)} is not one appc 0.8.11 defines; tspod will ignore it`,
        'check the spelling; known isolators: ' + Object.keys(KNOWN_ISOLATORS).join(', '));
    } else if (valueField === undefined) {
      c.error(pointer(p, 'value'), `isolator ${name} needs a value`);
      continue;
    } else {
      kind.check(c, valueField.value, c.at(p, valueField), name);
      if (kind.single && seen.has(name)) c.error(p, `isolator ${name} may appear only once (first at ${seen.get(name)})`);
      for (const other of kind.conflicts ?? []) {
        if (seen.has(other)) c.error(p, `isolators ${other} (at ${seen.get(other)}) and ${name} exclude each other`, 'keep either the retain set or the remove set');
      }
    }
    if (!seen.has(name)) seen.set(name, p);
    result.push({ name, value: valueField?.value ?? null });
  }
  return result;
}

// ---------------------------------------------------------------------------------------------
// app

const APP_FIELDS = ['exec', 'eventHandlers', 'user', 'group', 'supplementaryGIDs', 'workingDirectory', 'environment',
  'mountPoints', 'ports', 'isolators', 'userAnnotations', 'userLabels'] as const;

const ENV_NAME_RE = /^[A-Za-z_][A-Za-z_0-9.-]*$/;
const KNOWN_PROTOCOLS = new Set(['tcp', 'udp']);

function eventHandlers(c: Checker, fields: Map<string, Field>, path: string): EventHandler[] {
  const out: EventHandler[] = [];
  const seen = new Set<string>();
  for (const { obj, path: p } of c.objects(fields, 'eventHandlers', path)) {
    const f = c.fields(obj, p, ['name', 'exec'], 'an event handler');
    const name = c.string(f, 'name', p, true);
    const exec = c.stringList(f, 'exec', p);
    if (name === undefined) continue;
    const namePath = c.at(p, f.get('name')!);
    if (name !== 'pre-start' && name !== 'post-stop') {
      c.error(namePath, `event handler ${clip(JSON.stringify(name))} is unknown: it must be "pre-start" or "post-stop"`);
      continue;
    }
    if (seen.has(name)) {
      c.error(namePath, `a second ${name} event handler: there may be only one of each`);
      continue;
    }
    seen.add(name);
    out.push({ name, exec });
  }
  return out;
}

function environment(c: Checker, fields: Map<string, Field>, path: string): EnvironmentVariable[] {
  const out: EnvironmentVariable[] = [];
  const seen = new Set<string>();
  for (const { obj, path: p } of c.objects(fields, 'environment', path)) {
    const f = c.fields(obj, p, ['name', 'value'], 'an environment variable');
    const name = c.string(f, 'name', p, true);
    const value = c.string(f, 'value', p, true);
    if (name === undefined) continue;
    const namePath = c.at(p, f.get('name')!);
    if (!ENV_NAME_RE.test(name)) {
      c.error(namePath, `${clip(JSON.stringify(name))} is not a valid environment variable name`,
        'use letters, digits, "_", "." and "-", not starting with a digit, and put the value in "value"');
      continue;
    }
    if (seen.has(name)) {
      c.error(namePath, `environment variable ${name} is given twice`);
      continue;
    }
    seen.add(name);
    if (value !== undefined) out.push({ name, value });
  }
  return out;
}

function mountPoints(c: Checker, fields: Map<string, Field>, path: string): MountPoint[] {
  const out: MountPoint[] = [];
  const seen = new Set<string>();
  for (const { obj, path: p } of c.objects(fields, 'mountPoints', path)) {
    const f = c.fields(obj, p, ['name', 'path', 'readOnly'], 'a mount point');
    const name = c.string(f, 'name', p, true);
    const mpath = c.string(f, 'path', p, true);
    const readOnly = c.boolean(f, 'readOnly', p) ?? false;
    const nameOk = name !== undefined && c.acName(name, c.at(p, f.get('name')!), 'mount point name');
    if (mpath !== undefined && !mpath.startsWith('/')) {
      c.error(c.at(p, f.get('path')!), `mount point path ${clip(JSON.stringify(mpath))} must be absolute (start with /)`);
    }
    if (nameOk && name !== undefined) {
      if (seen.has(name)) c.warn(c.at(p, f.get('name')!), `mount point name ${name} is used twice; a pod mounts both from one volume`);
      seen.add(name);
      if (mpath !== undefined) out.push({ name, path: mpath, readOnly });
    }
  }
  return out;
}

function ports(c: Checker, fields: Map<string, Field>, path: string): Port[] {
  const out: Port[] = [];
  const seen = new Set<string>();
  for (const { obj, path: p } of c.objects(fields, 'ports', path)) {
    const f = c.fields(obj, p, ['name', 'protocol', 'port', 'count', 'socketActivated'], 'a port');
    const name = c.string(f, 'name', p, true);
    const protocol = c.string(f, 'protocol', p, true);
    const port = c.integer(f, 'port', p, 1, 65535, true);
    const count = c.integer(f, 'count', p, 1, 65535, false) ?? (f.has('count') ? undefined : 1);
    const socketActivated = c.boolean(f, 'socketActivated', p) ?? false;
    const nameOk = name !== undefined && c.acName(name, c.at(p, f.get('name')!), 'port name');
    if (protocol !== undefined && !KNOWN_PROTOCOLS.has(protocol)) {
      c.warn(c.at(p, f.get('protocol')!), `protocol ${clip(JSON.stringify(protocol))} is neither "tcp" nor "udp"; tspod cannot forward it`);
    }
    if (port !== undefined && count !== undefined && port + count - 1 > 65535) {
      c.error(c.at(p, f.get('count')!), `ports ${port} to ${port + count - 1} end past 65535`);
      continue;
    }
    if (!nameOk || name === undefined || protocol === undefined || port === undefined || count === undefined) continue;
    if (seen.has(name)) c.warn(c.at(p, f.get('name')!), `port name ${name} is used twice; a pod can forward only one of them`);
    seen.add(name);
    out.push({ name, protocol, port, count, socketActivated });
  }
  return out;
}

function app(c: Checker, value: Json, path: string): App | undefined {
  if (!isObject(value)) {
    c.error(path, `app must be an object, not ${describe(value)}`);
    return undefined;
  }
  const f = c.fields(value, path, APP_FIELDS, 'app');
  const exec = c.stringList(f, 'exec', path);
  const handlers = eventHandlers(c, f, path);
  const user = c.string(f, 'user', path, true);
  const group = c.string(f, 'group', path, true);
  if (user === '') c.error(c.at(path, f.get('user')!), 'user is required: a user name, a numeric UID or an absolute path in the image');
  if (group === '') c.error(c.at(path, f.get('group')!), 'group is required: a group name, a numeric GID or an absolute path in the image');
  const gids: number[] = [];
  for (const item of c.list(f, 'supplementaryGIDs', path)) {
    if (typeof item.value === 'number' && Number.isInteger(item.value) && item.value >= 0 && item.value <= 4294967294) gids.push(item.value);
    else c.error(item.path, `supplementary GIDs must be whole numbers from 0 to 4294967294, not ${describe(item.value)}`);
  }
  const wd = c.string(f, 'workingDirectory', path, false);
  if (wd !== undefined && wd !== '' && !wd.startsWith('/')) {
    c.error(c.at(path, f.get('workingDirectory')!), `workingDirectory ${clip(JSON.stringify(wd))} must be an absolute path (start with /)`);
  }
  const env = environment(c, f, path);
  const mounts = mountPoints(c, f, path);
  const appPorts = ports(c, f, path);
  const isos = isolators(c, f, path);
  const userAnnotations = f.has('userAnnotations') ? c.stringMap(f.get('userAnnotations')!.value, c.at(path, f.get('userAnnotations')!), 'userAnnotations') : {};
  const userLabels = f.has('userLabels') ? c.stringMap(f.get('userLabels')!.value, c.at(path, f.get('userLabels')!), 'userLabels') : {};
  return {
    exec,
    eventHandlers: handlers,
    user: user ?? '',
    group: group ?? '',
    supplementaryGIDs: gids,
    workingDirectory: wd || '/',
    environment: env,
    mountPoints: mounts,
    ports: appPorts,
    isolators: isos,
    userAnnotations,
    userLabels,
  };
}

// ---------------------------------------------------------------------------------------------
// dependencies and pathWhitelist

function dependencies(c: Checker, fields: Map<string, Field>, path: string): Dependency[] {
  const out: Dependency[] = [];
  for (const { obj, path: p } of c.objects(fields, 'dependencies', path)) {
    const f = c.fields(obj, p, ['imageName', 'imageID', 'labels', 'size'], 'a dependency');
    const imageName = c.string(f, 'imageName', p, true);
    const nameOk = imageName !== undefined && c.acIdentifier(imageName, c.at(p, f.get('imageName')!), 'dependency imageName');
    const imageID = c.string(f, 'imageID', p, false);
    if (imageID !== undefined) {
      const idPath = c.at(p, f.get('imageID')!);
      const dash = imageID.indexOf('-');
      const type = dash < 0 ? imageID : imageID.slice(0, dash);
      const rest = dash < 0 ? '' : imageID.slice(dash + 1);
      if (dash < 0 || rest.includes('-')) c.error(idPath, `imageID ${clip(JSON.stringify(imageID))} is not of the form sha512-<hex>`);
      else if (type !== 'sha512') c.error(idPath, `imageID ${clip(JSON.stringify(imageID))} uses the hash type ${JSON.stringify(type)}: appc image IDs are sha512 only`);
      else if (rest === '') c.error(idPath, 'imageID has no hash value after sha512-');
      else if (!/^[0-9a-f]{1,128}$/.test(rest)) c.warn(idPath, `imageID ${clip(JSON.stringify(imageID))} is not lower-case hex; it will match no image`);
    }
    const depLabels = labels(c, f, p);
    const size = c.integer(f, 'size', p, 0, Number.MAX_SAFE_INTEGER, false);
    if (!nameOk || imageName === undefined) continue;
    out.push({
      imageName,
      ...(imageID !== undefined && { imageID }),
      labels: depLabels,
      ...(size !== undefined && { size }),
    });
  }
  return out;
}

// ---------------------------------------------------------------------------------------------
// The document

const TOP_FIELDS = ['acKind', 'acVersion', 'name', 'labels', 'app', 'dependencies', 'pathWhitelist', 'annotations'] as const;

function check(value: unknown): { manifest: ImageManifest | undefined; problems: ManifestProblem[] } {
  const c = new Checker();
  if (!isObject(value)) {
    c.error('', `an image manifest is a JSON object, not ${describe(value)}`);
    return { manifest: undefined, problems: c.problems };
  }
  const f = c.fields(value, '', TOP_FIELDS, 'an image manifest');
  const kind = c.string(f, 'acKind', '', true);
  if (kind !== undefined && kind !== 'ImageManifest') {
    c.error(c.at('', f.get('acKind')!), `acKind is ${clip(JSON.stringify(kind))}: an image manifest has acKind "ImageManifest"`);
  }
  const version = c.string(f, 'acVersion', '', true);
  if (version !== undefined) {
    const problem = semverProblem(version);
    if (problem !== undefined) c.error(c.at('', f.get('acVersion')!), `acVersion: ${problem}`, 'write the appc version the manifest follows, e.g. "0.8.11"');
  }
  const name = c.string(f, 'name', '', true);
  if (name !== undefined) c.acIdentifier(name, c.at('', f.get('name')!), 'name');
  const topLabels = labels(c, f, '');
  const theApp = f.has('app') ? app(c, f.get('app')!.value, c.at('', f.get('app')!)) : undefined;
  const deps = dependencies(c, f, '');
  const whitelist = c.stringList(f, 'pathWhitelist', '');
  whitelist.forEach((entry, i) => {
    if (!entry.startsWith('/')) {
      c.warn(pointer(c.at('', f.get('pathWhitelist')!), i), `pathWhitelist entry ${clip(JSON.stringify(entry))} is not an absolute path; it will match nothing`,
        'pathWhitelist lists absolute paths in the rendered rootfs');
    }
  });
  const annos = annotations(c, f, '');
  if (c.problems.some((p) => p.severity === 'error')) return { manifest: undefined, problems: c.problems };
  const manifest: ImageManifest = {
    acKind: 'ImageManifest',
    acVersion: version!,
    name: name!,
    labels: topLabels,
    ...(theApp !== undefined && { app: theApp }),
    dependencies: deps,
    pathWhitelist: whitelist,
    annotations: annos,
  };
  return { manifest, problems: c.problems };
}

/**
 * Every problem of a parsed JSON value as an image manifest, errors and warnings: fields in the
 * schema's order, list entries in document order. An empty list, or warnings only, means the
 * manifest is valid.
 */
export function validateImageManifest(value: unknown): ManifestProblem[] {
  return check(value).problems;
}

// ---------------------------------------------------------------------------------------------
// Parsing bytes

const decoder = new TextDecoder('utf-8', { ignoreBOM: true });

function manifestError(source: string, why: string, hint: string): TspodError {
  return tspodError(ErrorCodes.MANIFEST_INVALID, `read the image manifest of ${source}`, why, hint);
}

/** One problem as "JSON-pointer: message", the pointer "(document)" for the root. */
export function formatProblem(p: ManifestProblem): string {
  return `${p.path === '' ? '(document)' : p.path}: ${p.message}`;
}

/**
 * Parses and validates an image manifest. `source` names where it came from in messages (a file,
 * an image). Errors are TSPOD_E_MANIFEST_INVALID with the first problems and their JSON pointers.
 */
export function checkImageManifest(bytes: Uint8Array | string, source: string): Result<CheckedManifest, TspodError> {
  const size = typeof bytes === 'string' ? Buffer.byteLength(bytes) : bytes.length;
  if (size > MAX_MANIFEST_BYTES) {
    return err(manifestError(source, `it is ${size} bytes, more than the ${MAX_MANIFEST_BYTES} bytes (1 MiB) an image manifest may have`,
      'an image manifest is a small JSON document: check that this is the manifest and not another file'));
  }
  const text = typeof bytes === 'string' ? bytes : decoder.decode(bytes);
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (e) {
    const where = locateJsonError(text);
    const why = where
      ? `it is not valid JSON: line ${where.line}, column ${where.column}: ${where.message}`
      : `it is not valid JSON: ${(e as Error).message}`;
    return err(manifestError(source, why, 'fix the JSON syntax at that place'));
  }
  const { manifest, problems } = check(value);
  if (manifest === undefined) {
    const errors = problems.filter((p) => p.severity === 'error');
    const shown = errors.slice(0, 3).map(formatProblem).join('; ');
    const more = errors.length > 3 ? ` (and ${errors.length - 3} more)` : '';
    const first = errors[0]!;
    const hint = first.fix !== undefined
      ? `fix ${first.path || 'the document'}: ${first.fix}`
      : `fix ${first.path || 'the document'} (appc ImageManifest schema 0.8.11)${errors.length > 1 ? ' and the other fields listed' : ''}`;
    return err(manifestError(source, `${errors.length === 1 ? 'it is invalid' : `it has ${errors.length} errors`}: ${shown}${more}`, hint));
  }
  return ok({ manifest, warnings: problems });
}

/** Parses and validates an image manifest; warnings are dropped (see checkImageManifest). */
export function parseImageManifest(bytes: Uint8Array | string, source: string): Result<ImageManifest, TspodError> {
  return checkImageManifest(bytes, source).map((checked) => checked.manifest);
}

// ---------------------------------------------------------------------------------------------
// Locating a JSON syntax error: V8's messages do not always give a position, and quote the whole
// input when they do not; this scanner runs only after JSON.parse has failed.

export interface JsonSyntaxError {
  readonly offset: number;
  /** 1-based. */
  readonly line: number;
  /** 1-based, in UTF-16 code units. */
  readonly column: number;
  readonly message: string;
}

function charName(ch: string | undefined): string {
  if (ch === undefined) return 'the end of the input';
  const code = ch.codePointAt(0)!;
  if (code < 0x20 || code === 0x7f || code === 0xfeff) return `U+${code.toString(16).toUpperCase().padStart(4, '0')}`;
  return `'${ch}'`;
}

/** Where the first syntax error in `text` is, or undefined when it is valid JSON. */
export function locateJsonError(text: string): JsonSyntaxError | undefined {
  let i = 0;
  const stack: string[] = [];
  const fail = (message: string, at = i): JsonSyntaxError => {
    let line = 1;
    let lineStart = 0;
    for (let k = 0; k < at; k++) {
      if (text.charCodeAt(k) === 10) {
        line++;
        lineStart = k + 1;
      }
    }
    return { offset: at, line, column: at - lineStart + 1, message };
  };
  const ws = (): void => {
    for (;;) {
      const c = text.charCodeAt(i);
      if (c === 32 || c === 9 || c === 10 || c === 13) i++;
      else return;
    }
  };
  const str = (): JsonSyntaxError | undefined => {
    const start = i;
    i++; // opening quote
    for (;;) {
      if (i >= text.length) return fail('unterminated string', start);
      const c = text.charCodeAt(i);
      if (c === 34) {
        i++;
        return undefined;
      }
      if (c < 0x20) return fail(`control character ${charName(text[i])} in a string (write it as \\u${c.toString(16).padStart(4, '0')})`);
      if (c === 92) {
        const e = text[i + 1];
        if (e !== undefined && '"\\/bfnrt'.includes(e)) i += 2;
        else if (e === 'u' && /^[0-9a-fA-F]{4}$/.test(text.slice(i + 2, i + 6))) i += 6;
        else return fail(`bad escape ${e === undefined ? '\\' : `\\${e}`} in a string`);
      } else i++;
    }
  };
  const num = (): JsonSyntaxError | undefined => {
    const m = /^-?(?:0|[1-9]\d*)(?:\.\d+)?(?:[eE][+-]?\d+)?/.exec(text.slice(i, i + 400));
    if (!m || m[0] === '-' || m[0] === '') return fail('bad number');
    const after = text[i + m[0].length];
    if (after !== undefined && /[0-9.eE+-]/.test(after)) return fail('bad number', i + m[0].length);
    i += m[0].length;
    return undefined;
  };
  if (text.charCodeAt(0) === 0xfeff) return fail('the input starts with a byte order mark (U+FEFF), which JSON does not allow');
  let expectValue = true;
  for (;;) {
    ws();
    if (expectValue) {
      const ch = text[i];
      if (ch === '{') {
        i++;
        ws();
        if (text[i] === '}') {
          i++;
          expectValue = false;
          continue;
        }
        if (text[i] !== '"') return fail(`expected a "quoted" member name or '}', found ${charName(text[i])}`);
        const e = str();
        if (e) return e;
        ws();
        if (text[i] !== ':') return fail(`expected ':' after a member name, found ${charName(text[i])}`);
        i++;
        stack.push('{');
        continue;
      }
      if (ch === '[') {
        i++;
        ws();
        if (text[i] === ']') {
          i++;
          expectValue = false;
          continue;
        }
        stack.push('[');
        continue;
      }
      let e: JsonSyntaxError | undefined;
      if (ch === '"') e = str();
      else if (ch === '-' || (ch !== undefined && ch >= '0' && ch <= '9')) e = num();
      else if (ch !== undefined && /^(true|false|null)/.test(text.slice(i, i + 5))) i += text.startsWith('true', i) || text.startsWith('null', i) ? 4 : 5;
      else return fail(ch === undefined ? 'unexpected end of input, expected a value' : `expected a value, found ${charName(ch)}`);
      if (e) return e;
      expectValue = false;
      continue;
    }
    const top = stack[stack.length - 1];
    const ch = text[i];
    if (top === undefined) {
      return ch === undefined ? undefined : fail(`unexpected ${charName(ch)} after the end of the JSON value`);
    }
    if (top === '{') {
      if (ch === '}') {
        stack.pop();
        i++;
      } else if (ch === ',') {
        i++;
        ws();
        if (text[i] !== '"') return fail(`expected a "quoted" member name after ',', found ${charName(text[i])}`);
        const e = str();
        if (e) return e;
        ws();
        if (text[i] !== ':') return fail(`expected ':' after a member name, found ${charName(text[i])}`);
        i++;
        expectValue = true;
      } else return fail(`expected ',' or '}' after an object member, found ${charName(ch)}`);
    } else if (ch === ']') {
      stack.pop();
      i++;
    } else if (ch === ',') {
      i++;
      expectValue = true;
    } else return fail(`expected ',' or ']' after a list element, found ${charName(ch)}`);
  }
}
