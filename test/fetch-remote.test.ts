// `tspod fetch` over HTTPS against a real server on 127.0.0.1 with a throwaway CA: direct URLs,
// HTTP caching, appc meta discovery with offered keys, and refusals (plain http, wrong image).
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { TSPOD, needsRoot, removeDir, tempDir } from './helpers/cli.js';
import { actoolAci, appcManifest } from './helpers/aci.js';
import { Gpg, type GpgKey } from './helpers/gpg.js';
import { makeTestPki, startServer, type TestPki, type TestServer } from './helpers/https-server.js';

const NAME = 'localhost/busybox';

describe('fetch over HTTPS and discovery', { skip: needsRoot }, () => {
  let work = '';
  let pki: TestPki;
  let server: TestServer;
  let gpg: Gpg;
  let key: GpgKey;
  let aciBytes: Buffer;

  /** Asynchronous on purpose: the server lives in this process, so its event loop must keep running. */
  function tspod(data: string, args: string[], globals: string[] = []): Promise<{ status: number | null; stdout: string; stderr: string }> {
    const flags = ['--dir', data, '--local-config', join(work, `conf-${data.split('/').pop()}`), '--system-config', join(work, 'sys'), ...globals];
    const child = spawn(process.execPath, [TSPOD, ...flags, ...args], {
      env: { ...process.env, NODE_EXTRA_CA_CERTS: pki.caPath, TSPOD_DISCOVERY_PORT: String(server.port) },
    });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (c: Buffer) => { stdout += c.toString(); });
    child.stderr.on('data', (c: Buffer) => { stderr += c.toString(); });
    return new Promise((resolve) => child.on('close', (status) => resolve({ status, stdout, stderr })));
  }

  async function trust(data: string): Promise<void> {
    const keyFile = join(work, 'key.asc');
    const r = await tspod(data, ['trust', '--prefix', NAME, '--skip-fingerprint-review', keyFile]);
    assert.equal(r.status, 0, r.stderr);
  }

  before(async () => {
    work = tempDir('remote');
    pki = makeTestPki(join(work, 'pki'));
    server = await startServer(pki.server);
    gpg = new Gpg();
    key = gpg.genKey('remote test <remote@example.com>');
    const aci = actoolAci(work, 'busybox', appcManifest(NAME));
    const asc = gpg.sign(key, aci);
    aciBytes = readFileSync(aci);
    const { writeFileSync } = await import('node:fs');
    writeFileSync(join(work, 'key.asc'), gpg.exportPublic(key));
    const file = `/images/${NAME}-1.35.0-linux-amd64.aci`;
    server.routes.set(file, { kind: 'file', body: aciBytes, etag: '"v1"', cacheControl: 'max-age=3600' });
    server.routes.set(`${file}.asc`, { kind: 'file', body: readFileSync(asc) });
    server.routes.set('/pubkeys.asc', { kind: 'file', body: readFileSync(join(work, 'key.asc')) });
    server.routes.set('/busybox', {
      kind: 'page', status: 200, body: `<html><head>
        <meta name="ac-discovery" content="localhost/busybox https://localhost:${server.port}/images/{name}-{version}-{os}-{arch}.{ext}">
        <meta name="ac-discovery-pubkeys" content="localhost/busybox https://localhost:${server.port}/pubkeys.asc">
        </head></html>`,
    });
  });
  after(async () => {
    await server?.close();
    gpg?.cleanup();
    removeDir(work);
  });

  test('a direct https URL: signature fetched beside it and verified; the second fetch is served from cache', async () => {
    const data = join(work, 'data-url');
    await trust(data);
    const url = server.url(`/images/${NAME}-1.35.0-linux-amd64.aci`);
    const first = await tspod(data, ['fetch', url]);
    assert.equal(first.status, 0, first.stderr);
    assert.match(first.stdout, /^sha512-[0-9a-f]{128}\n$/);
    const aciGets = (): number => server.requestsFor(`/images/${NAME}-1.35.0-linux-amd64.aci`).length;
    const before = aciGets();
    const second = await tspod(data, ['fetch', url]);
    assert.equal(second.status, 0, second.stderr);
    assert.equal(second.stdout, first.stdout);
    assert.equal(aciGets(), before, 'max-age not expired: no request');
    assert.deepEqual(readdirSync(join(data, 'tmp')).filter((n) => !n.startsWith('.')), [], 'downloads cleaned up');
  });

  test('an expired cache revalidates with If-None-Match and a 304 reuses the stored image', async () => {
    const data = join(work, 'data-304');
    await trust(data);
    const path = '/images/revalidate.aci';
    server.routes.set(path, { kind: 'file', body: aciBytes, etag: '"r1"', cacheControl: 'no-cache' });
    server.routes.set(`${path}.asc`, { kind: 'file', body: readFileSync(join(work, 'busybox.aci.asc')) });
    const first = await tspod(data, ['fetch', server.url(path)]);
    assert.equal(first.status, 0, first.stderr);
    const second = await tspod(data, ['fetch', server.url(path)]);
    assert.equal(second.status, 0, second.stderr);
    assert.equal(second.stdout, first.stdout);
    const gets = server.requestsFor(path);
    assert.equal(gets.at(-1)!.headers['if-none-match'], '"r1"');
  });

  test('a download cut off mid-way fails, and the next fetch resumes it with Range', async () => {
    const data = join(work, 'data-resume');
    await trust(data);
    const path = '/images/resume.aci';
    const route = { kind: 'file' as const, body: aciBytes, etag: '"z1"', dropAfter: 300_000 };
    server.routes.set(path, route);
    server.routes.set(`${path}.asc`, { kind: 'file', body: readFileSync(join(work, 'busybox.aci.asc')) });
    const cut = await tspod(data, ['fetch', server.url(path)]);
    assert.equal(cut.status, 254, 'the first attempt fails');
    assert.match(cut.stderr, /TSPOD_E_FETCH/);
    delete (route as { dropAfter?: number }).dropAfter;
    const resumed = await tspod(data, ['fetch', server.url(path)]);
    assert.equal(resumed.status, 0, resumed.stderr);
    const last = server.requestsFor(path).at(-1)!;
    assert.equal(last.headers.range, 'bytes=300000-');
    assert.match(resumed.stdout, /^sha512-/);
  });

  test('plain http is refused without --insecure-options=http', async () => {
    const r = await tspod(join(work, 'data-http'), ['fetch', `http://127.0.0.1:${server.port}/x.aci`]);
    assert.equal(r.status, 254);
    assert.match(r.stderr, /TSPOD_E_INSECURE/);
    assert.match(r.stderr, /--insecure-options=http/);
  });

  test('discovery by name: an untrusted key is refused and the offered keys are named', async () => {
    const r = await tspod(join(work, 'data-disc-untrusted'), ['fetch', `${NAME}:1.35.0`]);
    assert.equal(r.status, 254, r.stderr);
    assert.match(r.stderr, /TSPOD_E_SIG_UNTRUSTED/);
    assert.match(r.stderr, /pubkeys\.asc/);
    assert.match(r.stderr, /--trust-keys-from-https/);
  });

  test('discovery with --trust-keys-from-https trusts the offered key and fetches', async () => {
    const data = join(work, 'data-disc');
    const r = await tspod(data, ['fetch', `${NAME}:1.35.0`], ['--trust-keys-from-https']);
    assert.equal(r.status, 0, r.stderr);
    assert.match(r.stderr, new RegExp(`trusting key ${key.fingerprint}`, 'i'));
    assert.ok(existsSync(join(work, 'conf-data-disc', 'trustedkeys', 'prefix.d', NAME, key.fingerprint)));
    const list = JSON.parse((await tspod(data, ['image', 'list', '--format', 'json'])).stdout) as Array<{ name: string; source: string }>;
    assert.equal(list[0]!.name, NAME);
    assert.match(list[0]!.source, /^https:\/\/localhost:\d+\/images\//);
  });

  test('trust --prefix without a key file reviews and trusts the keys discovery offers', async () => {
    const data = join(work, 'data-trust-disc');
    const refused = await tspod(data, ['trust', '--prefix', NAME]);
    assert.equal(refused.status, 254, 'no terminal to confirm the fingerprint');
    assert.match(refused.stderr, /pubkeys\.asc/);
    assert.ok(refused.stderr.toLowerCase().replace(/ /g, '').includes(key.fingerprint), 'the fingerprint is shown for review');
    const r = await tspod(data, ['trust', '--prefix', NAME, '--skip-fingerprint-review']);
    assert.equal(r.status, 0, r.stderr);
    assert.ok(existsSync(join(work, 'conf-data-trust-disc', 'trustedkeys', 'prefix.d', NAME, key.fingerprint)));
    const fetched = await tspod(data, ['fetch', `${NAME}:1.35.0`]);
    assert.equal(fetched.status, 0, fetched.stderr);
  });

  test('a server that sends another image than the one asked for is refused', async () => {
    const data = join(work, 'data-wrong');
    await trust(data);
    const r = await tspod(data, ['fetch', `${NAME}:2.0.0`]);
    assert.equal(r.status, 254);
    // Nothing is served for 2.0.0: a clear fetch error naming the URL.
    assert.match(r.stderr, /TSPOD_E_FETCH|404/);
    const other = actoolAci(work, 'other', appcManifest('localhost/other'));
    server.routes.set(`/images/${NAME}-3.0.0-linux-amd64.aci`, { kind: 'file', body: readFileSync(other) });
    server.routes.set(`/images/${NAME}-3.0.0-linux-amd64.aci.asc`, { kind: 'file', body: readFileSync(gpg.sign(key, other)) });
    const wrong = await tspod(data, ['fetch', `${NAME}:3.0.0`]);
    assert.equal(wrong.status, 254);
    assert.match(wrong.stderr, /manifest names "localhost\/other"/);
  });
});
