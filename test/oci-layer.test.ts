// OCI layers applied over one another with whiteouts, compared with umoci's own unpack of the same
// image (built with umoci: repack writes `.wh.` whiteouts, insert --opaque writes `.wh..wh..opq`);
// hostile whiteouts that would reach outside the rootfs; DiffID and digest checks.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import {
  copyFileSync, existsSync, linkSync, lstatSync, mkdirSync, readdirSync, readFileSync, rmSync, symlinkSync, writeFileSync,
} from 'node:fs';
import { join } from 'node:path';
import { REPO, needsRoot, removeDir, sh, tempDir } from './helpers/cli.js';
import { applyLayer, routeLayerEntry } from '../host/src/oci/layer.js';
import { blobPath, parseDigest, verifyBlobFile } from '../host/src/oci/digest.js';
import { ErrorCodes } from '../host/src/errors.js';
import type { TarEntry } from '../host/src/core/tar.js';

interface Descriptor {
  mediaType: string;
  digest: string;
  size: number;
}

interface ImageLayers {
  layers: Descriptor[];
  diffIds: string[];
}

interface Entry {
  name: string;
  type?: 'file' | 'dir' | 'symlink' | 'hardlink' | 'char' | 'block' | 'fifo';
  data?: string;
  linkname?: string;
  mode?: number;
}

function makeLayerTar(out: string, entries: Entry[]): string {
  const r = spawnSync('python3', [join(REPO, 'test/helpers/make-tar.py'), out, 'pax'], { input: JSON.stringify(entries), encoding: 'utf8' });
  assert.equal(r.status, 0, r.stderr);
  return out;
}

const hasTool = (cmd: string, args: string[]): boolean => spawnSync(cmd, args, { stdio: 'ignore' }).status === 0;
const missingTools = ['umoci', 'python3', 'zstd'].filter((t) => !hasTool(t, ['--version']));
const skip = needsRoot || (missingTools.length > 0 ? `needs ${missingTools.join(', ')}` : false);

function snapshot(dir: string): Record<string, unknown> {
  // '.': the root directory's mtime is not the image's (mkdtemp vs umoci's bundle); every other field is compared.
  return JSON.parse(sh('python3', [join(REPO, 'test/helpers/tree-snapshot.py'), dir, '.'])) as Record<string, unknown>;
}

function assertSameTree(actual: string, expected: string): void {
  const a = snapshot(actual);
  const e = snapshot(expected);
  assert.deepEqual(Object.keys(a), Object.keys(e), 'same set of paths');
  for (const path of Object.keys(e)) assert.deepEqual(a[path], e[path], `node ${path}`);
}

function readBlobJson(layout: string, digest: string): Record<string, unknown> {
  return JSON.parse(readFileSync(blobPath(layout, digest)._unsafeUnwrap(), 'utf8')) as Record<string, unknown>;
}

function imageLayers(layout: string): ImageLayers {
  const index = JSON.parse(readFileSync(join(layout, 'index.json'), 'utf8')) as { manifests: Descriptor[] };
  assert.equal(index.manifests.length, 1);
  const manifest = readBlobJson(layout, index.manifests[0]!.digest) as { config: Descriptor; layers: Descriptor[] };
  const config = readBlobJson(layout, manifest.config.digest) as { rootfs: { diff_ids: string[] } };
  assert.equal(manifest.layers.length, config.rootfs.diff_ids.length);
  return { layers: manifest.layers, diffIds: config.rootfs.diff_ids };
}

describe('OCI layers with whiteouts match umoci unpack', { skip }, () => {
  let work = '';
  let layout = '';
  let image: ImageLayers = { layers: [], diffIds: [] };

  before(() => {
    work = tempDir('oci-layer');
    layout = join(work, 'L');
    const ref = `${layout}:t`;
    sh('umoci', ['init', '--layout', layout]);
    sh('umoci', ['new', '--image', ref]);
    // Layer 1: a busybox-static base with links, a fifo, a setuid file and some trees to remove later.
    const b1 = join(work, 'B1');
    sh('umoci', ['unpack', '--image', ref, b1]);
    const r1 = join(b1, 'rootfs');
    for (const d of ['bin', 'etc/conf.d', 'data/old', 'srv/tree/deep', 'var/run', 'usr/sbin']) mkdirSync(join(r1, d), { recursive: true });
    copyFileSync('/bin/busybox', join(r1, 'bin/busybox'));
    symlinkSync('busybox', join(r1, 'bin/sh'));
    linkSync(join(r1, 'bin/busybox'), join(r1, 'bin/ls'));
    symlinkSync('/bin/busybox', join(r1, 'usr/sbin/init'));
    writeFileSync(join(r1, 'etc/conf.d/a'), 'a\n');
    writeFileSync(join(r1, 'etc/conf.d/b'), 'b\n');
    writeFileSync(join(r1, 'etc/gone'), 'to be deleted\n');
    writeFileSync(join(r1, 'etc/passwd'), 'root:x:0:0:root:/root:/bin/sh\n');
    writeFileSync(join(r1, 'data/keep'), 'lower\n');
    writeFileSync(join(r1, 'data/old/x'), 'x\n');
    writeFileSync(join(r1, 'srv/tree/deep/f'), 'f\n');
    symlinkSync('/etc', join(r1, 'srv/tree/etc-link'));
    writeFileSync(join(r1, 'usr/sbin/su'), 'not really su\n', { mode: 0o4755 });
    sh('chmod', ['4755', join(r1, 'usr/sbin/su')]);
    sh('chown', ['1000:1000', join(r1, 'data/keep')]);
    sh('mkfifo', [join(r1, 'var/run/fifo')]);
    sh('umoci', ['repack', '--image', ref, b1]);
    // Layer 2 (repack): a file deleted, a tree deleted, a directory's content replaced, a symlink turned into a file.
    const b2 = join(work, 'B2');
    sh('umoci', ['unpack', '--image', ref, b2]);
    const r2 = join(b2, 'rootfs');
    rmSync(join(r2, 'etc/gone'));
    rmSync(join(r2, 'srv/tree'), { recursive: true });
    rmSync(join(r2, 'etc/conf.d'), { recursive: true });
    mkdirSync(join(r2, 'etc/conf.d'));
    writeFileSync(join(r2, 'etc/conf.d/c'), 'c\n');
    rmSync(join(r2, 'bin/sh'));
    writeFileSync(join(r2, 'bin/sh'), '#!/bin/busybox sh\n', { mode: 0o755 });
    sh('umoci', ['repack', '--image', ref, b2]);
    // Layer 3: data/ replaced as a whole, its lower content hidden by .wh..wh..opq (written before
    // data/, as umoci insert --opaque does; umoci 0.4.7's insert leaves the last file's padding out,
    // so the tar is made here and added verbatim with umoci raw add-layer).
    const opaque = makeLayerTar(join(work, 'opaque.tar'), [
      { name: 'data/.wh..wh..opq', mode: 0 },
      { name: 'data', type: 'dir', mode: 0o750 },
      { name: 'data/new', data: 'upper\n' },
      { name: 'data/sub', type: 'dir' },
      { name: 'data/sub/s', data: 's\n', mode: 0o600 },
    ]);
    sh('umoci', ['raw', 'add-layer', '--image', ref, opaque]);
    // Layer 4 (insert --whiteout): a lone whiteout of a fifo.
    sh('umoci', ['insert', '--image', ref, '--whiteout', '/var/run/fifo']);
    sh('umoci', ['unpack', '--image', ref, join(work, 'OUT')]);
    image = imageLayers(layout);
  });
  after(() => removeDir(work));

  test('the image has the whiteouts this suite is about', () => {
    assert.equal(image.layers.length, 4);
    const listing = image.layers.map((l) => sh('tar', ['-tzf', blobPath(layout, l.digest)._unsafeUnwrap()]));
    assert.match(listing[1]!, /etc\/\.wh\.gone/);
    assert.match(listing[1]!, /srv\/\.wh\.tree/);
    assert.match(listing[2]!, /data\/\.wh\.\.wh\.\.opq/);
    assert.match(listing[3]!, /var\/run\/\.wh\.fifo/);
  });

  test('every blob verifies against its digest', async () => {
    for (const l of image.layers) {
      const r = await verifyBlobFile(blobPath(layout, l.digest)._unsafeUnwrap(), l.digest);
      assert.ok(r.isOk(), r.isErr() ? r.error.why : '');
    }
  });

  for (const writers of [2, 0]) {
    test(`layers applied in order equal umoci's rootfs (writers: ${writers})`, async () => {
      const rootfs = join(work, `rootfs-w${writers}`);
      mkdirSync(rootfs);
      for (const [i, l] of image.layers.entries()) {
        const r = await applyLayer(blobPath(layout, l.digest)._unsafeUnwrap(), rootfs, { diffId: image.diffIds[i]!, mediaType: l.mediaType, writers });
        assert.ok(r.isOk(), r.isErr() ? `layer ${i}: ${r.error.what}: ${r.error.why}` : '');
        assert.equal(r.value.diffId, image.diffIds[i]);
      }
      assertSameTree(rootfs, join(work, 'OUT', 'rootfs'));
      // Spelled out, so a wrong reference could not hide a wrong result.
      assert.deepEqual(readdirSync(join(rootfs, 'etc/conf.d')), ['c']);
      assert.deepEqual(readdirSync(join(rootfs, 'data')).sort(), ['new', 'sub']);
      assert.ok(!existsSync(join(rootfs, 'etc/gone')));
      assert.deepEqual(readdirSync(join(rootfs, 'srv')), []);
      assert.deepEqual(readdirSync(join(rootfs, 'var/run')), []);
      assert.ok(lstatSync(join(rootfs, 'bin/sh')).isFile());
      assert.ok(lstatSync(join(rootfs, '/etc/passwd')).isFile(), 'the symlink srv/tree/etc-link was removed, not followed');
    });
  }

  test('a zstd layer (media type +zstd) gives the same tree and DiffID', async () => {
    const rootfs = join(work, 'rootfs-zstd');
    mkdirSync(rootfs);
    for (const [i, l] of image.layers.entries()) {
      const zst = join(work, `layer${i}.tar.zst`);
      sh('sh', ['-c', `gzip -dc '${blobPath(layout, l.digest)._unsafeUnwrap()}' | zstd -q -c > '${zst}'`]);
      const r = await applyLayer(zst, rootfs, { diffId: image.diffIds[i]!, mediaType: 'application/vnd.oci.image.layer.v1.tar+zstd' });
      assert.ok(r.isOk(), r.isErr() ? `layer ${i}: ${r.error.why}` : '');
      assert.equal(r.value.compression, 'zstd');
    }
    assertSameTree(rootfs, join(work, 'OUT', 'rootfs'));
  });

  test('a damaged zstd layer fails as damaged', async () => {
    const zst = join(work, 'damaged.tar.zst');
    sh('sh', ['-c', `gzip -dc '${blobPath(layout, image.layers[0]!.digest)._unsafeUnwrap()}' | zstd -q -c > '${zst}'`]);
    const bytes = readFileSync(zst);
    for (let i = 100; i < bytes.length - 100; i += 97) bytes[i] ^= 0x5a;
    writeFileSync(zst, bytes);
    const rootfs = join(work, 'rootfs-damaged');
    mkdirSync(rootfs);
    const r = await applyLayer(zst, rootfs, { mediaType: 'application/vnd.oci.image.layer.v1.tar+zstd' });
    assert.ok(r.isErr());
    assert.ok(([ErrorCodes.DECOMPRESS, ErrorCodes.TAR_CORRUPT] as string[]).includes(r.error.code), `${r.error.code}: ${r.error.why}`);
  });

  test('a DiffID mismatch fails', async () => {
    const rootfs = join(work, 'rootfs-mismatch');
    mkdirSync(rootfs);
    const l = image.layers[0]!;
    const r = await applyLayer(blobPath(layout, l.digest)._unsafeUnwrap(), rootfs, { diffId: image.diffIds[1]!, mediaType: l.mediaType });
    assert.ok(r.isErr());
    assert.equal(r.error.code, ErrorCodes.IMAGE_INVALID);
    assert.match(r.error.why, /DiffID is sha256:[0-9a-f]{64}, not the sha256:[0-9a-f]{64}/);
    assert.ok(r.error.why.includes(image.diffIds[0]!) && r.error.why.includes(image.diffIds[1]!));
  });

  test('a media type that does not match the blob, or an unknown one, is refused', async () => {
    const rootfs = join(work, 'rootfs-mediatype');
    mkdirSync(rootfs);
    const blob = blobPath(layout, image.layers[0]!.digest)._unsafeUnwrap();
    const plain = await applyLayer(blob, rootfs, { mediaType: 'application/vnd.oci.image.layer.v1.tar' });
    assert.ok(plain.isErr());
    assert.equal(plain.error.code, ErrorCodes.IMAGE_INVALID);
    assert.match(plain.error.why, /gzip-compressed but its media type is application\/vnd\.oci\.image\.layer\.v1\.tar/);
    const unknown = await applyLayer(blob, rootfs, { mediaType: 'application/vnd.example.layer+lz4' });
    assert.ok(unknown.isErr());
    assert.equal(unknown.error.code, ErrorCodes.UNSUPPORTED);
    assert.deepEqual(readdirSync(rootfs), [], 'nothing extracted');
  });

  test('a blob that is a symlink is refused', async () => {
    const l = image.layers[0]!;
    const link = join(work, 'blob-link');
    symlinkSync(blobPath(layout, l.digest)._unsafeUnwrap(), link);
    const v = await verifyBlobFile(link, l.digest);
    assert.ok(v.isErr());
    assert.equal(v.error.code, ErrorCodes.IMAGE_INVALID);
    assert.match(v.error.why, /symlink/);
    const rootfs = join(work, 'rootfs-link');
    mkdirSync(rootfs);
    const a = await applyLayer(link, rootfs, { diffId: image.diffIds[0]! });
    assert.ok(a.isErr());
    assert.match(a.error.why, /symlink/);
    assert.deepEqual(readdirSync(rootfs), []);
  });

  test('a blob whose content does not match its digest is refused', async () => {
    const [l0, l1] = [image.layers[0]!, image.layers[1]!];
    const r = await verifyBlobFile(blobPath(layout, l0.digest)._unsafeUnwrap(), l1.digest);
    assert.ok(r.isErr());
    assert.equal(r.error.code, ErrorCodes.IMAGE_INVALID);
    assert.ok(r.error.why.includes(l0.digest) && r.error.why.includes(l1.digest), r.error.why);
  });
});

describe('digests', () => {
  const hex64 = 'a'.repeat(64);
  test('sha256 and sha512 in lowercase hex of the right length are accepted', () => {
    assert.deepEqual(parseDigest(`sha256:${hex64}`)._unsafeUnwrap(), { algorithm: 'sha256', encoded: hex64 });
    assert.deepEqual(parseDigest(`sha512:${'0'.repeat(128)}`)._unsafeUnwrap(), { algorithm: 'sha512', encoded: '0'.repeat(128) });
    assert.equal(blobPath('/l', `sha256:${hex64}`)._unsafeUnwrap(), `/l/blobs/sha256/${hex64}`);
  });

  const bad: Array<[string, RegExp]> = [
    ['sha256:../x', /64 lowercase hex digits; it holds other characters/],
    [`sha256:../../${hex64.slice(6)}`, /other characters/],
    [`sha256:${hex64}/`, /other characters/],
    [`sha256:${'A'.repeat(64)}`, /lowercase/],
    [`sha256:${hex64.slice(1)}`, /64 hex digits, not 63/],
    [`sha256:${hex64}0`, /64 hex digits, not 65/],
    [`sha512:${hex64}`, /128 hex digits, not 64/],
    [`md5:${'a'.repeat(32)}`, /algorithm "md5" is not supported/],
    [`SHA256:${hex64}`, /algorithm "SHA256" is malformed/],
    [`../sha256:${hex64}`, /malformed/],
    [hex64, /algorithm:hex/],
    ['', /algorithm:hex/],
    [`sha256:${hex64}\0`, /other characters/],
  ];
  for (const [input, why] of bad) {
    test(`refuses ${JSON.stringify(input.length > 40 ? `${input.slice(0, 40)}...` : input)}`, () => {
      const r = parseDigest(input);
      assert.ok(r.isErr());
      assert.equal(r.error.code, ErrorCodes.IMAGE_INVALID);
      assert.match(r.error.why, why);
      assert.ok(blobPath('/l', input).isErr());
    });
  }

  test('applyLayer refuses an invalid expected DiffID before reading anything', async () => {
    const r = await applyLayer('/nonexistent/layer', '/nonexistent/rootfs', { diffId: 'sha256:../../etc/passwd' });
    assert.ok(r.isErr());
    assert.equal(r.error.code, ErrorCodes.IMAGE_INVALID);
    assert.match(r.error.why, /expected DiffID is invalid/);
  });
});

describe('whiteout routing', () => {
  const entry = (path: string, type: TarEntry['type'] = 'file'): TarEntry => ({
    type, path, rawPath: path, linkTarget: '', mode: 0o644, uid: 0, gid: 0, mtimeSec: 0, mtimeNsec: 0,
    size: 0, dataOffset: 0, devMajor: 0, devMinor: 0, xattrs: [],
  });
  test('names map to removals as the spec says', () => {
    assert.deepEqual(routeLayerEntry(entry('a/b/.wh.c')), { kind: 'whiteout', path: 'a/b/c', opaque: false });
    assert.deepEqual(routeLayerEntry(entry('.wh.top')), { kind: 'whiteout', path: 'top', opaque: false });
    assert.deepEqual(routeLayerEntry(entry('a/.wh..wh..opq')), { kind: 'whiteout', path: 'a', opaque: true });
    assert.deepEqual(routeLayerEntry(entry('.wh..wh..opq')), { kind: 'whiteout', path: '.', opaque: true });
    assert.deepEqual(routeLayerEntry(entry('a/.wh..wh.plnk')), { kind: 'skip' });
    assert.equal(routeLayerEntry(entry('a/x.wh.y')).kind, 'write');
  });
  test('malformed whiteouts are refused', () => {
    for (const p of ['a/.wh.', 'a/.wh..', 'a/.wh...', '.wh...']) assert.equal(routeLayerEntry(entry(p)).kind, 'refuse', p);
    assert.equal(routeLayerEntry(entry('a/.wh.x', 'dir')).kind, 'refuse');
    assert.equal(routeLayerEntry(entry('a/.wh.x', 'symlink')).kind, 'refuse');
    assert.equal(routeLayerEntry(entry('.wh.d/file')).kind, 'refuse');
  });
});

describe('whiteouts in crafted layers', { skip: needsRoot }, () => {
  let work = '';
  let outside = '';
  let n = 0;

  const makeTar = (entries: Entry[]): string => makeLayerTar(join(work, `layer-${n++}.tar`), entries);

  function snapshotOutside(): Record<string, unknown> {
    return JSON.parse(sh('python3', [join(REPO, 'test/helpers/tree-snapshot.py'), outside])) as Record<string, unknown>;
  }

  /** A lower layer with symlinks that lead outside the rootfs, applied into a fresh rootfs. */
  async function lowerRootfs(): Promise<string> {
    const rootfs = join(work, `rootfs-${n++}`);
    mkdirSync(rootfs);
    const base = makeTar([
      { name: 'd', type: 'dir' },
      { name: 'd/f', data: 'lower' },
      { name: 'd/out', type: 'symlink', linkname: outside },
      { name: 'abs', type: 'symlink', linkname: outside },
      { name: 'rel', type: 'symlink', linkname: '../../outside' },
      { name: 'file', data: 'a file' },
    ]);
    const r = await applyLayer(base, rootfs);
    assert.ok(r.isOk(), r.isErr() ? r.error.why : '');
    return rootfs;
  }

  async function refused(entries: Entry[], why: RegExp): Promise<string> {
    const rootfs = await lowerRootfs();
    const before = snapshotOutside();
    const r = await applyLayer(makeTar(entries), rootfs);
    assert.ok(r.isErr(), 'expected a failure');
    assert.equal(r.error.code, ErrorCodes.TAR_UNSAFE, r.error.why);
    assert.match(r.error.why, why);
    assert.deepEqual(snapshotOutside(), before, 'nothing outside changed');
    return rootfs;
  }

  before(() => {
    work = tempDir('oci-whiteout');
    // work/box/rootfs-N sits two levels below work, so '../../outside' from the rootfs reaches work/outside.
    outside = join(work, 'outside');
    mkdirSync(join(outside, 'dir'), { recursive: true });
    writeFileSync(join(outside, 'victim'), 'untouched\n');
    writeFileSync(join(outside, 'dir', 'inner'), 'untouched\n');
    work = join(work, 'box');
    mkdirSync(work);
  });
  after(() => removeDir(join(work, '..')));

  test('a whiteout with .. in its path is refused', async () => {
    await refused([{ name: 'd/../../outside/.wh.victim' }], /outside the target/);
    await refused([{ name: 'd/.wh...' }], /not an entry of its directory/);
    await refused([{ name: '.wh..' }], /not an entry of its directory/);
  });

  test('a whiteout under a symlink to outside is refused', async () => {
    const rootfs = await refused([{ name: 'abs/.wh.victim' }], /"abs\/\.wh\.victim".*parent abs is a symlink/);
    assert.ok(lstatSync(join(rootfs, 'abs')).isSymbolicLink());
    await refused([{ name: 'rel/.wh.victim' }], /parent rel is a symlink/);
    await refused([{ name: 'd/out/dir/.wh.inner' }], /parent d\/out\/dir is a symlink/);
  });

  test('an opaque whiteout in a symlinked directory is refused', async () => {
    await refused([{ name: 'abs/.wh..wh..opq' }], /parent abs is a symlink/);
    await refused([{ name: 'd/out/.wh..wh..opq' }], /parent d\/out is a symlink/);
  });

  test('a symlink made by the same layer is not followed either', async () => {
    await refused([{ name: 'evil', type: 'symlink', linkname: outside }, { name: 'evil/.wh.victim' }], /parent evil is a symlink/);
    await refused([{ name: 'evil', type: 'symlink', linkname: outside }, { name: 'evil/.wh..wh..opq' }], /parent evil is a symlink/);
  });

  test('whiting out a symlink or a tree holding one removes the link, not its target', async () => {
    const rootfs = await lowerRootfs();
    const before = snapshotOutside();
    const r = await applyLayer(makeTar([{ name: '.wh.abs' }, { name: '.wh.d' }]), rootfs);
    assert.ok(r.isOk(), r.isErr() ? r.error.why : '');
    assert.deepEqual(readdirSync(rootfs).sort(), ['file', 'rel']);
    assert.deepEqual(snapshotOutside(), before);
  });

  test('whiteouts spare what the same layer adds, before or after them', async () => {
    const rootfs = await lowerRootfs();
    const r = await applyLayer(makeTar([
      { name: 'd', type: 'dir' },
      { name: 'd/new', data: 'upper' },
      { name: 'd/.wh..wh..opq' },
      { name: 'd/later', data: 'upper too' },
      { name: 'file', data: 'replaced' },
      { name: '.wh.file' },
      { name: '.wh.missing' },
      { name: 'nodir/.wh.x' },
      { name: 'file/.wh.x' },
    ]), rootfs);
    assert.ok(r.isOk(), r.isErr() ? r.error.why : '');
    assert.deepEqual(readdirSync(join(rootfs, 'd')).sort(), ['later', 'new']);
    assert.equal(readFileSync(join(rootfs, 'file'), 'utf8'), 'replaced');
    assert.ok(!existsSync(join(rootfs, 'nodir')), 'a whiteout creates nothing');
    assert.ok(!readdirSync(rootfs).some((name) => name.startsWith('.wh.')));
  });

  test('whiteouts between many small files (writer threads busy) remove exactly the lower nodes', async () => {
    const rootfs = join(work, `rootfs-${n++}`);
    mkdirSync(rootfs);
    const lower: Entry[] = [{ name: 'many', type: 'dir' }, { name: 'keep', type: 'dir' }, { name: 'keep/sub', type: 'dir' }];
    for (let i = 0; i < 200; i++) lower.push({ name: `many/f${i}`, data: `lower ${i}` }, { name: `keep/sub/g${i}`, data: `${i}` });
    assert.ok((await applyLayer(makeTar(lower), rootfs)).isOk());
    const upper: Entry[] = [];
    for (let i = 0; i < 200; i++) {
      upper.push({ name: `new/h${i}`, data: `upper ${i}` });
      if (i % 2 === 0) upper.push({ name: `keep/sub/.wh.g${i}` });
      if (i === 100) upper.push({ name: 'many/.wh..wh..opq' }, { name: 'many/f7', data: 'upper 7' });
      if (i === 150) upper.push({ name: 'keep/sub/g1', data: 'replaced' }, { name: 'keep/sub/.wh.g1' });
    }
    const r = await applyLayer(makeTar(upper), rootfs, { writers: 2 });
    assert.ok(r.isOk(), r.isErr() ? r.error.why : '');
    assert.deepEqual(readdirSync(join(rootfs, 'many')), ['f7']);
    assert.equal(readFileSync(join(rootfs, 'many/f7'), 'utf8'), 'upper 7');
    assert.equal(readdirSync(join(rootfs, 'new')).length, 200);
    const left = readdirSync(join(rootfs, 'keep/sub')).sort();
    const want = Array.from({ length: 100 }, (_, k) => `g${2 * k + 1}`).sort();
    assert.deepEqual(left, want);
    assert.equal(readFileSync(join(rootfs, 'keep/sub/g1'), 'utf8'), 'replaced');
    assert.equal(readFileSync(join(rootfs, 'keep/sub/g3'), 'utf8'), '3');
  });

  test('an opaque whiteout at the root hides every lower entry', async () => {
    const rootfs = await lowerRootfs();
    const r = await applyLayer(makeTar([{ name: '.wh..wh..opq' }, { name: 'only', data: 'x' }]), rootfs);
    assert.ok(r.isOk(), r.isErr() ? r.error.why : '');
    assert.deepEqual(readdirSync(rootfs), ['only']);
    assert.ok(existsSync(join(outside, 'victim')));
  });
});
