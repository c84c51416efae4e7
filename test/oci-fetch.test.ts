// `tspod fetch` of Docker/OCI images through the CLI, against the real tools: a docker-registry on
// 127.0.0.1 (TLS, throwaway CA) that skopeo pushes umoci-built images to, docker-archive and
// oci-archive files skopeo writes, and `umoci unpack` as the oracle for rendered trees.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import { copyFileSync, existsSync, mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { REPO, TSPOD, needsRoot, removeDir, sh, tempDir } from './helpers/cli.js';
import { makeTestPki, startServer, type TestPki } from './helpers/https-server.js';
import { buildBusyboxLayout, putManifest, skopeoInspect, skopeoPush, startRegistry, type TestRegistry } from './helpers/registry.js';
import { parseImageManifest } from '../host/src/appc/manifest.js';
import { ImageStore } from '../host/src/store/images.js';
import { Gpg } from './helpers/gpg.js';

describe('Docker/OCI images through tspod fetch', { skip: needsRoot }, () => {
  let work = '';
  let pki: TestPki;
  let reg: TestRegistry;
  let layout = '';

  function tspod(data: string, args: string[], insecure = true): Promise<{ status: number | null; stdout: string; stderr: string }> {
    const flags = ['--dir', data, ...(insecure ? ['--insecure-options=image'] : [])];
    const child = spawn(process.execPath, [TSPOD, ...flags, ...args], { env: { ...process.env, NODE_EXTRA_CA_CERTS: pki.caPath } });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (c: Buffer) => { stdout += c.toString(); });
    child.stderr.on('data', (c: Buffer) => { stderr += c.toString(); });
    return new Promise((resolve) => child.on('close', (status) => resolve({ status, stdout, stderr })));
  }

  function snapshot(dir: string): string {
    return sh('python3', [join(REPO, 'test/helpers/tree-snapshot.py'), dir, '.']);
  }

  /** umoci's own unpack of a tag, made once. */
  function umociRootfs(tag: string): string {
    const out = join(work, `umoci-${tag}`);
    if (!existsSync(out)) sh('umoci', ['unpack', '--image', `${layout}:${tag}`, out]);
    return join(out, 'rootfs');
  }

  function storeBlobs(data: string): string[] {
    const dir = join(data, 'store', 'blobs', 'sha256');
    return readdirSync(dir).flatMap((fan) => readdirSync(join(dir, fan)));
  }

  before(async () => {
    work = tempDir('oci-fetch');
    pki = makeTestPki(join(work, 'pki'));
    reg = await startRegistry({ dir: join(work, 'registry'), pki });
    layout = join(work, 'layout');
    buildBusyboxLayout(layout, 'v1', { extra: 'one\n' });
    // v2 = v1 plus a layer: a file changed and one deleted (a whiteout).
    const bundle = join(work, 'bundle-v2');
    sh('umoci', ['unpack', '--image', `${layout}:v1`, bundle]);
    writeFileSync(join(bundle, 'rootfs', 'extra.txt'), 'two\n');
    sh('rm', [join(bundle, 'rootfs', 'bin', 'busybox')]);
    copyFileSync('/bin/busybox', join(bundle, 'rootfs', 'busybox'));
    sh('umoci', ['repack', '--image', `${layout}:v2`, bundle]);
    skopeoPush(reg, layout, 'v1', 'test/busybox:v1', 'v2s2');
    skopeoPush(reg, layout, 'v2', 'test/busybox:v2', 'oci');
  });
  after(async () => {
    await reg?.stop();
    removeDir(work);
  });

  test('docker:// (Docker schema 2): digests as skopeo sees them; the tree equals umoci unpack', async () => {
    const data = join(work, 'data-reg');
    const r = await tspod(data, ['fetch', `docker://${reg.host}/test/busybox:v1`]);
    assert.equal(r.status, 0, r.stderr);
    assert.match(r.stdout, /^sha256-[0-9a-f]{64}\n$/);
    const list = JSON.parse((await tspod(data, ['image', 'list', '--format', 'json'])).stdout) as Array<{ name: string; manifestDigest: string; kind: string }>;
    assert.equal(list[0]!.kind, 'oci');
    assert.equal(list[0]!.name, `${reg.host}/test/busybox`);
    assert.equal(list[0]!.manifestDigest, skopeoInspect(reg, `test/busybox:v1`).digest);
    const out = join(work, 'render-v1');
    const rendered = await tspod(data, ['image', 'render', '--rootfs-only', `${reg.host}/test/busybox:v1`, out]);
    assert.equal(rendered.status, 0, rendered.stderr);
    assert.equal(snapshot(out), snapshot(umociRootfs('v1')));
    const app = await tspod(data, ['image', 'cat-manifest', r.stdout.trim()]);
    const m = parseImageManifest(app.stdout, 'cat-manifest');
    assert.ok(m.isOk(), 'the effective app manifest is valid appc');
    assert.deepEqual(m._unsafeUnwrap().app?.exec, ['/bin/busybox', 'sh']);
  });

  test('docker:// (OCI manifest, a whiteout layer): layers are shared by digest; rm keeps what another image uses', async () => {
    const data = join(work, 'data-reg');
    const r = await tspod(data, ['fetch', `docker://${reg.host}/test/busybox:v2`]);
    assert.equal(r.status, 0, r.stderr);
    const out = join(work, 'render-v2');
    assert.equal((await tspod(data, ['image', 'render', '--rootfs-only', r.stdout.trim().slice(0, 20), out])).status, 0);
    assert.equal(snapshot(out), snapshot(umociRootfs('v2')));
    // Each layer is rendered once, alone, as an overlayfs lower dir (the store API pods use);
    // stacked by an overlay mount, they are the image.
    const store = ImageStore.open(data)._unsafeUnwrap();
    for (const ref of [`${reg.host}/test/busybox:v1`, r.stdout.trim()]) {
      const record = (await store.resolve(ref))._unsafeUnwrap();
      (await store.renderLayerDirs(record))._unsafeUnwrap();
    }
    const layerDirs = readdirSync(join(data, 'store', 'trees', 'layers'));
    assert.equal(layerDirs.length, 2, `layer dirs: ${layerDirs.join(' ')}`);
    const v2 = (await store.resolve(r.stdout.trim()))._unsafeUnwrap();
    assert.equal(v2.rendered, true);
    const lower = store.lowerDirs(v2).join(':');
    const merged = join(work, 'merged-v2');
    mkdirSync(merged);
    sh('mount', ['-t', 'overlay', 'overlay', '-o', `lowerdir=${lower}`, merged]);
    try {
      assert.equal(snapshot(merged), snapshot(umociRootfs('v2')));
    } finally {
      sh('umount', [merged]);
    }
    const before = storeBlobs(data);
    // v1: its config and the busybox layer; v2: its own config, that same layer, and one more.
    assert.equal(before.length, 4, `blobs: ${before.join(' ')}`);
    assert.equal((await tspod(data, ['image', 'rm', `${reg.host}/test/busybox:v1`])).status, 0);
    assert.equal(storeBlobs(data).length, 3, 'only v1\'s config went; the shared layer stays');
    assert.equal((await tspod(data, ['fsck'])).status, 0);
    assert.equal((await tspod(data, ['image', 'rm', `${reg.host}/test/busybox:v2`])).status, 0);
    assert.deepEqual(storeBlobs(data), []);
    assert.deepEqual(readdirSync(join(data, 'store', 'trees', 'layers')), [], 'layer dirs go with the last image using them');
  });

  test('a multi-platform index: the host\'s image by default, another with --platform', async () => {
    buildBusyboxLayout(layout, 'arm', { extra: 'arm\n', arch: 'arm64' });
    skopeoPush(reg, layout, 'v1', 'test/multi:amd64', 'oci');
    skopeoPush(reg, layout, 'arm', 'test/multi:arm64', 'oci');
    const amd = skopeoInspect(reg, 'test/multi:amd64');
    const arm = skopeoInspect(reg, 'test/multi:arm64');
    const index = {
      schemaVersion: 2, mediaType: 'application/vnd.oci.image.index.v1+json',
      manifests: [
        { mediaType: 'application/vnd.oci.image.manifest.v1+json', digest: arm.digest, size: arm.raw.length, platform: { os: 'linux', architecture: 'arm64', variant: 'v8' } },
        { mediaType: 'application/vnd.oci.image.manifest.v1+json', digest: amd.digest, size: amd.raw.length, platform: { os: 'linux', architecture: 'amd64' } },
      ],
    };
    await putManifest(reg, pki.ca, 'test/multi', 'latest', index.mediaType, Buffer.from(JSON.stringify(index)));
    const data = join(work, 'data-multi');
    const host = await tspod(data, ['fetch', `docker://${reg.host}/test/multi:latest`]);
    assert.equal(host.status, 0, host.stderr);
    const armFetch = await tspod(data, ['fetch', '--platform', 'linux/arm64', `docker://${reg.host}/test/multi:latest`]);
    assert.equal(armFetch.status, 0, armFetch.stderr);
    assert.notEqual(armFetch.stdout, host.stdout);
    const list = JSON.parse((await tspod(data, ['image', 'list', '--format', 'json'])).stdout) as Array<{ id: string; manifestDigest: string }>;
    assert.equal(list.find((i) => `${i.id}\n` === host.stdout)!.manifestDigest, amd.digest);
    assert.equal(list.find((i) => `${i.id}\n` === armFetch.stdout)!.manifestDigest, arm.digest);
    const none = await tspod(data, ['fetch', '--platform', 'linux/s390x', `docker://${reg.host}/test/multi:latest`]);
    assert.equal(none.status, 254);
    assert.match(none.stderr, /linux\/arm64/);
    assert.equal((await tspod(data, ['fetch', '--platform', 'linux', `docker://${reg.host}/test/multi:latest`])).status, 2);
  });

  test('docker-archive and oci-archive files written by skopeo', async () => {
    const data = join(work, 'data-archives');
    const dockerTar = join(work, 'saved.tar');
    sh('skopeo', ['copy', '--insecure-policy', '--quiet', `oci:${layout}:v2`, `docker-archive:${dockerTar}:test/busybox:v2`]);
    const a = await tspod(data, ['fetch', `docker-archive:${dockerTar}`]);
    assert.equal(a.status, 0, a.stderr);
    const outA = join(work, 'render-archive');
    assert.equal((await tspod(data, ['image', 'render', '--rootfs-only', a.stdout.trim(), outA])).status, 0);
    assert.equal(snapshot(outA), snapshot(umociRootfs('v2')));
    const ociTar = join(work, 'layout.tar');
    sh('skopeo', ['copy', '--insecure-policy', '--quiet', `oci:${layout}:v1`, `oci-archive:${ociTar}:v1`]);
    const b = await tspod(data, ['fetch', `oci-archive:${ociTar}:v1`]);
    assert.equal(b.status, 0, b.stderr);
    const outB = join(work, 'render-oci-archive');
    assert.equal((await tspod(data, ['image', 'render', '--rootfs-only', b.stdout.trim(), outB])).status, 0);
    assert.equal(snapshot(outB), snapshot(umociRootfs('v1')));
  });

  test('registry settings in auth.d: a plain-HTTP registry allowed by name, basic credentials', async () => {
    const authReg = await startRegistry({ dir: join(work, 'registry-auth'), user: { username: 'alice', password: 's3cret' } });
    try {
      skopeoPush(authReg, layout, 'v1', 'private/busybox:v1', 'v2s2');
      const data = join(work, 'data-auth');
      const conf = join(work, 'conf-auth');
      const ref = `docker://${authReg.host}/private/busybox:v1`;
      const fetch = (): Promise<{ status: number | null; stdout: string; stderr: string }> => {
        const child = spawn(process.execPath, [TSPOD, '--dir', data, '--local-config', conf, '--system-config', join(work, 'none'), '--insecure-options=image', 'fetch', ref]);
        let out = '';
        let errText = '';
        child.stdout.on('data', (c: Buffer) => { out += c.toString(); });
        child.stderr.on('data', (c: Buffer) => { errText += c.toString(); });
        return new Promise((resolve) => child.on('close', (status) => resolve({ status, stdout: out, stderr: errText })));
      };
      const plain = await fetch();
      assert.equal(plain.status, 254);
      assert.match(plain.stderr, /TSPOD_E_INSECURE/);
      mkdirSync(join(conf, 'auth.d'), { recursive: true });
      writeFileSync(join(conf, 'auth.d', '10-insecure.json'), JSON.stringify({ tspodKind: 'insecureRegistries', tspodVersion: 'v1', registries: [authReg.host] }));
      const noCreds = await fetch();
      assert.equal(noCreds.status, 254);
      assert.match(noCreds.stderr, /401|credentials|auth/i);
      writeFileSync(join(conf, 'auth.d', '20-alice.json'), JSON.stringify({ tspodKind: 'dockerAuth', tspodVersion: 'v1', registries: [authReg.host], credentials: { user: 'alice', password: 's3cret' } }));
      const good = await fetch();
      assert.equal(good.status, 0, good.stderr);
      writeFileSync(join(conf, 'auth.d', '30-bad.json'), '{"tspodKind": "dockerAuth"');
      const broken = await fetch();
      assert.equal(broken.status, 254);
      assert.match(broken.stderr, /TSPOD_E_CONFIG.*|30-bad\.json/);
      assert.match(broken.stderr, /30-bad\.json/);
    } finally {
      await authReg.stop();
    }
  });

  test('without --insecure-options=image a layout is refused, naming the flag', async () => {
    const r = await tspod(join(work, 'data-secure'), ['fetch', `oci:${layout}:v1`], false);
    assert.equal(r.status, 254);
    assert.match(r.stderr, /TSPOD_E_SIG_INVALID/);
    assert.match(r.stderr, /--insecure-options=image/);
  });

  test('a registry image signed by skopeo --sign-by verifies by default; an unsigned one is refused', async () => {
    const gpg = new Gpg();
    try {
      const key = gpg.genKey('oci signer <oci@example.com>');
      const look = join(work, 'lookaside');
      const registriesD = join(work, 'registries.d');
      mkdirSync(registriesD);
      writeFileSync(join(registriesD, 'test.yaml'), `docker:\n  ${reg.host}:\n    lookaside-staging: file://${look}\n`);
      sh('env', [`GNUPGHOME=${gpg.home}`, 'skopeo', 'copy', '--insecure-policy', '--quiet', '--registries.d', registriesD, ...reg.skopeoArgs('dest'),
        '--sign-by', key.fingerprint, `oci:${layout}:v1`, `docker://${reg.host}/test/signed:1`]);
      const conf = join(work, 'conf-signed');
      mkdirSync(join(conf, 'auth.d'), { recursive: true });
      writeFileSync(join(conf, 'auth.d', 'lookaside.json'), JSON.stringify({ tspodKind: 'lookaside', tspodVersion: 'v1', registries: [reg.host], dir: look }));
      writeFileSync(join(work, 'oci-key.asc'), gpg.exportPublic(key));
      const data = join(work, 'data-signed');
      const run = (args: string[]): Promise<{ status: number | null; stdout: string; stderr: string }> =>
        tspod(data, ['--local-config', conf, '--system-config', join(work, 'none'), ...args], false);
      const untrusted = await run(['fetch', `docker://${reg.host}/test/signed:1`]);
      assert.equal(untrusted.status, 254);
      assert.match(untrusted.stderr, /TSPOD_E_SIG_UNTRUSTED/);
      assert.match(untrusted.stderr, new RegExp(`tspod trust --prefix 127\\.0\\.0\\.1~${reg.port}/test/signed`));
      assert.equal((await run(['trust', '--prefix', `127.0.0.1~${reg.port}/test`, '--skip-fingerprint-review', join(work, 'oci-key.asc')])).status, 0);
      const ok = await run(['fetch', `docker://${reg.host}/test/signed:1`]);
      assert.equal(ok.status, 0, ok.stderr);
      const list = JSON.parse((await run(['image', 'list', '--format', 'json'])).stdout) as Array<{ signers: Array<{ fingerprint: string }> }>;
      assert.equal(list[0]!.signers[0]!.fingerprint.toLowerCase(), key.fingerprint);
      const unsigned = await run(['fetch', `docker://${reg.host}/test/busybox:v1`]);
      assert.equal(unsigned.status, 254);
      assert.match(unsigned.stderr, /no signature for manifest/);
      // The same signatures served over HTTPS (a lookaside web server beside the registry).
      const web = await startServer(pki.server);
      try {
        const sigDir = readdirSync(look, { recursive: true }).map(String).find((p) => p.endsWith('signature-1'))!;
        web.routes.set(`/sigs/${sigDir}`, { kind: 'file', body: readFileSync(join(look, sigDir)) });
        writeFileSync(join(conf, 'auth.d', 'lookaside.json'), JSON.stringify({ tspodKind: 'lookaside', tspodVersion: 'v1', registries: [reg.host], url: web.url('/sigs') }));
        const data2 = join(work, 'data-signed-web');
        const viaWeb = await tspod(data2, ['--local-config', conf, '--system-config', join(work, 'none'), 'fetch', `docker://${reg.host}/test/signed:1`], false);
        assert.equal(viaWeb.status, 0, viaWeb.stderr);
        assert.ok(web.requestsFor(`/sigs/${sigDir}`).length > 0, 'signature-1 came from the web lookaside');
        assert.ok(web.requests.some((q) => q.pathname.endsWith('signature-2')), 'and it looked for signature-2 (404 ends the list)');
      } finally {
        await web.close();
      }
    } finally {
      gpg.cleanup();
    }
  });

  test('bad input: tampered blob, unknown tag, a config with 100k env entries; nothing stored', async () => {
    const data = join(work, 'data-bad');
    const bad = join(work, 'bad-layout');
    sh('cp', ['-a', layout, bad]);
    const index = JSON.parse(readFileSync(join(bad, 'index.json'), 'utf8')) as { manifests: Array<{ digest: string; annotations?: Record<string, string> }> };
    const v1 = index.manifests.find((m) => m.annotations?.['org.opencontainers.image.ref.name'] === 'v1')!;
    const manifest = JSON.parse(readFileSync(join(bad, 'blobs', 'sha256', v1.digest.slice(7)), 'utf8')) as { layers: Array<{ digest: string }>; config: { digest: string; size: number } };
    const layer = join(bad, 'blobs', 'sha256', manifest.layers.at(-1)!.digest.slice(7));
    const bytes = readFileSync(layer);
    bytes[bytes.length >> 1] ^= 0xff;
    writeFileSync(layer, bytes);
    const tampered = await tspod(data, ['fetch', `oci:${bad}:v1`]);
    assert.equal(tampered.status, 254);
    assert.match(tampered.stderr, /TSPOD_E_IMAGE_INVALID/);
    const missing = await tspod(data, ['fetch', `oci:${layout}:nope`]);
    assert.equal(missing.status, 254);
    assert.match(missing.stderr, /no image is named "nope"/);
    // A config with 100k Env entries, and a manifest and index that point at it.
    const huge = join(work, 'huge-layout');
    sh('cp', ['-a', layout, huge]);
    const config = JSON.parse(readFileSync(join(huge, 'blobs', 'sha256', manifest.config.digest.slice(7)), 'utf8')) as { config: { Env?: string[] } };
    config.config.Env = Array.from({ length: 100_000 }, (_, i) => `V${i}=x`);
    const put = (obj: unknown): { digest: string; size: number } => {
      const b = Buffer.from(JSON.stringify(obj));
      const hex = createHash('sha256').update(b).digest('hex');
      writeFileSync(join(huge, 'blobs', 'sha256', hex), b);
      return { digest: `sha256:${hex}`, size: b.length };
    };
    const cfg = put(config);
    const man = put({ ...manifest, config: { ...manifest.config, ...cfg } });
    writeFileSync(join(huge, 'index.json'), JSON.stringify({ schemaVersion: 2, manifests: [{ mediaType: 'application/vnd.oci.image.manifest.v1+json', ...man, annotations: { 'org.opencontainers.image.ref.name': 'huge' } }] }));
    const h = await tspod(data, ['fetch', `oci:${huge}:huge`]);
    assert.equal(h.status, 254);
    assert.match(h.stderr, /TSPOD_E_MANIFEST_INVALID/);
    assert.deepEqual(readdirSync(join(data, 'store', 'images')), []);
    assert.deepEqual(storeBlobs(data), []);
    assert.deepEqual(readdirSync(join(data, 'tmp')), []);
  });
});

