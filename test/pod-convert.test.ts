// `tspod pod convert`: the TOML pod file ⇄ appc pod manifest JSON, through the real CLI.
// actool (Debian appc-spec) is the outside judge of the JSON; the round trip
// TOML → JSON → TOML → JSON must be stable, which is what makes the conversion lossless for tspod.
import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { getStaticTOMLValue, parseTOML } from 'toml-eslint-parser';

const TSPOD = new URL('../../bin/tspod.js', import.meta.url).pathname;
const REPO = new URL('../..', import.meta.url).pathname;
const FIXTURES = join(REPO, 'test', 'fixtures', 'pod-convert');
const ACTOOL = '/usr/bin/actool';
const EXAMPLES = { hello: join(REPO, 'manifests', 'hello.toml'), web: join(REPO, 'manifests', 'examples', 'web.toml') };

const work = mkdtempSync(join(tmpdir(), 'tspod-pod-convert-'));
after(() => rmSync(work, { recursive: true, force: true }));

function convert(args: string[]): { status: number | null; stdout: string; stderr: string } {
  const r = spawnSync(process.execPath, [TSPOD, 'pod', 'convert', ...args], { encoding: 'utf8' });
  return { status: r.status, stdout: r.stdout, stderr: r.stderr };
}

/** Converts and insists it worked, so a failing step shows tspod's own message. */
function convertOk(args: string[]): string {
  const r = convert(args);
  assert.equal(r.status, 0, r.stderr);
  return r.stdout;
}

for (const [name, file] of Object.entries(EXAMPLES)) {
  test(`${name}: the appc JSON passes actool validate`, { skip: existsSync(ACTOOL) ? false : `${ACTOOL} is missing (apt-get install appc-spec)` }, () => {
    const out = join(work, `${name}.actool.json`);
    convertOk(['-o', out, file]);
    const r = spawnSync(ACTOOL, ['validate', out], { encoding: 'utf8' });
    assert.equal(r.status, 0, `actool validate ${out}: ${r.stdout}${r.stderr}`);
  });

  test(`${name}: TOML → JSON → TOML → JSON gives the same JSON`, () => {
    const json1 = join(work, `${name}.1.json`);
    const toml = join(work, `${name}.2.toml`);
    convertOk(['-o', json1, file]);
    convertOk(['-o', toml, json1]);
    const json2 = convertOk(['--to', 'json', toml]);
    assert.deepEqual(JSON.parse(json2), JSON.parse(readFileSync(json1, 'utf8')));
    const back = getStaticTOMLValue(parseTOML(readFileSync(toml, 'utf8'))) as Record<string, unknown>;
    assert.equal(back['apiVersion'], 'tspod/v1');
    assert.equal(back['name'], name);
  });
}

test('web: fields appc lacks travel as tspod.dev/ annotations, and come back', () => {
  const manifest = JSON.parse(convertOk([EXAMPLES.web])) as { annotations: { name: string; value: string }[] };
  const names = manifest.annotations.map((a) => a.name);
  for (const n of ['tspod.dev/name', 'tspod.dev/restart', 'tspod.dev/network', 'tspod.dev/volume/cache', 'tspod.dev/port/http']) assert.ok(names.includes(n), n);
  const original = getStaticTOMLValue(parseTOML(readFileSync(EXAMPLES.web, 'utf8'))) as Record<string, unknown>;
  const json = join(work, 'web.fields.json');
  convertOk(['-o', json, EXAMPLES.web]);
  const back = getStaticTOMLValue(parseTOML(convertOk([json]))) as Record<string, unknown>;
  for (const k of ['restart', 'network', 'hosts', 'volume', 'port', 'labels']) assert.deepEqual(back[k], original[k], k);
});

test('a docker-style image reference warns on stderr', () => {
  const r = convert([EXAMPLES.web]);
  assert.equal(r.status, 0, r.stderr);
  assert.match(r.stderr, /warning: .*image "example\.com\/httpd@sha256:/);
});

test('JSON → TOML without a name asks for --name (usage error)', () => {
  const json = join(work, 'noname.json');
  const m = JSON.parse(convertOk([EXAMPLES.hello])) as { annotations: unknown[] };
  m.annotations = [];
  writeFileSync(json, JSON.stringify(m));
  const r = convert([json]);
  assert.equal(r.status, 2);
  assert.match(r.stderr, /--name/);
  const named = getStaticTOMLValue(parseTOML(convertOk(['--name', 'other', json]))) as Record<string, unknown>;
  assert.equal(named['name'], 'other');
});

const BAD_INPUTS = {
  'a TOML syntax error': join(FIXTURES, 'syntax-error.toml'),
  'an ImageManifest': join(FIXTURES, 'image-manifest.json'),
  'a missing file': join(FIXTURES, 'does-not-exist.toml'),
  'a pod file the linter refuses': join(REPO, 'manifests', 'examples', 'invalid', 'references.toml'),
};

for (const [what, file] of Object.entries(BAD_INPUTS)) {
  test(`${what} fails with 254, names the file and writes nothing`, () => {
    const outDir = mkdtempSync(join(work, 'bad-'));
    const out = join(outDir, 'out');
    const r = convert(['-o', out, file]);
    assert.equal(r.status, 254, r.stderr);
    assert.ok(r.stderr.includes(file), r.stderr);
    assert.equal(r.stdout, '');
    assert.deepEqual(readdirSync(outDir), [], 'no output and no temporary file');
  });
}

test('a pod file with lint errors is refused with the first error and a pointer to tspod lint', () => {
  const file = join(REPO, 'manifests', 'examples', 'invalid', 'references.toml');
  const r = convert([file]);
  assert.equal(r.status, 254);
  assert.match(r.stderr, /references\.toml:14:10: TSPOD_L_SELF_REFERENCE .*\(and \d+ more\)/);
  assert.match(r.stderr, /TSPOD_E_CONFIG.*tspod lint/s);
});
