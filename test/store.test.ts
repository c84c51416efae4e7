// The image store end to end through the CLI, with real peers: ACIs built by Debian's actool,
// signed by gpg, compared with actool cat-manifest, sha512sum and GNU tar; bad input leaves the
// store untouched; fsck, gc, rm, export; concurrent fetches; an unprivileged fetch.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { chmodSync, copyFileSync, existsSync, lstatSync, mkdirSync, readdirSync, readFileSync, symlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { REPO, TSPOD, needsRoot, removeDir, sh, tempDir } from './helpers/cli.js';
import { actoolAci as buildAci, appcManifest } from './helpers/aci.js';

const NAME = 'example.com/busybox';
let work = '';
let gnupg = '';
let fingerprint = '';

function manifest(extra: Record<string, unknown> = {}): Record<string, unknown> {
  return appcManifest(NAME, extra);
}

function actoolAci(name: string, m: Record<string, unknown> | string = manifest()): string {
  return buildAci(work, name, m);
}

function gpg(args: string[]): string {
  return sh('gpg', ['--homedir', gnupg, '--batch', ...args]);
}

function sign(file: string): void {
  gpg(['--yes', '--armor', '--detach-sign', '--output', `${file}.asc`, file]);
}

function run(dataDir: string, args: string[], opts: { insecure?: boolean } = {}): { status: number | null; stdout: string; stderr: string } {
  const flags = ['--dir', dataDir, '--local-config', join(work, 'conf'), '--system-config', join(work, 'sysconf')];
  if (opts.insecure) flags.push('--insecure-options=image');
  const r = spawnSync(process.execPath, [TSPOD, ...flags, ...args], { encoding: 'utf8' });
  return { status: r.status, stdout: r.stdout, stderr: r.stderr };
}

function storeIsEmpty(dataDir: string): void {
  assert.deepEqual(readdirSync(join(dataDir, 'store', 'images')), [], 'no image record');
  assert.deepEqual(readdirSync(join(dataDir, 'store', 'trees')), [], 'no tree');
  assert.deepEqual(readdirSync(join(dataDir, 'tmp')), [], 'nothing left in tmp');
}

function sha512Uncompressed(aci: string): string {
  return `sha512-${sh('sh', ['-c', `gunzip -c ${aci} | sha512sum`]).split(' ')[0]}`;
}

describe('image store', { skip: needsRoot }, () => {
  let aci = '';
  before(() => {
    work = tempDir('store');
    chmodSync(work, 0o755);
    gnupg = join(work, 'gnupg');
    mkdirSync(gnupg, { mode: 0o700 });
    gpg(['--passphrase', '', '--quick-gen-key', 'tspod test <test@example.com>', 'ed25519', 'sign', 'never']);
    fingerprint = gpg(['--with-colons', '--fingerprint', 'test@example.com']).split('\n').find((l) => l.startsWith('fpr:'))!.split(':')[9]!.toLowerCase();
    aci = actoolAci('busybox');
    sign(aci);
  });
  after(() => {
    spawnSync('gpgconf', ['--homedir', gnupg, '--kill', 'all']);
    removeDir(work);
  });

  test('an untrusted signer is refused, naming the key and the trust command; nothing is stored', () => {
    const data = join(work, 'data-untrusted');
    const r = run(data, ['fetch', aci]);
    assert.equal(r.status, 254, r.stderr);
    assert.match(r.stderr, /TSPOD_E_SIG_UNTRUSTED/);
    assert.ok(r.stderr.includes(fingerprint), 'names the fingerprint');
    assert.match(r.stderr, /tspod trust --prefix example\.com\/busybox/);
    storeIsEmpty(data);
  });

  test('a key trusted for a prefix of the name lets the image in; ID is sha512 of the tar', () => {
    const keyDir = join(work, 'conf', 'trustedkeys', 'prefix.d', 'example.com');
    mkdirSync(keyDir, { recursive: true });
    writeFileSync(join(keyDir, fingerprint), gpg(['--armor', '--export', 'test@example.com']));
    const data = join(work, 'data');
    const r = run(data, ['fetch', aci]);
    assert.equal(r.status, 0, r.stderr);
    assert.equal(r.stdout.trim(), sha512Uncompressed(aci));
    const list = JSON.parse(run(data, ['image', 'list', '--format', 'json']).stdout) as Array<{ id: string; name: string; signers: Array<{ fingerprint: string }>; rendered: boolean }>;
    assert.equal(list.length, 1);
    assert.equal(list[0]!.name, NAME);
    assert.equal(list[0]!.signers[0]!.fingerprint.toLowerCase(), fingerprint);
    assert.equal(list[0]!.rendered, true);
    // Fetching again is idempotent.
    assert.equal(run(data, ['fetch', aci]).stdout.trim(), r.stdout.trim());
    assert.equal(readdirSync(join(data, 'store', 'images')).length, 1);
  });

  test('cat-manifest equals actool cat-manifest; render equals GNU tar of the rootfs', () => {
    const data = join(work, 'data');
    const mine = run(data, ['image', 'cat-manifest', NAME]);
    assert.equal(mine.status, 0, mine.stderr);
    assert.deepEqual(JSON.parse(mine.stdout), JSON.parse(sh('actool', ['cat-manifest', aci])));
    const out = join(work, 'rendered');
    const r = run(data, ['image', 'render', 'sha512-' + sha512Uncompressed(aci).slice(7, 20), out]);
    assert.equal(r.status, 0, r.stderr);
    const gnu = join(work, 'gnu');
    mkdirSync(gnu);
    sh('tar', ['--numeric-owner', '-xpzf', aci, '-C', gnu]);
    const snap = (d: string): string => sh('python3', [join(REPO, 'test/helpers/tree-snapshot.py'), d, '.']);
    assert.equal(snap(join(out, 'rootfs')), snap(join(gnu, 'rootfs')));
    assert.deepEqual(JSON.parse(readFileSync(join(out, 'manifest'), 'utf8')), JSON.parse(readFileSync(join(gnu, 'manifest'), 'utf8')));
  });

  test('export is byte-identical, so gpg still verifies its signature', () => {
    const out = join(work, 'exported.aci');
    assert.equal(run(join(work, 'data'), ['image', 'export', NAME, out]).status, 0);
    assert.deepEqual(readFileSync(out), readFileSync(aci));
    copyFileSync(`${aci}.asc`, `${out}.asc`);
    gpg(['--verify', `${out}.asc`, out]);
    assert.equal(run(join(work, 'data'), ['image', 'export', NAME, out]).status, 254, 'no overwrite without --overwrite');
  });

  test('a tampered image is refused and nothing is stored', () => {
    const bad = join(work, 'tampered.aci');
    const bytes = readFileSync(aci);
    bytes[bytes.length - 100] ^= 0x01;
    writeFileSync(bad, bytes);
    copyFileSync(`${aci}.asc`, `${bad}.asc`);
    const data = join(work, 'data-tampered');
    const r = run(data, ['fetch', bad]);
    assert.equal(r.status, 254);
    assert.match(r.stderr, /TSPOD_E_(SIG_INVALID|DECOMPRESS)/);
    storeIsEmpty(data);
  });

  const badInputs: Array<[string, () => string, RegExp]> = [
    ['manifest that is not JSON', () => actoolLessAci('notjson', '{"acKind": ImageManifest'), /TSPOD_E_MANIFEST_INVALID/],
    ['wrong acKind', () => actoolLessAci('kind', JSON.stringify({ ...manifest(), acKind: 'PodManifest' })), /TSPOD_E_MANIFEST_INVALID.*|acKind/],
    ['invalid name', () => actoolLessAci('name', JSON.stringify({ ...manifest(), name: 'Example.com/X' })), /TSPOD_E_MANIFEST_INVALID|ACIdentifier|name/],
    ['huge manifest', () => actoolLessAci('huge', JSON.stringify({ ...manifest(), annotations: [{ name: 'big', value: 'x'.repeat(2 << 20) }] })), /TSPOD_E_(TAR_LIMIT|MANIFEST_INVALID)/],
    ['extra top-level file', () => actoolLessAci('extra', JSON.stringify(manifest()), ['extra']), /unrecognized file path in layout/],
    ['missing manifest', () => actoolLessAci('nomanifest', undefined), /no image manifest found/],
    ['corrupt gzip', () => corrupt(aci, 'corrupt.aci', (b) => { b[b.length - 6] ^= 0xff; }), /TSPOD_E_DECOMPRESS/],
    ['truncated', () => corrupt(aci, 'truncated.aci', (b) => b.subarray(0, b.length >> 1)), /TSPOD_E_(DECOMPRESS|TAR_CORRUPT)/],
  ];
  for (const [name, make, expected] of badInputs) {
    test(`bad input is refused clearly with nothing left: ${name}`, () => {
      const data = join(work, `data-bad-${name.replace(/\W+/g, '-')}`);
      const r = run(data, ['fetch', make()], { insecure: true });
      assert.equal(r.status, 254, r.stderr);
      assert.match(r.stderr.replace(/\n/g, ' '), expected);
      storeIsEmpty(data);
    });
  }

  test('image verify finds a changed file and a changed mode in a rendered tree', () => {
    const data = join(work, 'data-verify');
    const id = run(data, ['fetch', aci]).stdout.trim();
    assert.equal(run(data, ['image', 'verify']).status, 0);
    const rootfs = join(data, 'store', 'trees', id, 'rootfs');
    writeFileSync(join(rootfs, 'hello.txt'), 'changed\n');
    chmodSync(join(rootfs, 'bin', 'busybox'), 0o4755);
    const r = run(data, ['image', 'verify', id.slice(0, 20)]);
    assert.equal(r.status, 254);
    assert.match(r.stdout, /CHANGED/);
    assert.match(r.stdout, /hello\.txt/);
    assert.match(r.stdout, /bin\/busybox: is "file 4755/);
  });

  test('dependencies: fetched layers render in order, the image last, then its pathWhitelist', () => {
    const data = join(work, 'data-deps');
    const base = actoolAci('base', { ...manifest(), name: 'example.com/base' });
    sign(base);
    const appLayout = join(work, 'app-layout');
    mkdirSync(join(appLayout, 'rootfs'), { recursive: true });
    writeFileSync(join(appLayout, 'rootfs', 'hello.txt'), 'hello from app\n');
    writeFileSync(join(appLayout, 'rootfs', 'app.txt'), 'only in app\n');
    const deps = [{ imageName: 'example.com/base', labels: [{ name: 'version', value: '1.35.0' }] }];
    writeFileSync(join(appLayout, 'manifest'), JSON.stringify({ ...manifest(), name: 'example.com/app', dependencies: deps }));
    const app = join(work, 'app.aci');
    sh('actool', ['build', '--overwrite', appLayout, app]);
    sign(app);
    assert.equal(run(data, ['fetch', base]).status, 0);
    const f = run(data, ['fetch', app]);
    assert.equal(f.status, 0, f.stderr);
    const out = join(work, 'rendered-app');
    const r = run(data, ['image', 'render', 'example.com/app', out]);
    assert.equal(r.status, 0, r.stderr);
    assert.equal(readFileSync(join(out, 'rootfs', 'hello.txt'), 'utf8'), 'hello from app\n', 'the image overrides its dependency');
    assert.ok(existsSync(join(out, 'rootfs', 'bin', 'busybox')), 'the dependency is rendered below');
    assert.ok(existsSync(join(out, 'rootfs', 'app.txt')));
    const extracted = join(work, 'extracted-app');
    assert.equal(run(data, ['image', 'extract', '--rootfs-only', 'example.com/app', extracted]).status, 0);
    assert.ok(!existsSync(join(extracted, 'bin')), 'extract takes the image alone');

    writeFileSync(join(appLayout, 'manifest'), JSON.stringify({ ...manifest(), name: 'example.com/white', dependencies: deps, pathWhitelist: ['/bin/busybox', '/app.txt'] }));
    const white = join(work, 'white.aci');
    sh('actool', ['build', '--overwrite', appLayout, white]);
    sign(white);
    assert.equal(run(data, ['fetch', white]).status, 0);
    const wout = join(work, 'rendered-white');
    assert.equal(run(data, ['image', 'render', '--rootfs-only', 'example.com/white', wout]).status, 0);
    assert.deepEqual(readdirSync(wout).sort(), ['app.txt', 'bin']);
    assert.deepEqual(readdirSync(join(wout, 'bin')), ['busybox']);

    assert.equal(run(data, ['image', 'rm', 'example.com/base']).status, 0);
    const missing = run(data, ['image', 'render', 'example.com/app', join(work, 'rendered-missing')]);
    assert.equal(missing.status, 254);
    assert.match(missing.stderr, /dependency example\.com\/base is not in the store/);
    assert.match(missing.stderr, /tspod fetch example\.com\/base:1\.35\.0/);
    assert.ok(!existsSync(join(work, 'rendered-missing')), 'nothing half-made');
  });

  test('a dependency\'s symlink is never written through by a later layer', () => {
    const data = join(work, 'data-deps-evil');
    const outside = join(work, 'outside-deps');
    mkdirSync(outside);
    const baseLayout = join(work, 'evilbase-layout');
    mkdirSync(join(baseLayout, 'rootfs'), { recursive: true });
    symlinkSync(outside, join(baseLayout, 'rootfs', 'evil'));
    writeFileSync(join(baseLayout, 'manifest'), JSON.stringify({ ...manifest(), name: 'example.com/evilbase' }));
    const base = join(work, 'evilbase.aci');
    sh('actool', ['build', '--overwrite', baseLayout, base]);
    const topLayout = join(work, 'eviltop-layout');
    mkdirSync(join(topLayout, 'rootfs', 'evil'), { recursive: true });
    writeFileSync(join(topLayout, 'rootfs', 'evil', 'victim'), 'pwned');
    const deps = [{ imageName: 'example.com/evilbase', labels: [{ name: 'version', value: '1.35.0' }] }];
    writeFileSync(join(topLayout, 'manifest'), JSON.stringify({ ...manifest(), name: 'example.com/eviltop', dependencies: deps }));
    // Without an entry for rootfs/evil itself, the file would have to go through the symlink.
    const top = join(work, 'eviltop.aci');
    sh('tar', ['-czf', top, '-C', topLayout, 'manifest', 'rootfs/evil/victim']);
    assert.equal(run(data, ['fetch', base], { insecure: true }).status, 0);
    assert.equal(run(data, ['fetch', top], { insecure: true }).status, 0);
    const r = run(data, ['image', 'render', 'example.com/eviltop', join(work, 'rendered-evil')]);
    assert.equal(r.status, 254);
    assert.match(r.stderr, /TSPOD_E_TAR_UNSAFE.*|parent evil is a symlink/);
    assert.deepEqual(readdirSync(outside), [], 'nothing written outside');
    assert.ok(!existsSync(join(work, 'rendered-evil')));
    // With a directory entry, the later layer replaces the symlink by a directory (as GNU tar would).
    writeFileSync(join(topLayout, 'manifest'), JSON.stringify({ ...manifest(), name: 'example.com/eviltop2', dependencies: deps }));
    const top2 = join(work, 'eviltop2.aci');
    sh('actool', ['build', '--overwrite', topLayout, top2]);
    assert.equal(run(data, ['fetch', top2], { insecure: true }).status, 0);
    const out2 = join(work, 'rendered-evil2');
    assert.equal(run(data, ['image', 'render', 'example.com/eviltop2', out2]).status, 0);
    assert.ok(lstatSync(join(out2, 'rootfs', 'evil')).isDirectory());
    assert.deepEqual(readdirSync(outside), [], 'nothing written outside');
  });

  test('image rm removes record, tree and blob', () => {
    const data = join(work, 'data-rm');
    const id = run(data, ['fetch', aci]).stdout.trim();
    const r = run(data, ['image', 'rm', id.slice(0, 20)]);
    assert.equal(r.status, 0, r.stderr);
    assert.deepEqual(readdirSync(join(data, 'store', 'images')), []);
    assert.deepEqual(readdirSync(join(data, 'store', 'trees')), []);
    assert.ok(!existsSync(join(data, 'store', 'blobs', 'sha512', id.slice(7, 9), id.slice(7))));
    assert.equal(run(data, ['image', 'rm', id]).status, 254, 'a second rm finds nothing');
  });

  test('fsck finds a corrupted blob and --repair removes it', () => {
    const data = join(work, 'data-fsck');
    const id = run(data, ['fetch', aci]).stdout.trim();
    assert.equal(run(data, ['fsck']).status, 0);
    const blob = join(data, 'store', 'blobs', 'sha512', id.slice(7, 9), id.slice(7));
    const bytes = readFileSync(blob);
    bytes[2000] ^= 0xff;
    writeFileSync(blob, bytes);
    mkdirSync(join(data, 'store', 'trees', 'sha512-orphan'));
    const r = run(data, ['fsck']);
    assert.equal(r.status, 254);
    assert.match(r.stdout, new RegExp(`image ${id}`));
    assert.match(r.stdout, /tree without an image record/);
    assert.equal(run(data, ['fsck', '--repair']).status, 0);
    assert.equal(run(data, ['fsck']).status, 0);
    assert.deepEqual(readdirSync(join(data, 'store', 'images')), []);
  });

  test('gc removes orphans and, past the grace period, unused images', () => {
    const data = join(work, 'data-gc');
    run(data, ['fetch', aci]);
    mkdirSync(join(data, 'store', 'trees', 'sha512-orphan'));
    const kept = run(data, ['image', 'gc']);
    assert.equal(kept.status, 0, kept.stderr);
    assert.match(kept.stdout, /sha512-orphan/);
    assert.equal(readdirSync(join(data, 'store', 'images')).length, 1, 'a fresh image stays');
    assert.equal(run(data, ['image', 'gc', '--grace-period', '0s']).status, 0);
    assert.deepEqual(readdirSync(join(data, 'store', 'images')), []);
    assert.equal(run(data, ['image', 'gc', '--grace-period', 'soon']).status, 2);
  });

  test('concurrent fetches into one store never corrupt it', async () => {
    const data = join(work, 'data-concurrent');
    const acis = [aci, actoolAci('two', { ...manifest(), name: 'example.com/two' }), actoolAci('three', { ...manifest(), name: 'example.com/three' })];
    const { spawn } = await import('node:child_process');
    const runs = [...acis, aci, acis[1]!, aci].map((a) => new Promise<number | null>((resolve) => {
      const flags = ['--dir', data, '--local-config', join(work, 'conf'), '--system-config', join(work, 'sysconf'), '--insecure-options=image'];
      spawn(process.execPath, [TSPOD, ...flags, 'fetch', a], { stdio: 'ignore' }).on('exit', resolve);
    }));
    assert.deepEqual(await Promise.all(runs), [0, 0, 0, 0, 0, 0]);
    assert.equal(readdirSync(join(data, 'store', 'images')).length, 3);
    assert.equal(run(data, ['fsck']).status, 0);
  });

  test('a fetch killed at any point leaves the old state or the new one, never a broken image', async () => {
    const data = join(work, 'data-kill');
    const bigLayout = join(work, 'big-layout');
    mkdirSync(join(bigLayout, 'rootfs', 'data'), { recursive: true });
    for (let i = 0; i < 200; i++) writeFileSync(join(bigLayout, 'rootfs', 'data', `f${i}`), Buffer.alloc(100_000, i));
    writeFileSync(join(bigLayout, 'manifest'), JSON.stringify({ ...manifest(), name: 'example.com/big' }));
    const big = join(work, 'big.aci');
    sh('actool', ['build', '--overwrite', '--no-compression', bigLayout, big]);
    const { spawn } = await import('node:child_process');
    const flags = ['--dir', data, '--local-config', join(work, 'conf'), '--system-config', join(work, 'sysconf'), '--insecure-options=image'];
    for (const delayMs of [40, 90, 150, 220, 300, 400]) {
      const child = spawn(process.execPath, [TSPOD, ...flags, 'fetch', big], { stdio: 'ignore' });
      const exited = new Promise((r) => child.on('exit', r));
      await new Promise((r) => setTimeout(r, delayMs));
      child.kill('SIGKILL');
      await exited;
      const images = JSON.parse(run(data, ['image', 'list', '--format', 'json']).stdout) as Array<{ id: string }>;
      assert.ok(images.length <= 1, 'zero or one image');
      // Whatever is visible is whole: fsck may only report leftovers nobody points at.
      const check = run(data, ['fsck']);
      for (const line of check.stdout.split('\n').filter((l) => l.startsWith('problem:'))) {
        assert.match(line, /without an image record/, `after a kill at ${delayMs} ms: ${line}`);
      }
      assert.equal(run(data, ['fsck', '--repair']).status, 0);
    }
    const again = run(data, ['fetch', big], { insecure: true });
    assert.equal(again.status, 0, again.stderr);
    assert.equal(run(data, ['fsck']).status, 0);
  });

  test('a member of the tspod group fetches without root; root renders later', () => {
    spawnSync('groupadd', ['-f', 'tspod']);
    spawnSync('useradd', ['-M', '-N', '-g', 'tspod', 'tspod-test-user']);
    const data = join(work, 'data-unprivileged');
    try {
      assert.equal(run(data, ['image', 'list']).status, 0, 'root creates the store');
      const uid = sh('id', ['-u', 'tspod-test-user']).trim();
      const gid = sh('getent', ['group', 'tspod']).split(':')[2]!;
      const flags = ['--dir', data, '--local-config', join(work, 'conf'), '--system-config', join(work, 'sysconf')];
      const r = spawnSync('setpriv', [`--reuid=${uid}`, `--regid=${gid}`, '--clear-groups', process.execPath, TSPOD, ...flags, 'fetch', aci], { encoding: 'utf8' });
      assert.equal(r.status, 0, r.stderr);
      const list = JSON.parse(run(data, ['image', 'list', '--format', 'json']).stdout) as Array<{ rendered: boolean }>;
      assert.equal(list[0]!.rendered, false, 'not rendered without root');
      const render = spawnSync('setpriv', [`--reuid=${uid}`, `--regid=${gid}`, '--clear-groups', process.execPath, TSPOD, ...flags, 'image', 'render', NAME, join(work, 'r-unpriv')], { encoding: 'utf8' });
      assert.equal(render.status, 254, 'rendering says it needs root');
      assert.match(render.stderr, /root/);
    } finally {
      spawnSync('userdel', ['tspod-test-user']);
    }
  });
});

/** An ACI tar made by GNU tar, for layouts actool refuses to build. */
function actoolLessAci(name: string, manifestText: string | undefined, extra: string[] = []): string {
  const layout = join(work, `raw-${name}`);
  mkdirSync(join(layout, 'rootfs'), { recursive: true });
  writeFileSync(join(layout, 'rootfs', 'f'), 'x');
  if (manifestText !== undefined) writeFileSync(join(layout, 'manifest'), manifestText);
  for (const e of extra) writeFileSync(join(layout, e), 'extra');
  const out = join(work, `raw-${name}.aci`);
  sh('tar', ['-czf', out, '-C', layout, ...readdirSync(layout)]);
  return out;
}

function corrupt(src: string, name: string, edit: (b: Buffer) => Buffer | void): string {
  const b = Buffer.from(readFileSync(src));
  const out = join(work, name);
  writeFileSync(out, edit(b) ?? b);
  return out;
}
