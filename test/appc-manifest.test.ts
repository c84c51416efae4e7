// Image manifest validation: a table of manifests, each judged by tspod and by Debian's actool
// 0.8.11 (`actool validate --type=manifest FILE`). Where appc.md §7 records actool's verdict, the
// two must agree; the few deliberate differences are marked with the reason, and actool must
// still give the verdict the table claims for it. Also: error shape, JSON pointers, the size
// limit, locating JSON syntax errors, normalisation, and the value types (types.ts).
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { removeDir, tempDir } from './helpers/cli.js';
import {
  checkImageManifest, formatProblem, locateJsonError, MAX_MANIFEST_BYTES, parseImageManifest, rfc3339Problem,
  validateImageManifest,
} from '../host/src/appc/manifest.js';
import {
  acIdentifierProblem, acNameProblem, hostAppcOsArch, isAcIdentifier, isAcName, isImageId, isImageIdPrefix,
  osArchProblem, semverProblem, shortImageId, VALID_OS_ARCH,
} from '../host/src/appc/types.js';

type Verdict = 'valid' | 'invalid';
type Doc = Record<string, unknown>;

interface Case {
  readonly name: string;
  /** A manifest object, or raw text/bytes for syntax cases. */
  readonly doc: Doc | unknown[] | string | Buffer;
  readonly tspod: Verdict;
  /**
   * For 'invalid': the JSON pointer of the first error. For 'valid': the pointer of a warning
   * tspod must give.
   */
  readonly pointer?: string;
  /** What actool must print (appc.md §7 texts), proving it refused for the same reason. */
  readonly actoolSays?: RegExp;
  /** actool's verdict where tspod differs on purpose, and why. */
  readonly actool?: { readonly verdict: Verdict | 'crash'; readonly why: string };
}

const BASE: Doc = { acKind: 'ImageManifest', acVersion: '0.8.11', name: 'example.com/busybox' };
const APP: Doc = { exec: ['/bin/sh', '-c', 'echo hi'], user: '0', group: '0' };

function manifest(extra: Doc = {}, drop: string[] = []): Doc {
  const m: Doc = { ...BASE, ...extra };
  for (const k of drop) delete m[k];
  return m;
}

function withApp(app: Doc, drop: string[] = []): Doc {
  const a: Doc = { ...APP, ...app };
  for (const k of drop) delete a[k];
  return manifest({ app: a });
}

function isolators(...list: Array<[string, unknown]>): Doc {
  return withApp({ isolators: list.map(([name, value]) => ({ name, value })) });
}

const HEX = 'ab'.repeat(64);

const CASES: Case[] = [
  // ----- appc.md §7: what actool refuses, with its messages
  { name: 'upper case in name', doc: manifest({ name: 'Example.com/x' }), tspod: 'invalid', pointer: '/name',
    actoolSays: /ACIdentifier must contain only lower case alphanumeric characters plus "-._~\/"/ },
  { name: 'empty name', doc: manifest({ name: '' }), tspod: 'invalid', pointer: '/name', actoolSays: /ACIdentifier cannot be empty/ },
  { name: 'no name', doc: manifest({}, ['name']), tspod: 'invalid', pointer: '/name', actoolSays: /name must be set/ },
  { name: 'label called "name"', doc: manifest({ labels: [{ name: 'name', value: 'x' }] }), tspod: 'invalid', pointer: '/labels/0/name',
    actoolSays: /invalid label name: "name"/ },
  { name: 'duplicate label', doc: manifest({ labels: [{ name: 'version', value: '1' }, { name: 'version', value: '2' }] }), tspod: 'invalid',
    pointer: '/labels/1/name', actoolSays: /duplicate labels of name "version"/ },
  { name: 'os plan9', doc: manifest({ labels: [{ name: 'os', value: 'plan9' }] }), tspod: 'invalid', pointer: '/labels/0/value',
    actoolSays: /bad os "plan9" \(must be one of: \[darwin freebsd linux\]\)/ },
  { name: 'linux/x86_64', doc: manifest({ labels: [{ name: 'os', value: 'linux' }, { name: 'arch', value: 'x86_64' }] }), tspod: 'invalid',
    pointer: '/labels/1/value', actoolSays: /bad arch "x86_64" for linux/ },
  { name: 'app without user', doc: withApp({}, ['user']), tspod: 'invalid', pointer: '/app/user', actoolSays: /user is required/ },
  { name: 'relative workingDirectory', doc: withApp({ workingDirectory: 'opt' }), tspod: 'invalid', pointer: '/app/workingDirectory',
    actoolSays: /workingDirectory must be an absolute path/ },
  { name: 'environment name A=B', doc: withApp({ environment: [{ name: 'A=B', value: 'x' }] }), tspod: 'invalid',
    pointer: '/app/environment/0/name', actoolSays: /environment variable does not have valid identifier "A=B"/ },
  { name: 'event handler post-start', doc: withApp({ eventHandlers: [{ name: 'post-start', exec: ['/bin/true'] }] }), tspod: 'invalid',
    pointer: '/app/eventHandlers/0/name', actoolSays: /bad eventHandler "name": "post-start"/ },
  { name: 'mount point named a.b', doc: withApp({ mountPoints: [{ name: 'a.b', path: '/data' }] }), tspod: 'invalid',
    pointer: '/app/mountPoints/0/name', actoolSays: /ACName must contain only lower case alphanumeric characters plus "-"/ },
  { name: 'port 0', doc: withApp({ ports: [{ name: 'http', protocol: 'tcp', port: 0 }] }), tspod: 'invalid', pointer: '/app/ports/0/port',
    actoolSays: /port must be in 1-65535 range/ },
  { name: 'memory limit "lots"', doc: isolators(['resource/memory', { limit: 'lots' }]), tspod: 'invalid',
    pointer: '/app/isolators/0/value/limit', actoolSays: /quantities must match the regular expression/ },
  { name: 'empty capability set', doc: isolators(['os/linux/capabilities-retain-set', { set: [] }]), tspod: 'invalid',
    pointer: '/app/isolators/0/value/set', actoolSays: /set must be non-empty/ },
  { name: 'seccomp retain and remove sets', doc: isolators(['os/linux/seccomp-retain-set', { set: ['read'] }], ['os/linux/seccomp-remove-set', { set: ['write'] }]),
    tspod: 'invalid', pointer: '/app/isolators/1', actoolSays: /isolators set contains incompatible types/ },
  { name: 'acVersion 1.0', doc: manifest({ acVersion: '1.0' }), tspod: 'invalid', pointer: '/acVersion', actoolSays: /SemVer is bad/ },
  { name: 'acKind Foo', doc: manifest({ acKind: 'Foo' }), tspod: 'invalid', pointer: '/acKind', actoolSays: /bad ACKind: Foo/ },
  { name: 'dependency with a sha256 ID', doc: manifest({ dependencies: [{ imageName: 'example.com/base', imageID: `sha256-${HEX.slice(0, 64)}` }] }),
    tspod: 'invalid', pointer: '/dependencies/0/imageID', actoolSays: /unrecognized hash type: sha256/ },
  { name: 'created "yesterday"', doc: manifest({ annotations: [{ name: 'created', value: 'yesterday' }] }), tspod: 'invalid',
    pointer: '/annotations/0/value', actoolSays: /bad Date/ },
  { name: 'ftp homepage', doc: manifest({ annotations: [{ name: 'homepage', value: 'ftp://example.com/' }] }), tspod: 'invalid',
    pointer: '/annotations/0/value', actoolSays: /bad URL scheme, must be http\/https/ },
  { name: 'trailing junk after the JSON', doc: `${JSON.stringify(manifest())} junk`, tspod: 'invalid', actoolSays: /invalid character/ },
  { name: 'isolator appc 0.8.11 does not define', doc: isolators(['example.com/made-up', { x: 1 }]), tspod: 'valid', pointer: '/app/isolators/0/name',
    actoolSays: /invalid isolator/,
    actool: { verdict: 'invalid', why: 'appc.md §7/§9: isolators unknown to the spec are warnings in tspod, errors in actool' } },

  // ----- appc.md §7: what actool accepts
  { name: 'arch without os', doc: manifest({ labels: [{ name: 'arch', value: 'whatever' }] }), tspod: 'valid' },
  { name: 'app without exec', doc: withApp({}, ['exec']), tspod: 'valid' },
  { name: 'relative exec', doc: withApp({ exec: ['sh', '-c', 'true'] }), tspod: 'valid' },
  { name: 'environment name a.b-c', doc: withApp({ environment: [{ name: 'a.b-c', value: '1' }] }), tspod: 'valid' },
  { name: 'acVersion 2.0.0', doc: manifest({ acVersion: '2.0.0' }), tspod: 'valid' },
  { name: 'acVersion 0.1.0', doc: manifest({ acVersion: '0.1.0' }), tspod: 'valid' },
  { name: 'unknown top-level keys', doc: manifest({ 'x-extra': { a: 1 } }), tspod: 'valid', pointer: '/x-extra' },
  { name: 'relative pathWhitelist entry', doc: manifest({ pathWhitelist: ['etc/hosts', '/bin/sh'] }), tspod: 'valid', pointer: '/pathWhitelist/0' },
  { name: 'oom-score-adj and cpu-shares', doc: isolators(['os/linux/oom-score-adj', 100], ['os/linux/cpu-shares', 512]), tspod: 'valid' },
  { name: 'no-new-privileges and selinux-context',
    doc: isolators(['os/linux/no-new-privileges', true], ['os/linux/selinux-context', { user: 'system_u', role: 'system_r', type: 'svirt_lxc_net_t', level: 's0:c1,c2' }]),
    tspod: 'valid' },
  { name: 'os/unix/sysctl at app level', doc: isolators(['os/unix/sysctl', { 'net.ipv4.ip_forward': '1' }]), tspod: 'valid' },

  // ----- more of the schema, same verdicts
  { name: 'app without group', doc: withApp({}, ['group']), tspod: 'invalid', pointer: '/app/group', actoolSays: /group is required/ },
  { name: 'empty user', doc: withApp({ user: '' }), tspod: 'invalid', pointer: '/app/user', actoolSays: /user is required/ },
  { name: 'two pre-start handlers', doc: withApp({ eventHandlers: [{ name: 'pre-start', exec: ['/a'] }, { name: 'pre-start', exec: ['/b'] }] }),
    tspod: 'invalid', pointer: '/app/eventHandlers/1/name', actoolSays: /Only one eventHandler of name "pre-start" allowed/ },
  { name: 'duplicate environment variable', doc: withApp({ environment: [{ name: 'A', value: '1' }, { name: 'A', value: '2' }] }), tspod: 'invalid',
    pointer: '/app/environment/1/name', actoolSays: /duplicate environment variable of name "A"/ },
  { name: 'environment name starting with a digit', doc: withApp({ environment: [{ name: '1A', value: '1' }] }), tspod: 'invalid',
    pointer: '/app/environment/0/name', actoolSays: /does not have valid identifier "1A"/ },
  { name: 'port range past 65535', doc: withApp({ ports: [{ name: 'a', protocol: 'tcp', port: 65535, count: 2 }] }), tspod: 'invalid',
    pointer: '/app/ports/0/count', actoolSays: /end of port range must be in 1-65535 range/ },
  { name: 'dependency without imageName', doc: manifest({ dependencies: [{ imageID: `sha512-${HEX}` }] }), tspod: 'invalid',
    pointer: '/dependencies/0/imageName', actoolSays: /imageName cannot be empty/ },
  { name: 'dependency imageID with two dashes', doc: manifest({ dependencies: [{ imageName: 'example.com/b', imageID: 'sha512-ab-cd' }] }),
    tspod: 'invalid', pointer: '/dependencies/0/imageID', actoolSays: /badly formatted hash string/ },
  { name: 'negative dependency size', doc: manifest({ dependencies: [{ imageName: 'example.com/b', size: -1 }] }), tspod: 'invalid',
    pointer: '/dependencies/0/size', actoolSays: /cannot unmarshal number -1/ },
  { name: 'dependency label "os" plan9', doc: manifest({ dependencies: [{ imageName: 'example.com/b', labels: [{ name: 'os', value: 'plan9' }] }] }),
    tspod: 'invalid', pointer: '/dependencies/0/labels/0/value', actoolSays: /bad os "plan9"/ },
  { name: 'duplicate annotation', doc: manifest({ annotations: [{ name: 'authors', value: 'a' }, { name: 'authors', value: 'b' }] }),
    tspod: 'invalid', pointer: '/annotations/1/name', actoolSays: /duplicate annotations of name "authors"/ },
  { name: 'created on 30 February', doc: manifest({ annotations: [{ name: 'created', value: '2017-02-30T03:04:05Z' }] }), tspod: 'invalid',
    pointer: '/annotations/0/value', actoolSays: /day out of range/ },
  { name: 'created with a lower-case t', doc: manifest({ annotations: [{ name: 'created', value: '2017-01-02t03:04:05Z' }] }), tspod: 'invalid',
    pointer: '/annotations/0/value', actoolSays: /bad Date/ },
  { name: 'created with a leap second', doc: manifest({ annotations: [{ name: 'created', value: '2016-12-31T23:59:60Z' }] }), tspod: 'invalid',
    pointer: '/annotations/0/value', actoolSays: /second out of range/ },
  { name: 'acVersion 0.0.0', doc: manifest({ acVersion: '0.0.0' }), tspod: 'invalid', pointer: '/acVersion', actoolSays: /SemVer cannot be zero/ },
  { name: 'name starting with "-"', doc: manifest({ name: '-x' }), tspod: 'invalid', pointer: '/name', actoolSays: /must start and end with only lower case/ },
  { name: 'upper-case isolator name', doc: isolators(['Resource/CPU', {}]), tspod: 'invalid', pointer: '/app/isolators/0/name',
    actoolSays: /ACIdentifier must contain only lower case/ },
  { name: 'seccomp errno in lower case', doc: isolators(['os/linux/seccomp-retain-set', { set: ['read'], errno: 'eperm' }]), tspod: 'invalid',
    pointer: '/app/isolators/0/value/errno', actoolSays: /errno must start with an 'E' character/ },
  { name: 'cpu-shares 1', doc: isolators(['os/linux/cpu-shares', 1]), tspod: 'invalid', pointer: '/app/isolators/0/value',
    actoolSays: /must be between 2 and 262144/ },
  { name: 'oom-score-adj 2000', doc: isolators(['os/linux/oom-score-adj', 2000]), tspod: 'invalid', pointer: '/app/isolators/0/value',
    actoolSays: /must be between -1000 and 1000/ },
  { name: 'two sysctl isolators', doc: isolators(['os/unix/sysctl', { a: '1' }], ['os/unix/sysctl', { b: '1' }]), tspod: 'invalid',
    pointer: '/app/isolators/1', actoolSays: /too many instances of type os\/unix\/sysctl/ },
  { name: 'block-bandwidth with default false', doc: isolators(['resource/block-bandwidth', { default: false, limit: '1M' }]), tspod: 'invalid',
    pointer: '/app/isolators/0/value/default', actoolSays: /default must be true/ },
  { name: 'cpu with default true', doc: isolators(['resource/cpu', { default: true, limit: '1' }]), tspod: 'invalid',
    pointer: '/app/isolators/0/value/default', actoolSays: /default must be false/ },
  { name: 'memory suffix K', doc: isolators(['resource/memory', { limit: '1K' }]), tspod: 'invalid', pointer: '/app/isolators/0/value/limit',
    actoolSays: /unable to parse quantity's suffix/ },
  { name: 'SELinux user with a colon', doc: isolators(['os/linux/selinux-context', { user: 'a:b', role: 'r', type: 't', level: 's0' }]),
    tspod: 'invalid', pointer: '/app/isolators/0/value/user', actoolSays: /invalid user value "a:b"/ },
  { name: 'label value that is a number', doc: manifest({ labels: [{ name: 'version', value: 1 }] }), tspod: 'invalid', pointer: '/labels/0/value',
    actoolSays: /cannot unmarshal number/ },
  { name: 'exec that is a string', doc: withApp({ exec: '/bin/sh' }), tspod: 'invalid', pointer: '/app/exec', actoolSays: /cannot unmarshal string/ },
  { name: 'exec with a number', doc: withApp({ exec: ['/bin/sh', 1] }), tspod: 'invalid', pointer: '/app/exec/1', actoolSays: /cannot unmarshal number/ },
  { name: 'userLabels with a number', doc: withApp({ userLabels: { a: 1 } }), tspod: 'invalid', pointer: '/app/userLabels/a', actoolSays: /cannot unmarshal number/ },
  { name: 'a list, not an object', doc: [1], tspod: 'invalid', pointer: '', actoolSays: /cannot unmarshal array/ },
  { name: 'byte order mark', doc: Buffer.concat([Buffer.from([0xef, 0xbb, 0xbf]), Buffer.from(JSON.stringify(manifest()))]), tspod: 'invalid',
    actoolSays: /invalid character/ },
  { name: 'created with fraction and offset', doc: manifest({ annotations: [{ name: 'created', value: '2017-01-02T03:04:05.123+02:00' }] }), tspod: 'valid' },
  { name: 'upper-case URL scheme', doc: manifest({ annotations: [{ name: 'homepage', value: 'HTTPS://example.com/' }] }), tspod: 'valid' },
  { name: 'supplementaryGids spelled as in the spec example', doc: withApp({ supplementaryGids: [10, 20] }), tspod: 'valid' },
  { name: 'field names in other cases', doc: { ACKIND: 'ImageManifest', acversion: '0.8.11', NAME: 'example.com/x' }, tspod: 'valid' },
  { name: 'exec null (as Go writes an app without exec)', doc: withApp({ exec: null }), tspod: 'valid' },
  { name: 'empty workingDirectory', doc: withApp({ workingDirectory: '' }), tspod: 'valid' },
  { name: 'pre-release and build metadata', doc: manifest({ acVersion: '0.8.11-rc.1+build.5' }), tspod: 'valid' },
  { name: 'cpu, memory and block-bandwidth quantities',
    doc: isolators(['resource/cpu', { request: '250m', limit: 1 }], ['resource/memory', { limit: '1Gi' }], ['resource/block-bandwidth', { default: true, limit: '10M' }]),
    tspod: 'valid' },
  { name: 'dependency imageID not in hex (the spec example "sha512-...")', doc: manifest({ dependencies: [{ imageName: 'example.com/b', imageID: 'sha512-...' }] }),
    tspod: 'valid', pointer: '/dependencies/0/imageID' },
  { name: 'supports-systemd-notify "yes"', doc: manifest({ annotations: [{ name: 'appc.io/executor/supports-systemd-notify', value: 'yes' }] }),
    tspod: 'valid', pointer: '/annotations/0/value' },
  { name: 'everything at once',
    doc: manifest({
      labels: [{ name: 'version', value: '1.35.0' }, { name: 'os', value: 'linux' }, { name: 'arch', value: 'aarch64' }],
      app: {
        ...APP, supplementaryGIDs: [10, 4294967294], workingDirectory: '/srv',
        eventHandlers: [{ name: 'pre-start', exec: ['/bin/prep'] }, { name: 'post-stop', exec: ['/bin/clean'] }],
        environment: [{ name: 'PATH', value: '/bin' }, { name: 'X_Y', value: '' }],
        mountPoints: [{ name: 'data', path: '/data', readOnly: true }],
        ports: [{ name: 'http', protocol: 'tcp', port: 8080, count: 10, socketActivated: true }, { name: 'dns', protocol: 'udp', port: 53 }],
        userAnnotations: { a: 'b' }, userLabels: { c: 'd' },
      },
      dependencies: [{ imageName: 'example.com/base', imageID: `sha512-${HEX}`, labels: [{ name: 'version', value: '1' }], size: 1234 }],
      pathWhitelist: ['/bin/sh'],
      annotations: [{ name: 'created', value: '2024-02-29T23:59:59Z' }, { name: 'documentation', value: 'http://example.com/doc' }],
    }),
    tspod: 'valid' },

  // ----- deliberate differences: tspod follows the spec where actool does not check
  { name: 'doubled separator in name (a..b)', doc: manifest({ name: 'a..b' }), tspod: 'invalid', pointer: '/name',
    actool: { verdict: 'valid', why: 'appc.md §4: AC Identifier is ^[a-z0-9]+([-._~/][a-z0-9]+)*$; actool only checks characters and ends' } },
  { name: 'leading zero in acVersion', doc: manifest({ acVersion: '01.2.3' }), tspod: 'invalid', pointer: '/acVersion',
    actool: { verdict: 'valid', why: 'appc.md §4: AC Version is SemVer 2.0.0, which forbids leading zeros; go-semver allows them' } },
  { name: 'mount point without a name', doc: withApp({ mountPoints: [{ path: '/data' }] }), tspod: 'invalid', pointer: '/app/mountPoints/0/name',
    actool: { verdict: 'valid', why: 'appc.md §2: mountPoints have an AC Name; Go never checks a missing one' } },
  { name: 'relative mount point path', doc: withApp({ mountPoints: [{ name: 'data', path: 'data' }] }), tspod: 'invalid', pointer: '/app/mountPoints/0/path',
    actool: { verdict: 'valid', why: 'a mount target inside the rootfs is an absolute path; actool does not check' } },
  { name: 'port count 0', doc: withApp({ ports: [{ name: 'http', protocol: 'tcp', port: 80, count: 0 }] }), tspod: 'invalid', pointer: '/app/ports/0/count',
    actool: { verdict: 'valid', why: 'appc.md §2: count >= 1; Go turns 0 into 1' } },
  { name: 'negative supplementary GID', doc: withApp({ supplementaryGIDs: [-1] }), tspod: 'invalid', pointer: '/app/supplementaryGIDs/0',
    actool: { verdict: 'valid', why: 'the spec says unsigned integers; Go decodes them as int' } },
  { name: 'capabilities retain and remove sets', doc: isolators(['os/linux/capabilities-retain-set', { set: ['CAP_CHOWN'] }], ['os/linux/capabilities-remove-set', { set: ['CAP_KILL'] }]),
    tspod: 'invalid', pointer: '/app/isolators/1',
    actool: { verdict: 'valid', why: 'appc.md §6.4: the capability sets are exclusive; 0.8.11 Go does not enforce it' } },
  { name: 'label without a value', doc: manifest({ labels: [{ name: 'version' }] }), tspod: 'invalid', pointer: '/labels/0/value',
    actool: { verdict: 'valid', why: 'the spec: label objects have two key-value pairs; Go takes a missing value as ""' } },
  { name: 'negative memory limit', doc: isolators(['resource/memory', { limit: '-1G' }]), tspod: 'invalid', pointer: '/app/isolators/0/value/limit',
    actool: { verdict: 'valid', why: 'a negative amount of memory has no meaning; Go does not check the sign' } },
  { name: 'apparmor-profile isolator (after 0.8.11)', doc: isolators(['os/linux/apparmor-profile', { profile: 'x' }]), tspod: 'valid',
    pointer: '/app/isolators/0/name', actoolSays: /invalid isolator/,
    actool: { verdict: 'invalid', why: 'appc.md §6.4: defined upstream after 0.8.11, unknown to Debian actool; tspod warns' } },
  { name: 'port written as 80.0', doc: `{"acKind":"ImageManifest","acVersion":"0.8.11","name":"a","app":{"user":"0","group":"0","ports":[{"name":"p","protocol":"tcp","port":80.0}]}}`,
    tspod: 'valid', actoolSays: /cannot unmarshal number 80\.0/,
    actool: { verdict: 'invalid', why: 'JSON.parse reads 80.0 as the integer 80; Go refuses a fraction for a uint field' } },
  { name: 'no acKind', doc: manifest({}, ['acKind']), tspod: 'invalid', pointer: '/acKind',
    actool: { verdict: 'crash', why: 'actool validate panics ("bad ACKind") when acKind is missing' } },
];

function docBytes(doc: Case['doc']): Buffer {
  if (Buffer.isBuffer(doc)) return doc;
  if (typeof doc === 'string') return Buffer.from(doc);
  return Buffer.from(JSON.stringify(doc, null, 2));
}

const actoolMissing = ((): string | false => {
  const r = spawnSync('actool', ['version'], { encoding: 'utf8' });
  return r.error ? 'actool is not installed (apt-get install appc-spec)' : false;
})();

function actoolVerdict(file: string): { verdict: Verdict | 'crash'; output: string } {
  const r = spawnSync('actool', ['validate', '--type=manifest', file], { encoding: 'utf8' });
  const output = `${r.stdout}${r.stderr}`;
  return { verdict: r.status === 0 ? 'valid' : r.status === 1 ? 'invalid' : 'crash', output };
}

describe('image manifest verdicts: tspod and actool', () => {
  let work = '';
  before(() => {
    work = tempDir('manifest');
  });
  after(() => removeDir(work));

  CASES.forEach((c, i) => {
    test(c.name, async (t) => {
      const bytes = docBytes(c.doc);
      const result = checkImageManifest(bytes, `case-${i}.json`);
      assert.equal(result.isOk() ? 'valid' : 'invalid', c.tspod, result.isErr() ? result.error.why : 'accepted');
      if (c.pointer !== undefined) {
        const problems = validateImageManifest(JSON.parse(bytes.toString()));
        if (c.tspod === 'invalid') {
          const first = problems.find((p) => p.severity === 'error');
          assert.equal(first?.path, c.pointer, JSON.stringify(problems));
          assert.ok(result.isErr());
          assert.ok(result.error.why.includes(`${c.pointer === '' ? '(document)' : c.pointer}: `), result.error.why);
        } else {
          assert.ok(problems.some((p) => p.severity === 'warning' && p.path === c.pointer), JSON.stringify(problems));
          assert.ok(problems.every((p) => p.severity === 'warning'));
        }
      }
      if (actoolMissing) {
        t.skip(actoolMissing);
        return;
      }
      const file = join(work, `case-${i}.json`);
      writeFileSync(file, bytes);
      const a = actoolVerdict(file);
      const expected = c.actool?.verdict ?? c.tspod;
      assert.equal(a.verdict, expected, `actool: ${a.output}${c.actool ? ` (expected difference: ${c.actool.why})` : ''}`);
      if (c.actoolSays) assert.match(a.output, c.actoolSays);
    });
  });

  test('the table covers agreement and difference both ways', () => {
    const agree = CASES.filter((c) => c.actool === undefined);
    assert.ok(agree.filter((c) => c.tspod === 'valid').length >= 15);
    assert.ok(agree.filter((c) => c.tspod === 'invalid').length >= 40);
    assert.ok(CASES.some((c) => c.actool?.verdict === 'valid' && c.tspod === 'invalid'));
    assert.ok(CASES.some((c) => c.actool?.verdict === 'invalid' && c.tspod === 'valid'));
  });

  test("Debian's example image.json is valid for both", { skip: existsSync('/usr/share/doc/appc-spec/examples/image.json') ? false : 'appc-spec examples not installed' }, () => {
    const path = '/usr/share/doc/appc-spec/examples/image.json';
    const r = checkImageManifest(readFileSync(path), path);
    assert.ok(r.isOk(), r.isErr() ? r.error.why : '');
    // Its dependency ID is the placeholder "sha512-...": valid, but worth a warning.
    assert.deepEqual(r.value.warnings.map((w) => w.path), ['/dependencies/0/imageID']);
    assert.equal(r.value.manifest.app?.isolators.length, 5);
    if (!actoolMissing) assert.equal(actoolVerdict(path).verdict, 'valid');
  });
});

describe('manifest errors', () => {
  test('shape: code, what, why with the JSON pointer, hint', () => {
    const r = parseImageManifest(JSON.stringify(withApp({ ports: [{ name: 'http', protocol: 'tcp', port: 80 }, { name: 'x', protocol: 'tcp', port: 70000 }] })), 'layout/manifest');
    assert.ok(r.isErr());
    assert.equal(r.error.code, 'TSPOD_E_MANIFEST_INVALID');
    assert.equal(r.error.what, 'read the image manifest of layout/manifest');
    assert.equal(r.error.why, 'it is invalid: /app/ports/1/port: port 70000 is out of range (1-65535)');
    assert.match(r.error.hint, /\/app\/ports\/1\/port/);
  });

  test('several errors: the first three, in schema order, and a count', () => {
    const r = parseImageManifest(JSON.stringify(manifest({ acVersion: 'x', name: 'A', labels: [{ name: 'name', value: '' }], app: { user: '' } })), 'm');
    assert.ok(r.isErr());
    assert.match(r.error.why, /^it has 5 errors: \/acVersion: .*; \/name: .*; \/labels\/0\/name: .* \(and 2 more\)$/);
    assert.match(r.error.hint, /^fix \/acVersion/);
  });

  test('an AC Identifier error says how to write one', () => {
    const r = parseImageManifest(JSON.stringify(manifest({ name: 'My_App' })), 'm');
    assert.ok(r.isErr());
    assert.match(r.error.why, /\/name: name: "My_App" is not an AC Identifier/);
    assert.match(r.error.hint, /lower-case letters and digits/);
  });

  test('JSON pointers escape ~ and / in keys', () => {
    const problems = validateImageManifest(withApp({ userAnnotations: { 'a/b~c': 5 } }));
    assert.equal(problems[0]?.path, '/app/userAnnotations/a~1b~0c');
    assert.equal(formatProblem(problems[0]!), '/app/userAnnotations/a~1b~0c: userAnnotations values must be strings, not the number 5');
  });

  test('a manifest over 1 MiB is refused, one of exactly 1 MiB is read', () => {
    const text = JSON.stringify(manifest());
    const exact = Buffer.alloc(MAX_MANIFEST_BYTES, 0x20);
    exact.write(text, 0);
    assert.ok(checkImageManifest(exact, 'm').isOk());
    const over = Buffer.alloc(MAX_MANIFEST_BYTES + 1, 0x20);
    over.write(text, 0);
    const r = checkImageManifest(over, 'big.json');
    assert.ok(r.isErr());
    assert.equal(r.error.code, 'TSPOD_E_MANIFEST_INVALID');
    assert.match(r.error.why, /1048577 bytes, more than the 1048576 bytes \(1 MiB\)/);
    assert.ok(parseImageManifest(' '.repeat(MAX_MANIFEST_BYTES + 1), 'm').isErr(), 'strings are measured in UTF-8 bytes too');
  });

  test('JSON syntax errors give line and column', () => {
    const text = '{\n  "acKind": "ImageManifest",\n  "name" "x"\n}';
    const r = parseImageManifest(text, 'm.json');
    assert.ok(r.isErr());
    assert.equal(r.error.why, "it is not valid JSON: line 3, column 10: expected ':' after a member name, found '\"'");
    const cases: Array<[string, number, number, RegExp]> = [
      ['', 1, 1, /end of input/],
      ['{"a":1,}', 1, 8, /member name after ','/],
      ['[1,\n\n  2 3]', 3, 5, /after a list element/],
      ['{"a":"x\ty"}', 1, 8, /control character U\+0009/],
      ['{"a":"\\q"}', 1, 7, /bad escape \\q/],
      ['{"a":01}', 1, 7, /bad number/],
      ['{"a":tru}', 1, 6, /expected a value/],
      ['{"a":1} x', 1, 9, /after the end of the JSON value/],
      ['{"a":"x', 1, 6, /unterminated string/],
      ['\ufeff{}', 1, 1, /byte order mark/],
    ];
    for (const [input, line, column, message] of cases) {
      const where = locateJsonError(input);
      assert.ok(where, JSON.stringify(input));
      assert.deepEqual([where.line, where.column], [line, column], `${JSON.stringify(input)}: ${where.message}`);
      assert.match(where.message, message);
    }
  });

  test('the syntax locator agrees with JSON.parse on thousands of mutated documents', () => {
    const seed = JSON.stringify(CASES.find((c) => c.name === 'everything at once')!.doc, null, 1) + '\n';
    const alphabet = ['{', '}', '[', ']', ',', ':', '"', '\\', ' ', '\n', '0', '1', '-', '.', 'e', 't', 'n', 'x', '\t', '\u0001'];
    let x = 12345;
    const rand = (n: number): number => {
      x ^= x << 13; x >>>= 0; x ^= x >>> 17; x ^= x << 5; x >>>= 0;
      return x % n;
    };
    let invalid = 0;
    for (let k = 0; k < 4000; k++) {
      const chars = [...seed];
      for (let m = 1 + rand(2); m > 0; m--) {
        const at = rand(chars.length);
        const op = rand(3);
        if (op === 0) chars.splice(at, 1);
        else if (op === 1) chars.splice(at, 0, alphabet[rand(alphabet.length)]!);
        else chars[at] = alphabet[rand(alphabet.length)]!;
      }
      const text = chars.join('');
      let parses = true;
      try {
        JSON.parse(text);
      } catch {
        parses = false;
      }
      assert.equal(locateJsonError(text) === undefined, parses, JSON.stringify(text));
      if (!parses) invalid++;
    }
    assert.ok(invalid > 1000, `only ${invalid} mutations were invalid JSON`);
  });

  test('invalid UTF-8 inside a string is replaced, not refused (as Go does)', () => {
    const bytes = Buffer.concat([Buffer.from('{"acKind":"ImageManifest","acVersion":"0.8.11","name":"a","labels":[{"name":"version","value":"'), Buffer.from([0xff]), Buffer.from('"}]}')]);
    const r = parseImageManifest(bytes, 'm');
    assert.ok(r.isOk());
    assert.equal(r.value.labels[0]?.value, '\ufffd');
  });
});

describe('the parsed manifest', () => {
  test('is normalised: canonical names, defaults, unknown fields dropped', () => {
    const r = parseImageManifest(JSON.stringify({
      ACKIND: 'ImageManifest', acVersion: '0.8.11', name: 'example.com/x', extra: 1,
      app: { exec: null, USER: 'root', group: '0', supplementaryGids: [1, 2], ports: [{ name: 'p', protocol: 'tcp', port: 80 }], mountPoints: [{ name: 'm', path: '/m' }] },
    }), 'm');
    assert.ok(r.isOk(), r.isErr() ? r.error.why : '');
    assert.deepEqual(r.value, {
      acKind: 'ImageManifest', acVersion: '0.8.11', name: 'example.com/x', labels: [], dependencies: [], pathWhitelist: [], annotations: [],
      app: {
        exec: [], eventHandlers: [], user: 'root', group: '0', supplementaryGIDs: [1, 2], workingDirectory: '/', environment: [],
        mountPoints: [{ name: 'm', path: '/m', readOnly: false }], ports: [{ name: 'p', protocol: 'tcp', port: 80, count: 1, socketActivated: false }],
        isolators: [], userAnnotations: {}, userLabels: {},
      },
    });
  });

  test('keeps labels, dependencies and annotations in document order', () => {
    const doc = CASES.find((c) => c.name === 'everything at once')!.doc as Doc;
    const r = parseImageManifest(JSON.stringify(doc), 'm');
    assert.ok(r.isOk());
    assert.deepEqual(r.value.labels.map((l) => l.name), ['version', 'os', 'arch']);
    assert.equal(r.value.dependencies[0]?.size, 1234);
    assert.equal(r.value.dependencies[0]?.imageID, `sha512-${HEX}`);
    assert.deepEqual(r.value.app?.ports.map((p) => [p.port, p.count, p.socketActivated]), [[8080, 10, true], [53, 1, false]]);
    assert.deepEqual(r.value.annotations.map((a) => a.name), ['created', 'documentation']);
  });
});

describe('appc value types', () => {
  test('AC Identifier and AC Name', () => {
    for (const ok of ['a', 'example.com/busybox', 'example.com/x_y', 'a~b', 'a-b.c/d_e~f', '0']) assert.equal(acIdentifierProblem(ok), undefined, ok);
    for (const bad of ['', 'A', 'a b', 'a/', '/a', 'a..b', 'a/-b', 'é']) {
      assert.ok(acIdentifierProblem(bad), bad);
      assert.equal(isAcIdentifier(bad), false, bad);
    }
    for (const ok of ['a', 'web', 'data-dir', '8080']) assert.ok(isAcName(ok) && acNameProblem(ok) === undefined, ok);
    for (const bad of ['', 'a.b', 'a_b', '-a', 'a-', 'a--b', 'A']) assert.ok(!isAcName(bad) && acNameProblem(bad) !== undefined, bad);
  });

  test('SemVer', () => {
    for (const ok of ['0.8.11', '1.0.0-alpha.1', '1.0.0+build.7', '0.0.0-rc', '0.0.1', '9223372036854775807.0.0']) assert.equal(semverProblem(ok), undefined, ok);
    for (const bad of ['1.0', '0.0.0', '01.0.0', '1.0.0-', '1.0.0-01', 'v1.0.0', '1.0.0 ', '9223372036854775808.0.0']) assert.ok(semverProblem(bad), bad);
  });

  test('RFC 3339', () => {
    for (const ok of ['2017-09-19T12:00:00Z', '2024-02-29T00:00:00.5-07:30', '1970-01-01T00:00:00+00:00']) assert.equal(rfc3339Problem(ok), undefined, ok);
    for (const bad of ['2023-02-29T00:00:00Z', '2017-09-19 12:00:00Z', '2017-09-19T24:00:00Z', '2017-09-19T12:00:00', '2017-13-01T00:00:00Z', '2017-09-19T12:00:00+24:00']) {
      assert.ok(rfc3339Problem(bad), bad);
    }
  });

  test('os/arch pairs', () => {
    assert.equal(osArchProblem('linux', 'aarch64'), undefined);
    assert.equal(osArchProblem(undefined, 'anything'), undefined);
    assert.equal(osArchProblem('darwin', undefined), undefined);
    assert.match(osArchProblem('plan9', 'amd64')!, /unknown os "plan9" \(one of: darwin, freebsd, linux\)/);
    assert.match(osArchProblem('linux', 'x86_64')!, /unknown arch "x86_64" for os linux/);
    assert.deepEqual(VALID_OS_ARCH['linux'], ['amd64', 'i386', 'aarch64', 'aarch64_be', 'armv6l', 'armv7l', 'armv7b', 'ppc64', 'ppc64le', 's390x']);
  });

  test('host os/arch in appc spelling', () => {
    const table: Array<[string, string, string | undefined, 'LE' | 'BE', string | undefined]> = [
      ['linux', 'x64', undefined, 'LE', 'linux/amd64'],
      ['linux', 'arm64', undefined, 'LE', 'linux/aarch64'],
      ['linux', 'arm64', undefined, 'BE', 'linux/aarch64_be'],
      ['linux', 'ia32', undefined, 'LE', 'linux/i386'],
      ['linux', 'arm', '7', 'LE', 'linux/armv7l'],
      ['linux', 'arm', '6', 'LE', 'linux/armv6l'],
      ['linux', 'ppc64', undefined, 'LE', 'linux/ppc64le'],
      ['linux', 'ppc64', undefined, 'BE', 'linux/ppc64'],
      ['linux', 's390x', undefined, 'BE', 'linux/s390x'],
      ['freebsd', 'x64', undefined, 'LE', 'freebsd/amd64'],
      ['darwin', 'x64', undefined, 'LE', 'darwin/x86_64'],
      ['darwin', 'arm64', undefined, 'LE', undefined],
      ['win32', 'x64', undefined, 'LE', undefined],
      ['linux', 'riscv64', undefined, 'LE', undefined],
    ];
    for (const [platform, arch, armVersion, endianness, want] of table) {
      const got = hostAppcOsArch({ platform, arch, endianness, ...(armVersion !== undefined && { armVersion }) });
      assert.equal(got === undefined ? undefined : `${got.os}/${got.arch}`, want, `${platform}/${arch}`);
      if (got) assert.equal(osArchProblem(got.os, got.arch), undefined, 'every mapped pair is one appc accepts');
    }
    const here = hostAppcOsArch();
    if (process.platform === 'linux' && process.arch === 'x64') assert.deepEqual(here, { os: 'linux', arch: 'amd64' });
  });

  test('image IDs', () => {
    const id = `sha512-${'0123456789abcdef'.repeat(8)}`;
    assert.ok(isImageId(id));
    assert.ok(!isImageId(id.toUpperCase()) && !isImageId(id.slice(0, -1)) && !isImageId(`sha256-${'0'.repeat(64)}`));
    assert.equal(shortImageId(id), `sha512-${'0123456789abcdef'.repeat(2)}`);
    assert.equal(shortImageId(id, 12), 'sha512-0123456789ab');
    assert.equal(shortImageId('sha512-abc'), 'sha512-abc');
    assert.ok(isImageIdPrefix('sha512-abc') && !isImageIdPrefix('sha512-') && !isImageIdPrefix('sha512-xyz'));
  });
});
