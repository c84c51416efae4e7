// The kernel-level guard under the extractor: directories are opened beneath the root without
// following any symlink, with openat2 and with the per-component fallback alike. The tree writer
// refuses such paths earlier from its own bookkeeping; this checks the guard that remains when
// that bookkeeping is wrong or the tree already held links.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdirSync, symlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { removeDir, tempDir } from './helpers/cli.js';

const MODES = [['openat2', '0'], ['per-component fallback', '1']] as const;

function probe(root: string, rel: string, noOpenat2: string): number {
  // A child process, because the openat2 choice is made once per process.
  const script = `
    import { DirResolver } from ${JSON.stringify(new URL('../host/src/extract/dir-resolver.js', import.meta.url).href)};
    import { openSync, constants } from 'node:fs';
    const fd = openSync(process.argv[1], constants.O_RDONLY | constants.O_DIRECTORY);
    process.stdout.write(String(new DirResolver(fd).open(process.argv[2])));`;
  const r = spawnSync(process.execPath, ['--input-type=module', '-e', script, root, rel], {
    encoding: 'utf8', env: { ...process.env, TSPOD_NO_OPENAT2: noOpenat2 },
  });
  assert.equal(r.status, 0, r.stderr);
  return Number(r.stdout);
}

describe('DirResolver', () => {
  let root = '';
  let outside = '';
  before(() => {
    const base = tempDir('resolver');
    root = join(base, 'root');
    outside = join(base, 'outside');
    mkdirSync(join(root, 'a/b/c'), { recursive: true });
    mkdirSync(outside);
    symlinkSync(outside, join(root, 'abs-out'));
    symlinkSync('../outside', join(root, 'rel-out'));
    symlinkSync('b', join(root, 'a/inside-link'));
    symlinkSync('loop2', join(root, 'loop1'));
    symlinkSync('loop1', join(root, 'loop2'));
    writeFileSync(join(root, 'file'), 'x');
  });
  after(() => removeDir(join(root, '..')));

  for (const [mode, flag] of MODES) {
    test(`${mode}: plain directories open`, () => {
      assert.ok(probe(root, 'a/b/c', flag) >= 0);
      assert.ok(probe(root, 'a', flag) >= 0);
      assert.ok(probe(root, '.', flag) >= 0);
    });
    test(`${mode}: a symlink anywhere on the path is refused, even one that stays inside`, () => {
      for (const rel of ['abs-out', 'rel-out', 'abs-out/x', 'a/inside-link', 'a/inside-link/c', 'loop1', 'loop1/x']) {
        const r = probe(root, rel, flag);
        assert.ok(r === -40 || r === -20, `${rel} gave ${r}, want ELOOP or ENOTDIR`);
      }
    });
    test(`${mode}: .. and files are refused`, () => {
      assert.ok(probe(root, 'a/../..', flag) < 0);
      assert.equal(probe(root, 'file', flag), -20);
      assert.equal(probe(root, 'missing', flag), -2);
    });
  }

});
