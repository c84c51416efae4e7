// Layers rendered alone in overlayfs lower-dir format (how the store keeps Docker/OCI layers),
// checked through a real overlay mount: whiteouts hide, opaque directories hide what is below.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { lstatSync, mkdirSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { REPO, needsRoot, removeDir, sh, tempDir } from './helpers/cli.js';
import { renderLayerDir } from '../host/src/oci/layer.js';

function makeTar(out: string, entries: unknown[]): string {
  const r = spawnSync('python3', [join(REPO, 'test/helpers/make-tar.py'), out, 'pax'], { input: JSON.stringify(entries), encoding: 'utf8' });
  assert.equal(r.status, 0, r.stderr);
  return out;
}

describe('layers as overlayfs lower dirs', { skip: needsRoot }, () => {
  let work = '';
  let merged = '';
  before(() => {
    work = tempDir('layer-dir');
    merged = join(work, 'merged');
    mkdirSync(merged);
  });
  after(() => {
    spawnSync('umount', [merged]);
    removeDir(work);
  });

  test('a .wh. name becomes a 0/0 device, .wh..wh..opq an opaque dir; the mount shows the image', async () => {
    const base = makeTar(join(work, 'base.tar'), [
      { name: 'data', type: 'dir' }, { name: 'data/old', data: 'old' }, { name: 'gone', data: 'x' }, { name: 'kept', data: 'k' },
    ]);
    const top = makeTar(join(work, 'top.tar'), [
      { name: 'data', type: 'dir' }, { name: 'data/.wh..wh..opq', data: '' }, { name: 'data/new', data: 'new' }, { name: '.wh.gone', data: '' },
    ]);
    const lower = join(work, 'lower');
    const upper = join(work, 'upper');
    assert.ok((await renderLayerDir(base, lower)).isOk());
    const r = await renderLayerDir(top, upper);
    assert.ok(r.isOk(), r.isErr() ? r.error.why : '');
    const wh = lstatSync(join(upper, 'gone'));
    assert.ok(wh.isCharacterDevice() && wh.rdev === 0, 'whiteout device');
    assert.equal(sh('getfattr', ['--only-values', '-n', 'trusted.overlay.opaque', join(upper, 'data')]), 'y');
    sh('mount', ['-t', 'overlay', 'overlay', '-o', `lowerdir=${upper}:${lower}`, merged]);
    try {
      assert.deepEqual(readdirSync(merged).sort(), ['data', 'kept']);
      assert.deepEqual(readdirSync(join(merged, 'data')), ['new']);
      assert.equal(readFileSync(join(merged, 'data', 'new'), 'utf8'), 'new');
    } finally {
      sh('umount', [merged]);
    }
  });

  test('a directory a layer needs but does not list takes its attributes from the layers below', async () => {
    const base = makeTar(join(work, 'base2.tar'), [{ name: 'etc', type: 'dir', mode: 0o700, uid: 5, gid: 6 }, { name: 'etc/a', data: 'a' }]);
    const top = makeTar(join(work, 'top2.tar'), [{ name: 'etc/b', data: 'b' }]);
    const lower = join(work, 'lower2');
    const upper = join(work, 'upper2');
    assert.ok((await renderLayerDir(base, lower)).isOk());
    assert.ok((await renderLayerDir(top, upper, { lowerDirs: [lower] })).isOk());
    const below = lstatSync(join(lower, 'etc'));
    const made = lstatSync(join(upper, 'etc'));
    assert.deepEqual([made.mode & 0o7777, made.uid, made.gid, made.mtimeMs], [0o700, 5, 6, below.mtimeMs]);
    const root = lstatSync(upper);
    assert.equal(root.mode & 0o7777, lstatSync(lower).mode & 0o7777);
    sh('mount', ['-t', 'overlay', 'overlay', '-o', `lowerdir=${upper}:${lower}`, merged]);
    try {
      const m = lstatSync(join(merged, 'etc'));
      assert.deepEqual([m.mode & 0o7777, m.uid], [0o700, 5], 'the mount shows the base layer\'s directory');
      assert.deepEqual(readdirSync(join(merged, 'etc')).sort(), ['a', 'b']);
    } finally {
      sh('umount', [merged]);
    }
  });

  test('a wrong DiffID leaves no directory behind', async () => {
    const layer = makeTar(join(work, 'one.tar'), [{ name: 'f', data: 'x' }]);
    const dir = join(work, 'bad');
    const r = await renderLayerDir(layer, dir, { diffId: `sha256:${'0'.repeat(64)}` });
    assert.ok(r.isErr());
    assert.match(r.error.why, /DiffID/);
    assert.deepEqual(readdirSync(work).filter((n) => n.startsWith('bad')), []);
  });
});
