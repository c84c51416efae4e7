// Pod file lint: the documented examples double as fixtures (valid ones must be clean, invalid
// ones carry `# expect: RULE line:column` lines the core must match exactly), the CLI's formats
// and exit codes, SARIF against the OASIS schema, hostile inputs, and the JSON Schema editors use
// agreeing with the core.
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { getStaticTOMLValue, parseTOML } from 'toml-eslint-parser';
import { lintJsonText, lintPodText } from '../host/src/podfile/lint.js';
import { LINT_RULES } from '../host/src/podfile/rules.js';

const repo = new URL('../../', import.meta.url).pathname;
const tspod = join(repo, 'bin', 'tspod.js');
const manifests = join(repo, 'manifests');
const invalidDir = join(manifests, 'examples', 'invalid');
const validFiles = [join(manifests, 'hello.toml'), ...readdirSync(join(manifests, 'examples')).filter((f) => f.endsWith('.toml')).map((f) => join(manifests, 'examples', f))];
const invalidFiles = readdirSync(invalidDir).filter((f) => f.endsWith('.toml')).map((f) => join(invalidDir, f));
const require = createRequire(import.meta.url);

function lintCli(args: string[]) {
  return spawnSync(process.execPath, [tspod, 'lint', ...args], { encoding: 'utf8', maxBuffer: 64 << 20 });
}

function expectations(text: string): string[] {
  return text.split('\n').filter((l) => l.startsWith('# expect: ')).map((l) => l.slice('# expect: '.length)).sort();
}

function found(text: string): string[] {
  return lintPodText(text).map((d) => `${d.rule} ${d.range.start.line}:${d.range.start.column}`).sort();
}

describe('pod file lint', () => {
  let dir: string;
  before(() => {
    dir = mkdtempSync(join(tmpdir(), 'tspod-lint-'));
  });
  after(() => rmSync(dir, { recursive: true, force: true }));

  it('the documented examples are clean (at most infos)', () => {
    assert.ok(validFiles.length >= 2);
    for (const f of validFiles) {
      const problems = lintPodText(readFileSync(f, 'utf8')).filter((d) => d.severity !== 'info');
      assert.deepEqual(problems, [], f);
    }
  });

  it('each invalid example reports exactly the rules and positions its # expect lines name', () => {
    assert.ok(invalidFiles.length >= 3);
    for (const f of invalidFiles) {
      const text = readFileSync(f, 'utf8');
      const expected = expectations(text);
      assert.ok(expected.length > 0, `${f} has expectations`);
      assert.deepEqual(found(text), expected, f);
    }
  });

  it('every rule the core and host can emit is documented, and messages say what to do', () => {
    const sources = [join(repo, 'core', 'assembly', 'lint'), join(repo, 'host', 'src', 'podfile'), join(repo, 'host', 'src', 'cli')];
    const emitted = new Set<string>();
    for (const d of sources) {
      for (const f of readdirSync(d).filter((n) => n.endsWith('.ts'))) {
        for (const m of readFileSync(join(d, f), 'utf8').matchAll(/TSPOD_L_[A-Z_]+/g)) emitted.add(m[0]);
      }
    }
    for (const rule of emitted) assert.ok(rule in LINT_RULES, `${rule} is in LINT_RULES`);
    const docs = readFileSync(join(repo, 'docs', 'lint-rules.md'), 'utf8');
    for (const rule of Object.keys(LINT_RULES)) assert.ok(docs.includes(rule), `${rule} is in docs/lint-rules.md`);
    for (const f of invalidFiles) {
      for (const d of lintPodText(readFileSync(f, 'utf8'))) assert.match(d.message, /:|\?|\./, `${d.rule}: ${d.message}`);
    }
  });

  it('quantities, names and addresses: what parses and what does not', () => {
    const pod = (app: string, extra = '') => `apiVersion = "tspod/v1"\nkind = "Pod"\nname = "q"\n${extra}\n[[app]]\nname = "a"\nimage = "sha512-00"\n${app}\n`;
    const rules = (text: string) => lintPodText(text).map((d) => d.rule);
    for (const memory of ['"1"', '"1.5Gi"', '"512Ki"', '"256M"', '"9223372036854775807"']) assert.deepEqual(rules(pod(`[app.resources]\nmemory = ${memory}`)), [], memory);
    assert.deepEqual(rules(pod('[app.resources]\nmemory = "9223372036854775808"')), ['TSPOD_L_OUT_OF_RANGE']);
    assert.deepEqual(rules(pod('[app.resources]\nmemory = "99999999999999999999G"')), ['TSPOD_L_OUT_OF_RANGE']);
    assert.deepEqual(rules(pod('[app.resources]\nmemory = "1.5"')), [], 'a fractional byte count rounds up');
    // TOML's largest integer must not wrap into a negative number (as @iarna/toml's does).
    assert.deepEqual(rules(pod('[app.resources]\npids = 9223372036854775807')), ['TSPOD_L_OUT_OF_RANGE']);
    for (const cpu of ['"500m"', '"1.5"', '2', '0.25']) assert.deepEqual(rules(pod(`[app.resources]\ncpu = ${cpu}`)), [], cpu);
    for (const cpu of ['"1.5m"', '"-1"', '"x"']) assert.deepEqual(rules(pod(`[app.resources]\ncpu = ${cpu}`)), ['TSPOD_L_BAD_QUANTITY'], cpu);
    assert.deepEqual(rules(pod('', 'dns = ["198.18.0.1", "fd00::53", "::1", "256.1.1.1", "fd00:::1"]')), ['TSPOD_L_BAD_ADDRESS', 'TSPOD_L_BAD_ADDRESS']);
    assert.deepEqual(rules(pod('stop_grace_period = "1h30m"\nstop_signal = "SIGINT"')), []);
    assert.deepEqual(rules(pod('', '[[volume]]\nname = "root"\nkind = "host"\nsource = "/"\nallow_sensitive = true')), [], 'acknowledged');
    assert.deepEqual(rules(pod('', '[[volume]]\nname = "root"\nkind = "host"')), ['TSPOD_L_MISSING_KEY']);
    assert.deepEqual(rules(pod('[app.health]\ninterval = "5s"')), ['TSPOD_L_MISSING_KEY']);
  });

  it('hostile files cost one clear diagnostic: huge strings, deep nesting, huge arrays, bad bytes', () => {
    const huge = `name = "${'x'.repeat(100 << 20)}"\n`;
    const t0 = Date.now();
    assert.deepEqual(found(huge), ['TSPOD_L_TOO_LARGE 1:1']);
    const deep = `a = ${'['.repeat(100_000)}${']'.repeat(100_000)}\n`;
    assert.deepEqual(found(deep), ['TSPOD_L_TOO_DEEP 1:69']);
    const deepInline = `a = ${'{b = '.repeat(100_000)}1${'}'.repeat(100_000)}\n`;
    assert.equal(lintPodText(deepInline).length, 1);
    const brackets = `a = "${'['.repeat(100)}"\n# ${'{'.repeat(100)}\nb = '''${'['.repeat(100)}'''\n`;
    assert.ok(!found(brackets).some((r) => r.startsWith('TSPOD_L_TOO_DEEP')), 'brackets in strings and comments do not nest');
    const wide = `a = [${'1,'.repeat(400_000)}1]\n`;
    assert.deepEqual(found(wide), ['TSPOD_L_TOO_MANY_VALUES 1:1']);
    assert.ok(Date.now() - t0 < 60_000, 'bounded');
    const many = `apiVersion = "tspod/v1"\nkind = "Pod"\nname = "m"\n${Array.from({ length: 3000 }, (_, i) => `k${i} = 1`).join('\n')}\n[[app]]\nname = "a"\nimage = "sha512-0"\n`;
    const d = lintPodText(many);
    assert.equal(d.filter((x) => x.rule === 'TSPOD_L_UNKNOWN_KEY').length, 1000);
    assert.ok(d.some((x) => x.rule === 'TSPOD_L_TOO_MANY_DIAGNOSTICS'));
    assert.deepEqual(found('apiVersion = "tspod/v1"\nkind = "Pod" x\n'), ['TSPOD_L_SYNTAX 2:14']);
    const bad = join(dir, 'latin1.toml');
    writeFileSync(bad, Buffer.concat([Buffer.from('apiVersion = "tspod/v1"\nname = "'), Buffer.from([0xe9]), Buffer.from('"\n')]));
    const r = lintCli([bad]);
    assert.equal(r.status, 1);
    assert.match(r.stdout, /latin1\.toml:2:1: error TSPOD_L_ENCODING/);
  });

  it('the core is reused without growing: the same file linted 3000 times gives the same result', () => {
    const text = readFileSync(join(invalidDir, 'values.toml'), 'utf8');
    const first = JSON.stringify(lintPodText(text));
    for (let i = 0; i < 3000; i++) lintPodText(text);
    assert.equal(JSON.stringify(lintPodText(text)), first);
  });

  it('CLI: text lines, exit 0 clean / 1 errors / 2 usage / 254 unreadable; directories recurse', () => {
    const clean = lintCli([join(manifests, 'examples', 'web.toml')]);
    assert.equal(clean.status, 0, clean.stderr);
    assert.equal(clean.stdout, '');
    const infoOnly = lintCli([join(manifests, 'hello.toml')]);
    assert.equal(infoOnly.status, 0);
    assert.match(infoOnly.stdout, /^.*hello\.toml:14:9: info TSPOD_L_UNPINNED_IMAGE /);
    const bad = lintCli([invalidDir]);
    assert.equal(bad.status, 1);
    const lines = bad.stdout.trim().split('\n');
    const expectedCount = invalidFiles.reduce((n, f) => n + expectations(readFileSync(f, 'utf8')).length, 0);
    assert.equal(lines.length, expectedCount);
    for (const l of lines) assert.match(l, /^\S+\.toml:\d+:\d+: (error|warning|info) TSPOD_L_[A-Z_]+ \S/);
    assert.match(bad.stderr, /errors, \d+ warnings, \d+ infos in 3 files/);
    assert.equal(lintCli([]).status, 2);
    assert.equal(lintCli(['--format', 'xml', 'x.toml']).status, 2);
    const missing = lintCli([join(dir, 'nope.toml')]);
    assert.equal(missing.status, 254);
    assert.match(missing.stderr, /TSPOD_E_IO/);
  });

  it('CLI: JSON has the documented shape', () => {
    const r = lintCli(['--format', 'json', join(invalidDir, 'references.toml'), join(manifests, 'examples', 'web.toml')]);
    assert.equal(r.status, 1);
    const out = JSON.parse(r.stdout) as { version: number; files: Array<{ path: string; diagnostics: Array<Record<string, unknown>> }>; summary: Record<string, number> };
    assert.equal(out.version, 1);
    assert.equal(out.files.length, 2);
    assert.deepEqual(out.files[1]!.diagnostics, []);
    const d = out.files[0]!.diagnostics[0]!;
    assert.deepEqual(Object.keys(d).sort(), ['message', 'range', 'rule', 'severity']);
    assert.deepEqual(d['range'], { start: { line: 14, column: 10 }, end: { line: 14, column: 16 } });
    assert.deepEqual(out.summary, { errors: 7, warnings: 1, infos: 0 });
  });

  it('CLI: SARIF 2.1.0 validates against the OASIS schema, 1-based, one rule entry per rule used', () => {
    const r = lintCli(['--format', 'sarif', invalidDir, join(manifests, 'hello.toml')]);
    assert.equal(r.status, 1);
    const log = JSON.parse(r.stdout);
    const Ajv = require('ajv-draft-04');
    const schema = require('@microsoft/jest-sarif/lib/schemas/sarif-2.1.0-rtm.5.json');
    const validate = new Ajv({ allErrors: true, strict: false, unicodeRegExp: false, validateFormats: false, logger: false }).compile(schema);
    assert.ok(validate(log), JSON.stringify(validate.errors));
    const run = log.runs[0];
    assert.equal(run.columnKind, 'utf16CodeUnits');
    const ids = run.tool.driver.rules.map((x: { id: string }) => x.id);
    assert.equal(new Set(ids).size, ids.length);
    for (const res of run.results) {
      assert.equal(ids[res.ruleIndex], res.ruleId);
      assert.ok(res.locations[0].physicalLocation.region.startLine >= 1 && res.locations[0].physicalLocation.region.startColumn >= 1);
    }
    assert.ok(run.results.some((x: { level: string }) => x.level === 'note'), 'infos are notes');
  });

  it('the JSON Schema in manifests/ agrees with the core on every fixture', () => {
    const Ajv = require('ajv');
    const schema = JSON.parse(readFileSync(join(manifests, 'pod.schema.json'), 'utf8'));
    const validate = new Ajv({ allErrors: true, strict: false }).compile(schema);
    // The rules a JSON Schema can express; the others (references, formats) are the core's alone.
    const schemaRules = new Set(['TSPOD_L_UNKNOWN_KEY', 'TSPOD_L_MISSING_KEY', 'TSPOD_L_WRONG_TYPE', 'TSPOD_L_BAD_VALUE', 'TSPOD_L_TOO_FEW']);
    const rangeRule = /is -?\d+; it must be from/;
    const verdicts: boolean[] = [];
    for (const f of [...validFiles, ...invalidFiles]) {
      const text = readFileSync(f, 'utf8');
      const value = JSON.parse(JSON.stringify(getStaticTOMLValue(parseTOML(text)), (_k, v) => (typeof v === 'bigint' ? Number(v) : v)));
      const coreSaysInvalid = lintPodText(text).some((d) => schemaRules.has(d.rule) || (d.rule === 'TSPOD_L_OUT_OF_RANGE' && rangeRule.test(d.message)));
      const schemaSaysValid = validate(value) as boolean;
      assert.equal(schemaSaysValid, !coreSaysInvalid, `${f}: ${JSON.stringify(validate.errors)}`);
      verdicts.push(schemaSaysValid);
    }
    assert.ok(verdicts.includes(true) && verdicts.includes(false), 'the fixtures include both verdicts');
  });
});

describe('lint of JSON documents with the same core: appc manifests, OCI image configs', () => {
  let dir: string;
  before(() => {
    dir = mkdtempSync(join(tmpdir(), 'tspod-lint-json-'));
  });
  after(() => rmSync(dir, { recursive: true, force: true }));

  const rulesAt = (text: string) => lintJsonText(text).map((d) => `${d.rule} ${d.range.start.line}:${d.range.start.column}`);

  it('an appc image manifest: the bundled one is clean, a broken one is explained field by field', () => {
    assert.deepEqual(lintJsonText(readFileSync(join(repo, 'images', 'hello', 'manifest'), 'utf8')), []);
    const broken = [
      '{',
      '  "acKind": "ImageManifest",',
      '  "acVersion": "0.8",',
      '  "name": "Example.com/App",',
      '  "labels": [{ "name": "version", "value": 1 }],',
      '  "app": {',
      '    "exec": [],',
      '    "user": "0",',
      '    "ports": [{ "name": "http", "protocol": "sctp", "port": 70000 }],',
      '    "isolators": [{ "name": "os/linux/no-new-privileges", "value": true }]',
      '  },',
      '  "dependencies": [{ "imageName": "example.com/base", "imageID": "sha512-XYZ" }],',
      '  "annotations": null',
      '}',
    ].join('\n');
    assert.deepEqual(rulesAt(broken), [
      'TSPOD_L_BAD_VERSION 3:16', 'TSPOD_L_BAD_NAME 4:11', 'TSPOD_L_WRONG_TYPE 5:44', 'TSPOD_L_MISSING_KEY 6:3',
      'TSPOD_L_TOO_FEW 7:13', 'TSPOD_L_BAD_VALUE 9:45', 'TSPOD_L_OUT_OF_RANGE 9:61', 'TSPOD_L_BAD_DIGEST 12:66',
    ]);
  });

  it('an appc pod manifest written by `tspod pod convert` is clean; a broken one is not', () => {
    for (const f of validFiles) {
      const out = join(dir, 'pod.json');
      const r = spawnSync(process.execPath, [tspod, 'pod', 'convert', f, '-o', out], { encoding: 'utf8' });
      assert.equal(r.status, 0, r.stderr);
      assert.deepEqual(lintJsonText(readFileSync(out, 'utf8')), [], f);
    }
    const broken = '{"acKind": "PodManifest", "acVersion": "0.8.11", "apps": [{"name": "a", "image": {"id": "sha512-00"}, "mounts": [{"volume": "v"}]}], "volumes": [{"name": "v", "kind": "nfs"}]}';
    assert.deepEqual(rulesAt(broken).map((x) => x.split(' ')[0]), ['TSPOD_L_MISSING_KEY', 'TSPOD_L_BAD_VALUE']);
  });

  it('an OCI image config made by umoci is clean; bad digests, env entries and rootfs type are not', (t) => {
    if (spawnSync('umoci', ['--version']).status !== 0) {
      t.skip('umoci is not installed (apt-get install umoci)');
      return;
    }
    const layout = join(dir, 'layout');
    assert.equal(spawnSync('umoci', ['init', '--layout', layout]).status, 0);
    assert.equal(spawnSync('umoci', ['new', '--image', `${layout}:t`]).status, 0);
    assert.equal(spawnSync('umoci', ['config', '--image', `${layout}:t`, '--config.env', 'A=1', '--config.cmd', '/bin/sh']).status, 0);
    const index = JSON.parse(readFileSync(join(layout, 'index.json'), 'utf8'));
    const manifest = JSON.parse(readFileSync(join(layout, 'blobs', 'sha256', index.manifests[0].digest.slice(7)), 'utf8'));
    const config = readFileSync(join(layout, 'blobs', 'sha256', manifest.config.digest.slice(7)), 'utf8');
    assert.deepEqual(lintJsonText(config), []);
    const value = JSON.parse(config);
    value.rootfs = { type: 'tar', diff_ids: ['sha256:abc'] };
    value.config.Env = ['A=1', 'JUSTANAME'];
    const rules = lintJsonText(JSON.stringify(value, null, 2)).map((d) => d.rule).sort();
    assert.deepEqual(rules, ['TSPOD_L_BAD_DIGEST', 'TSPOD_L_BAD_VALUE', 'TSPOD_L_BAD_VALUE']);
  });

  it('unknown JSON, syntax errors and null follow Go: explained, positioned, null is absent', () => {
    assert.deepEqual(rulesAt('{"hello": 1}'), ['TSPOD_L_UNKNOWN_DOCUMENT 1:1']);
    assert.deepEqual(rulesAt('{"acKind": "ImageManifest",\n  "name": x}'), ['TSPOD_L_SYNTAX 2:11']);
    assert.deepEqual(rulesAt(`${'['.repeat(100_000)}`), ['TSPOD_L_TOO_DEEP 1:65']);
    assert.deepEqual(rulesAt('{"acKind": "ImageManifest", "acVersion": "0.8.11", "name": null}'), ['TSPOD_L_MISSING_KEY 1:1']);
  });
});
