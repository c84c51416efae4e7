// `tspod image build`: a deterministic ACI from a busybox layout with the awkward corners of tar
// (symlinks, hard links, long names and link targets, setuid/setgid/sticky, devices, a fifo, big
// ids, xattrs, a non-UTF-8 name, a sub-second mtime), checked against independent readers:
// GNU tar (member list compared with GNU tar's own archive of the layout, and extraction compared
// with the layout), Python's tarfile, sha512sum over gunzip, and Debian's actool.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import {
  chmodSync, chownSync, copyFileSync, existsSync, linkSync, lstatSync, mkdirSync, readdirSync, readFileSync, statSync,
  symlinkSync, utimesSync, writeFileSync, lutimesSync,
} from 'node:fs';
import { join } from 'node:path';
import { REPO, needsRoot, removeDir, sh, tempDir, tspod } from './helpers/cli.js';

const actoolMissing = spawnSync('actool', ['version']).error ? 'actool is not installed (apt-get install appc-spec)' : false;

// Written with 4-space indentation and in this key order on purpose: the ACI must hold these
// bytes, not a re-serialisation.
const MANIFEST_TEXT = `{
    "acVersion": "0.8.11",
    "acKind": "ImageManifest",
    "name": "example.com/busybox",
    "labels": [
        { "name": "version", "value": "1.35.0" },
        { "name": "os", "value": "linux" },
        { "name": "arch", "value": "amd64" }
    ],
    "app": {
        "exec": ["/bin/sh", "-c", "echo hello from $AC_APP_NAME"],
        "user": "0",
        "group": "0",
        "ports": [{ "name": "http", "protocol": "tcp", "port": 8080 }]
    },
    "annotations": [{ "name": "created", "value": "2024-01-02T03:04:05Z" }]
}
`;

const LONG_DIR = 'a-directory-name-that-is-long-enough-'.repeat(3);
const LONG_FILE = 'file-with-a-long-name-'.repeat(6);
const FRACTIONAL = 'etc/fractional-mtime';
const BEFORE_1970 = 'etc/before-1970';
const LONG_LATIN1 = `srv/${LONG_DIR}/latin1-\xe9t\xe9-${'x'.repeat(40)}`;

/** Sets every mtime below dir (and dir) to whole seconds, children before their directory; names as bytes. */
function wholeSecondMtimes(dir: Buffer, depth = 0): void {
  for (const name of readdirSync(dir, { encoding: 'buffer' })) {
    const path = Buffer.concat([dir, Buffer.from('/'), name]);
    if (lstatSync(path).isDirectory()) wholeSecondMtimes(path, depth + 1);
    else if (!path.toString().endsWith(FRACTIONAL) && !path.toString().endsWith(BEFORE_1970)) lutimesSync(path, 1_700_000_000, 1_700_000_000 + path.length);
  }
  lutimesSync(dir, 1_700_000_000, 1_690_000_000 + depth);
}

function makeLayout(layout: string): void {
  const root = join(layout, 'rootfs');
  for (const d of ['bin', 'etc', 'dev', 'tmp', 'usr/bin', 'var/spool', 'home/user', 'empty', `srv/${LONG_DIR}`]) mkdirSync(join(root, d), { recursive: true });
  writeFileSync(join(layout, 'manifest'), MANIFEST_TEXT);
  copyFileSync('/bin/busybox', join(root, 'bin/busybox'));
  chmodSync(join(root, 'bin/busybox'), 0o755);
  for (const applet of ['sh', 'ls', 'cat', 'echo']) symlinkSync('busybox', join(root, 'bin', applet));
  symlinkSync('/bin/busybox', join(root, 'usr/bin/absolute-link'));
  symlinkSync('target-'.repeat(20), join(root, 'usr/bin/long-target'));
  linkSync(join(root, 'bin/busybox'), join(root, 'usr/bin/busybox-hardlink'));
  writeFileSync(join(root, 'etc/hostname'), 'tspod-test\n');
  linkSync(join(root, 'etc/hostname'), join(root, 'etc/hostname.hard'));
  linkSync(join(root, 'etc/hostname'), join(root, 'srv', LONG_DIR, `${LONG_FILE}.hard`));
  writeFileSync(join(root, 'srv', LONG_DIR, LONG_FILE), 'deep\n');
  writeFileSync(join(root, 'usr/bin/suid'), '#!/bin/sh\n');
  chmodSync(join(root, 'usr/bin/suid'), 0o4755);
  writeFileSync(join(root, 'usr/bin/sgid'), '#!/bin/sh\n');
  chmodSync(join(root, 'usr/bin/sgid'), 0o2711);
  chmodSync(join(root, 'tmp'), 0o1777);
  chmodSync(join(root, 'var/spool'), 0o2775);
  chownSync(join(root, 'var/spool'), 0, 8);
  writeFileSync(join(root, 'home/user/owned'), 'mine\n', { mode: 0o600 });
  chownSync(join(root, 'home/user/owned'), 1000, 1000);
  writeFileSync(join(root, 'home/user/bigid'), 'big ids\n');
  chownSync(join(root, 'home/user/bigid'), 3_000_000, 4_000_000);
  writeFileSync(join(root, 'etc/empty-file'), '');
  writeFileSync(Buffer.from(`${root}/etc/latin1-\xe9t\xe9`, 'latin1'), 'not UTF-8\n');
  writeFileSync(Buffer.from(`${root}/${LONG_LATIN1}`, 'latin1'), 'long and not UTF-8\n');
  writeFileSync(join(root, BEFORE_1970), 'old\n');
  sh('touch', ['-m', '-d', '@-86400', join(root, BEFORE_1970)]); // fs.utimes turns negative times into now
  sh('mknod', ['-m', '666', join(root, 'dev/null'), 'c', '1', '3']);
  sh('mknod', ['-m', '660', join(root, 'dev/loop9'), 'b', '7', '9']);
  sh('mkfifo', ['-m', '620', join(root, 'dev/initctl')]);
  sh('setfattr', ['-n', 'user.tspod', '-v', 'value one', join(root, 'etc/hostname')]);
  sh('setfattr', ['-n', 'trusted.tspod', '-v', '0x00ff10', join(root, 'usr/bin/suid')]);
  sh('setfattr', ['-n', 'user.dir', '-v', 'on a dir', join(root, 'srv')]);
  writeFileSync(join(root, FRACTIONAL), 'sub-second mtime\n');
  wholeSecondMtimes(Buffer.from(layout));
  utimesSync(join(root, FRACTIONAL), 1_700_000_000, 1_600_000_000.75);
}

interface Member {
  readonly name: string;
  readonly type: string;
  readonly mode: number;
  readonly uid: number;
  readonly gid: number;
  readonly mtime: number;
  readonly size: number;
  readonly linkname: string;
  readonly devmajor: number;
  readonly devminor: number;
  readonly pax: string[];
  readonly content?: string;
}

/** Every member of a tar (plain or gzip) as Python's tarfile reads it; names and link targets in hex. */
function pythonMembers(archive: string): Member[] {
  const script = `
import json, sys, tarfile
out = []
enc = lambda s: s.encode('utf-8', 'surrogateescape').hex()
with tarfile.open(sys.argv[1], 'r:*') as t:
    for m in t.getmembers():
        d = {'name': enc(m.name), 'type': m.type.decode(), 'mode': m.mode, 'uid': m.uid, 'gid': m.gid,
             'mtime': int(m.mtime // 1), 'size': m.size, 'linkname': enc(m.linkname), 'devmajor': m.devmajor,
             'devminor': m.devminor, 'pax': sorted(m.pax_headers.keys())}
        if m.name == 'manifest':
            d['content'] = t.extractfile(m).read().hex()
        out.append(d)
json.dump(out, sys.stdout)`;
  return JSON.parse(sh('python3', ['-c', script, archive])) as Member[];
}

const hexName = (s: string): string => Buffer.from(s, 'latin1').toString('hex');

function snapshot(dir: string): Record<string, Record<string, unknown>> {
  return JSON.parse(sh('python3', [join(REPO, 'test/helpers/tree-snapshot.py'), dir])) as Record<string, Record<string, unknown>>;
}

describe('tspod image build', { skip: needsRoot }, () => {
  let work = '';
  let layout = '';
  let aci = '';
  let imageId = '';

  before(() => {
    work = tempDir('image-build');
    layout = join(work, 'layout');
    makeLayout(layout);
    aci = join(work, 'busybox.aci');
    const r = tspod(['image', 'build', layout, aci]);
    assert.equal(r.status, 0, r.stderr);
    imageId = r.stdout.trim();
  });
  after(() => removeDir(work));

  test('prints the image ID; building again gives the same ID and the same bytes', () => {
    assert.match(imageId, /^sha512-[0-9a-f]{128}$/);
    const again = join(work, 'again.aci');
    const r = tspod(['image', 'build', layout, again]);
    assert.equal(r.status, 0, r.stderr);
    assert.equal(r.stdout, `${imageId}\n`);
    assert.equal(r.stderr, '');
    assert.ok(readFileSync(again).equals(readFileSync(aci)), 'identical ACI bytes');
  });

  test('the ID is the SHA-512 of the uncompressed tar, with or without compression', () => {
    const gunzipped = sh('sh', ['-c', `gzip -dc '${aci}' | sha512sum`]).split(' ')[0];
    assert.equal(`sha512-${gunzipped}`, imageId);
    const plain = join(work, 'plain.aci');
    const r = tspod(['image', 'build', '--no-compression', layout, plain]);
    assert.equal(r.status, 0, r.stderr);
    assert.equal(r.stdout.trim(), imageId);
    assert.equal(`sha512-${sh('sha512sum', [plain]).split(' ')[0]}`, imageId);
    assert.ok(readFileSync(plain).equals(Buffer.from(sh('sh', ['-c', `gzip -dc '${aci}' | base64 -w0`]), 'base64')));
    assert.equal(readFileSync(plain).length % 512, 0);
  });

  test('the gzip header records no name and no time', () => {
    const head = readFileSync(aci).subarray(0, 10);
    assert.deepEqual([...head.subarray(0, 4)], [0x1f, 0x8b, 8, 0], 'deflate, no FNAME/FCOMMENT/FEXTRA flags');
    assert.deepEqual([...head.subarray(4, 8)], [0, 0, 0, 0], 'MTIME is zero');
  });

  test('actool validates it and cat-manifest gives the layout manifest', { skip: actoolMissing }, () => {
    const v = spawnSync('actool', ['--debug', 'validate', aci], { encoding: 'utf8' });
    assert.equal(v.status, 0, v.stderr);
    assert.match(v.stderr, /valid app container image/);
    const cat = spawnSync('actool', ['cat-manifest', aci], { encoding: 'utf8' });
    assert.equal(cat.status, 0, cat.stderr);
    assert.deepEqual(JSON.parse(cat.stdout), JSON.parse(MANIFEST_TEXT));
  });

  test('entries, order and metadata match GNU tar --sort=name of the same layout', () => {
    const mine = pythonMembers(aci);
    const gnuTar = join(work, 'gnu.tar');
    sh('tar', ['--format=posix', '--sort=name', '--numeric-owner', '--xattrs', '--xattrs-include=*', '-cf', gnuTar, '-C', layout, 'manifest', 'rootfs']);
    const gnu = pythonMembers(gnuTar);
    const strip = (m: Member): Omit<Member, 'pax'> & { xattrs: string[] } => {
      const { pax, ...rest } = m;
      return { ...rest, xattrs: pax.filter((k) => k.startsWith('SCHILY.xattr.')) };
    };
    assert.deepEqual(mine.map(strip), gnu.map(strip));
    assert.equal(mine[0]!.name, hexName('manifest'), 'manifest first');
    assert.equal(mine[1]!.name, hexName('rootfs'), 'then rootfs');
    assert.equal(mine[0]!.content, Buffer.from(MANIFEST_TEXT).toString('hex'), 'the manifest byte for byte');
  });

  test('the awkward entries are all there, with PAX records only where ustar falls short', () => {
    const byName = new Map(pythonMembers(aci).map((m) => [Buffer.from(m.name, 'hex').toString('latin1'), m]));
    const get = (n: string): Member => {
      const m = byName.get(n);
      assert.ok(m, `${n} is in the archive`);
      return m;
    };
    assert.equal(get('rootfs/bin/sh').type, '2');
    assert.equal(Buffer.from(get('rootfs/bin/sh').linkname, 'hex').toString(), 'busybox');
    assert.equal(get('rootfs/usr/bin/busybox-hardlink').type, '1');
    assert.equal(Buffer.from(get('rootfs/usr/bin/busybox-hardlink').linkname, 'hex').toString(), 'rootfs/bin/busybox');
    assert.equal(get('rootfs/usr/bin/suid').mode, 0o4755);
    assert.equal(get('rootfs/usr/bin/sgid').mode, 0o2711);
    assert.equal(get('rootfs/tmp').mode, 0o1777);
    assert.deepEqual([get('rootfs/dev/null').type, get('rootfs/dev/null').devmajor, get('rootfs/dev/null').devminor], ['3', 1, 3]);
    assert.deepEqual([get('rootfs/dev/loop9').type, get('rootfs/dev/loop9').devmajor, get('rootfs/dev/loop9').devminor], ['4', 7, 9]);
    assert.equal(get('rootfs/dev/initctl').type, '6');
    assert.ok(get(`rootfs/etc/latin1-\xe9t\xe9`));
    assert.deepEqual(get(`rootfs/${LONG_LATIN1}`).pax, ['hdrcharset', 'path']);
    assert.equal(get(`rootfs/${BEFORE_1970}`).mtime, -86_400);
    assert.deepEqual(get(`rootfs/${BEFORE_1970}`).pax, ['mtime']);
    const long = get(`rootfs/srv/${LONG_DIR}/${LONG_FILE}`);
    assert.deepEqual(long.pax, ['path']);
    assert.deepEqual(get('rootfs/usr/bin/long-target').pax, ['linkpath']);
    assert.deepEqual([get('rootfs/home/user/bigid').uid, get('rootfs/home/user/bigid').gid], [3_000_000, 4_000_000]);
    assert.deepEqual(get('rootfs/home/user/bigid').pax, ['gid', 'uid']);
    assert.deepEqual(get('rootfs/etc/hostname').pax, ['SCHILY.xattr.user.tspod']);
    assert.deepEqual(get('rootfs/usr/bin/suid').pax, ['SCHILY.xattr.trusted.tspod']);
    assert.deepEqual(get('rootfs/bin/busybox').pax, [], 'plain ustar where it suffices');
    assert.equal(get(`rootfs/${FRACTIONAL}`).mtime, 1_600_000_000, 'whole seconds, rounded down');
  });

  test('GNU tar extracts the layout back, xattrs included', () => {
    const out = join(work, 'extracted');
    mkdirSync(out);
    sh('tar', ['--xattrs', '--xattrs-include=*', '--numeric-owner', '--same-permissions', '-xzf', aci, '-C', out]);
    assert.ok(readFileSync(join(out, 'manifest')).equals(Buffer.from(MANIFEST_TEXT)));
    const want = snapshot(join(layout, 'rootfs'));
    const got = snapshot(join(out, 'rootfs'));
    assert.equal(statSync(join(out, 'rootfs', FRACTIONAL), { bigint: true }).mtimeNs, 1_600_000_000n * 1_000_000_000n);
    delete want[FRACTIONAL]!['mtime_ns'];
    delete got[FRACTIONAL]!['mtime_ns'];
    assert.deepEqual(Object.keys(got).sort(), Object.keys(want).sort());
    for (const path of Object.keys(want)) assert.deepEqual(got[path], want[path], path);
  });

  test('the ID follows the content: an mtime change gives another ID, undoing it the same one', () => {
    const file = join(layout, 'rootfs/etc/hostname');
    const other = join(work, 'other.aci');
    const before = lstatSync(file);
    try {
      lutimesSync(file, before.atime, before.mtimeMs / 1000 + 1);
      const changed = tspod(['image', 'build', '--overwrite', layout, other]);
      assert.equal(changed.status, 0, changed.stderr);
      assert.match(changed.stdout, /^sha512-[0-9a-f]{128}\n$/);
      assert.notEqual(changed.stdout.trim(), imageId);
    } finally {
      lutimesSync(file, before.atime, before.mtime);
    }
    const back = tspod(['image', 'build', '--overwrite', layout, other]);
    assert.equal(back.stdout.trim(), imageId);
  });

  test('an existing output is kept without --overwrite and replaced with it', () => {
    const dir = join(work, 'exists');
    mkdirSync(dir);
    const out = join(dir, 'x.aci');
    writeFileSync(out, 'old');
    const r = tspod(['image', 'build', layout, out]);
    assert.equal(r.status, 254);
    assert.match(r.stderr, /^tspod: build .*x\.aci: .*x\.aci already exists\n {2}\(TSPOD_E_EXISTS\) pass --overwrite/);
    assert.equal(readFileSync(out, 'utf8'), 'old');
    assert.deepEqual(readdirSync(dir), ['x.aci'], 'no temporary file left');
    const o = tspod(['image', 'build', '--overwrite', layout, out]);
    assert.equal(o.status, 0, o.stderr);
    assert.ok(readFileSync(out).equals(readFileSync(aci)));
    assert.deepEqual(readdirSync(dir), ['x.aci']);
  });

  test('an output inside the layout is refused', () => {
    const r = tspod(['image', 'build', layout, join(layout, 'rootfs', 'self.aci')]);
    assert.equal(r.status, 254);
    assert.match(r.stderr, /inside the layout/);
    assert.ok(!existsSync(join(layout, 'rootfs', 'self.aci')));
  });
});

describe('tspod image build refuses bad layouts', () => {
  let work = '';
  before(() => {
    work = tempDir('image-build-bad');
  });
  after(() => removeDir(work));

  const GOOD = JSON.stringify({ acKind: 'ImageManifest', acVersion: '0.8.11', name: 'example.com/x' });
  const cases: Array<[string, (dir: string) => void, RegExp]> = [
    ['an extra top-level file', (d) => {
      mkdirSync(join(d, 'rootfs'));
      writeFileSync(join(d, 'manifest'), GOOD);
      writeFileSync(join(d, 'extra'), '');
    }, /: the layout has an unexpected top-level entry "extra"\n {2}\(TSPOD_E_IMAGE_INVALID\) move it into rootfs\/ or out of the layout/],
    ['no rootfs', (d) => writeFileSync(join(d, 'manifest'), GOOD), /: the layout has no rootfs directory \(.*\/rootfs\)\n/],
    ['no manifest', (d) => mkdirSync(join(d, 'rootfs')), /: the layout has no manifest file/],
    ['rootfs is a file', (d) => {
      writeFileSync(join(d, 'rootfs'), '');
      writeFileSync(join(d, 'manifest'), GOOD);
    }, /rootfs is not a directory/],
    ['rootfs is a symlink', (d) => {
      mkdirSync(`${d}-elsewhere`);
      symlinkSync(`${d}-elsewhere`, join(d, 'rootfs'));
      writeFileSync(join(d, 'manifest'), GOOD);
    }, /rootfs is not a directory \(it is a symlink\)/],
    ['a socket in rootfs', (d) => {
      mkdirSync(join(d, 'rootfs/run'), { recursive: true });
      writeFileSync(join(d, 'manifest'), GOOD);
      sh('python3', ['-c', 'import socket, sys; socket.socket(socket.AF_UNIX).bind(sys.argv[1])', join(d, 'rootfs/run/app.sock')]);
    }, /rootfs\/run\/app\.sock is a socket, which a tar archive cannot hold\n/],
    ['an invalid manifest', (d) => {
      mkdirSync(join(d, 'rootfs'));
      writeFileSync(join(d, 'manifest'), JSON.stringify({ ...JSON.parse(GOOD), app: { user: '0', group: '0', ports: [{ name: 'p', protocol: 'tcp', port: 0 }] } }));
    }, /^tspod: read the image manifest of .*\/manifest: it is invalid: \/app\/ports\/0\/port: port 0 is out of range \(1-65535\)\n {2}\(TSPOD_E_MANIFEST_INVALID\)/],
    ['a manifest that is not JSON', (d) => {
      mkdirSync(join(d, 'rootfs'));
      writeFileSync(join(d, 'manifest'), '{\n  "acKind": "ImageManifest",\n}\n');
    }, /it is not valid JSON: line 3, column 1: expected a "quoted" member name after ','/],
  ];
  cases.forEach(([name, make, message], i) => {
    test(name, () => {
      const dir = join(work, `layout-${i}`);
      mkdirSync(dir);
      make(dir);
      const outDir = join(work, `out-${i}`);
      mkdirSync(outDir);
      const r = tspod(['image', 'build', dir, join(outDir, 'x.aci')]);
      assert.equal(r.status, 254, r.stderr);
      assert.match(r.stderr, message);
      assert.deepEqual(readdirSync(outDir), [], 'no output and no temporary file');
    });
  });

  test('a missing output directory is named', () => {
    const dir = join(work, 'fine');
    mkdirSync(join(dir, 'rootfs'), { recursive: true });
    writeFileSync(join(dir, 'manifest'), GOOD);
    const r = tspod(['image', 'build', dir, join(work, 'no/such/dir/x.aci')]);
    assert.equal(r.status, 254);
    assert.match(r.stderr, /the directory .*no\/such\/dir does not exist/);
  });

  test('usage: operands, flags, --help', () => {
    const none = tspod(['image', 'build']);
    assert.equal(none.status, 2);
    assert.match(none.stderr, /^tspod: image build: needs exactly DIR and OUT\.aci, got 0 operands\n {2}\(TSPOD_E_USAGE\)/);
    assert.equal(tspod(['image', 'build', '--bogus', 'a', 'b']).status, 2);
    const help = tspod(['image', 'build', '--help']);
    assert.equal(help.status, 0);
    assert.match(help.stdout, /^Usage: tspod image build \[--no-compression\] \[--overwrite\] DIR OUT\.aci/);
  });
});
