// The CLI edge: help, usage errors and their exit codes, version output, and lazy loading.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { REPO, tspod } from './helpers/cli.js';

test('--help lists the commands and exits 0', () => {
  const r = tspod(['--help']);
  assert.equal(r.status, 0);
  assert.match(r.stdout, /Usage: tspod/);
  assert.match(r.stdout, /version/);
  assert.match(r.stdout, /util/);
});

test('no command prints help to stderr and exits 2', () => {
  const r = tspod([]);
  assert.equal(r.status, 2);
  assert.match(r.stderr, /Usage: tspod/);
});

test('unknown commands and global flags are usage errors (2)', () => {
  for (const args of [['frob'], ['--bogus', 'version'], ['--dir'], ['--insecure-options', 'bogus', 'version']]) {
    const r = tspod(args);
    assert.equal(r.status, 2, args.join(' '));
    assert.match(r.stderr, /^tspod: command line: .*\n {2}\(TSPOD_E_USAGE\) run `tspod --help` for usage\n$/);
  }
  const sub = tspod(['util', 'frob']);
  assert.equal(sub.status, 2);
  assert.match(sub.stderr, /^tspod: util: unknown subcommand "frob"/);
});

test('version prints tspod, core and Node versions and features', () => {
  const text = tspod(['version']);
  assert.equal(text.status, 0);
  assert.match(text.stdout, /^tspod Version: \d+\.\d+\.\d+\ncore Version: 1\nNode Version: v\d+/);
  assert.match(text.stdout, /Features: .*[+-]WASM_CORE .*[+-]OPENAT2/);
  const json = JSON.parse(tspod(['version', '--format', 'json']).stdout) as Record<string, unknown>;
  assert.equal(json['core'], 1);
  assert.equal(json['node'], process.version);
  assert.equal(tspod(['version', '--format', 'yaml']).status, 2);
});

test('--dir and TSPOD_DIR are accepted before the command', () => {
  assert.equal(tspod(['--dir', '/tmp/x', 'version']).status, 0);
  assert.equal(tspod(['--dir=/tmp/x', '--debug', 'version']).status, 0);
});

test('--help loads no heavy module (koffi, openpgp)', () => {
  const script = `
    import { createRequire } from 'node:module';
    const { main } = await import(${JSON.stringify(`${REPO}/dist/host/src/cli/main.js`)});
    const out = process.stdout.write.bind(process.stdout);
    process.stdout.write = () => true;
    await main(['--help']);
    process.stdout.write = out;
    const loaded = Object.keys(createRequire(import.meta.url).cache);
    out(JSON.stringify(loaded.filter((p) => /node_modules\\/(koffi|openpgp)\\//.test(p))));`;
  const r = spawnSync(process.execPath, ['--input-type=module', '-e', script], { encoding: 'utf8' });
  assert.equal(r.status, 0, r.stderr);
  assert.deepEqual(JSON.parse(r.stdout), []);
});
