// Safe extraction compared with GNU tar on a real rootfs, in every tar format GNU tar writes,
// plain and gzip, with and without writer threads and openat2.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { REPO, needsRoot, removeDir, sh, tempDir, tspod } from './helpers/cli.js';
import { buildRootfs } from './helpers/rootfs.js';

function snapshot(dir: string): Record<string, unknown> {
  const out = sh('python3', [join(REPO, 'test/helpers/tree-snapshot.py'), dir]);
  return JSON.parse(out) as Record<string, unknown>;
}

function gnuExtract(archive: string, dir: string): void {
  sh('mkdir', [dir]);
  sh('tar', ['--xattrs', '--xattrs-include=*', '--numeric-owner', '--same-permissions', '-xf', archive, '-C', dir]);
}

function assertSameTree(actual: string, expected: string): void {
  const a = snapshot(actual);
  const e = snapshot(expected);
  assert.deepEqual(Object.keys(a), Object.keys(e), 'same set of paths');
  for (const path of Object.keys(e)) assert.deepEqual(a[path], e[path], `node ${path}`);
}

describe('extract matches GNU tar on a busybox rootfs', { skip: needsRoot }, () => {
  let work = '';
  const archives: Record<string, string> = {};

  before(() => {
    work = tempDir('extract');
    const src = join(work, 'src');
    sh('mkdir', [src]);
    buildRootfs(src);
    for (const format of ['gnu', 'posix']) {
      const a = join(work, `rootfs-${format}.tar`);
      sh('tar', [`--format=${format}`, '--xattrs', '--xattrs-include=*', '--numeric-owner', '-cf', a, '-C', src, '.']);
      archives[format] = a;
    }
    sh('sh', ['-c', `gzip -c ${archives['posix']} > ${join(work, 'rootfs-posix.tar.gz')}`]);
    archives['posix.gz'] = join(work, 'rootfs-posix.tar.gz');
    sh('sh', ['-c', `xz -T1 -0 -c ${archives['gnu']} > ${join(work, 'rootfs-gnu.tar.xz')}`]);
    archives['gnu.xz'] = join(work, 'rootfs-gnu.tar.xz');
    sh('sh', ['-c', `bzip2 -1 -c ${archives['gnu']} > ${join(work, 'rootfs-gnu.tar.bz2')}`]);
    archives['gnu.bz2'] = join(work, 'rootfs-gnu.tar.bz2');
  });
  after(() => removeDir(work));

  const cases: Array<[string, string, string[], NodeJS.ProcessEnv]> = [
    ['gnu format, writer threads', 'gnu', [], {}],
    ['posix format with xattrs and ns mtimes', 'posix', [], {}],
    ['gzip-compressed posix', 'posix.gz', [], {}],
    ['xz-compressed gnu (through xz -dc)', 'gnu.xz', [], {}],
    ['bzip2-compressed gnu (through bzip2 -dc)', 'gnu.bz2', [], {}],
    ['no writer threads', 'gnu', ['--writers', '0'], {}],
    ['without openat2 (per-component fallback)', 'posix', [], { TSPOD_NO_OPENAT2: '1' }],
  ];
  for (const [name, format, flags, env] of cases) {
    test(name, () => {
      const archive = archives[format]!;
      const mine = join(work, `out-${name.replace(/\W+/g, '-')}`);
      const gnu = `${mine}-gnu`;
      const r = tspod(['util', 'extract', ...flags, archive, mine], { env });
      assert.equal(r.status, 0, r.stderr);
      gnuExtract(archive, gnu);
      assertSameTree(mine, gnu);
      removeDir(mine);
      removeDir(gnu);
    });
  }

  test('a large file spans many chunks and keeps its hard link', () => {
    const mine = join(work, 'out-large');
    assert.equal(tspod(['util', 'extract', archives['gnu']!, mine]).status, 0);
    const s = snapshot(mine) as Record<string, { sha256?: string; inode_group?: string }>;
    assert.equal(s['usr/lib/large-hardlink.bin']!.inode_group, 'usr/lib/large-hardlink.bin');
    assert.equal(s['usr/lib/large.bin']!.inode_group, 'usr/lib/large-hardlink.bin');
    assert.equal(s['usr/lib/large.bin']!.sha256, s['usr/lib/large-hardlink.bin']!.sha256);
    removeDir(mine);
  });

  test('the extracted busybox runs in a chroot', () => {
    const mine = join(work, 'out-chroot');
    assert.equal(tspod(['util', 'extract', archives['posix.gz']!, mine]).status, 0);
    const r = spawnSync('chroot', [mine, '/bin/sh', '-c', 'echo hello from $(cat /etc/hostname)'], { encoding: 'utf8' });
    assert.equal(r.stdout, 'hello from tspod-test\n', r.stderr);
    removeDir(mine);
  });

  test('--digest hashes the decompressed stream in the same pass', () => {
    const mine = join(work, 'out-digest');
    const r = tspod(['util', 'extract', '--digest', 'sha512', archives['posix.gz']!, mine]);
    assert.equal(r.status, 0, r.stderr);
    const expected = sh('sha512sum', [archives['posix']!]).split(' ')[0];
    assert.equal(r.stdout.trim(), `sha512-${expected}`);
    removeDir(mine);
  });

  test('reads the archive from stdin', () => {
    const mine = join(work, 'out-stdin');
    const r = spawnSync(process.execPath, [join(REPO, 'bin/tspod.js'), 'util', 'extract', '-', mine], {
      input: readFileSync(archives['gnu']!), encoding: 'utf8',
    });
    assert.equal(r.status, 0, r.stderr);
    assert.ok(existsSync(join(mine, 'bin/busybox')));
    removeDir(mine);
  });

  test('an empty existing directory is replaced, a non-empty one refused with 254', () => {
    const empty = join(work, 'empty-target');
    sh('mkdir', [empty]);
    assert.equal(tspod(['util', 'extract', archives['gnu']!, empty]).status, 0);
    const r = tspod(['util', 'extract', archives['gnu']!, empty]);
    assert.equal(r.status, 254);
    assert.match(r.stderr, /TSPOD_E_EXISTS/);
    removeDir(empty);
    assert.deepEqual(readdirSync(work).filter((n) => n.includes('.tspod-')), [], 'no staging dirs left');
  });
});

test('usage errors exit 2', () => {
  const r = tspod(['util', 'extract', 'only-one-arg']);
  assert.equal(r.status, 2);
  assert.match(r.stderr, /TSPOD_E_USAGE/);
  assert.equal(tspod(['util', 'extract', '--max-entries', 'many', 'a', 'b']).status, 2);
});

test('a missing archive is a clear 254 error', () => {
  const dir = tempDir('missing');
  const r = tspod(['util', 'extract', join(dir, 'nope.tar'), join(dir, 'out')]);
  assert.equal(r.status, 254);
  assert.match(r.stderr, /read archive .*nope\.tar: open: ENOENT/);
  assert.deepEqual(readdirSync(dir), []);
  removeDir(dir);
});
