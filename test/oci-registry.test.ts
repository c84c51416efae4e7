// The registry v2 client against Debian's real docker-registry on 127.0.0.1 (TLS from a throwaway
// PKI; a second, plain-http instance with htpasswd basic auth), images made by umoci from the
// host's static busybox and pushed by skopeo in Docker schema 2 and OCI formats, plus an OCI
// index over them. skopeo is the oracle for manifest digests; blob files are re-hashed with
// node:crypto. Token auth runs through an HTTPS front that demands a Bearer token and proxies to
// the real registry. Reference parsing and platform choice are checked on their own too.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { existsSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { ErrorCodes, type TspodError } from '../host/src/errors.js';
import type { Result } from '../host/src/result.js';
import { formatReference, parseDockerReference, type ImageReference } from '../host/src/oci/reference.js';
import { hostPlatform, MEDIA_TYPES, parseChallenge, RegistryClient, resolvePlatform } from '../host/src/oci/registry.js';
import { removeDir, tempDir } from './helpers/cli.js';
import { makeTestPki, type TestPki } from './helpers/https-server.js';
import {
  buildBusyboxLayout, putManifest, sha256, skopeoInspect, skopeoPush, startRegistry, startTokenFront,
  type TestRegistry, type TokenFront,
} from './helpers/registry.js';

const SECURE = { http: false, tls: false } as const;
const HEX = 'a'.repeat(64);

function unwrapErr<T>(r: Result<T, TspodError>): TspodError {
  if (r.isOk()) assert.fail(`expected an error, got ${JSON.stringify(r.value, (_k, v: unknown) => (Buffer.isBuffer(v) ? '<bytes>' : v))}`);
  return r.error;
}

function unwrapOk<T>(r: Result<T, TspodError>): T {
  if (r.isErr()) assert.fail(`expected success, got ${r.error.code}: ${r.error.what}: ${r.error.why}`);
  return r.value;
}

function ref(s: string): ImageReference {
  return unwrapOk(parseDockerReference(s));
}

describe('docker references', () => {
  it('expands Docker Hub names as Docker does', () => {
    const r = ref('docker://busybox');
    assert.deepEqual(r, { domain: 'docker.io', registry: 'registry-1.docker.io', repository: 'library/busybox', tag: 'latest' });
    assert.equal(formatReference(r), 'docker.io/library/busybox:latest');
    assert.deepEqual(ref('user/app:1.0'), { domain: 'docker.io', registry: 'registry-1.docker.io', repository: 'user/app', tag: '1.0' });
    assert.equal(ref('docker.io/busybox').repository, 'library/busybox');
    assert.equal(ref('index.docker.io/busybox').domain, 'docker.io');
  });

  it('recognises registries by a dot, a port or localhost', () => {
    assert.deepEqual(ref('docker://localhost:5000/a/b:t'), { domain: 'localhost:5000', registry: 'localhost:5000', repository: 'a/b', tag: 't' });
    assert.deepEqual(ref('quay.io/org/app'), { domain: 'quay.io', registry: 'quay.io', repository: 'org/app', tag: 'latest' });
    assert.deepEqual(ref('localhost/app'), { domain: 'localhost', registry: 'localhost', repository: 'app', tag: 'latest' });
    assert.equal(ref('127.0.0.1:5000/single').repository, 'single', 'no library/ outside Docker Hub');
    assert.equal(ref('foo/bar').domain, 'docker.io', 'a plain first component is part of the name');
  });

  it('takes digests, with or without a tag', () => {
    const d = `sha256:${HEX}`;
    assert.deepEqual(ref(`docker://quay.io/org/app@${d}`), { domain: 'quay.io', registry: 'quay.io', repository: 'org/app', digest: d });
    assert.deepEqual(ref(`app:1@${d}`), { domain: 'docker.io', registry: 'registry-1.docker.io', repository: 'library/app', tag: '1', digest: d });
    assert.equal(formatReference(ref(`h.io:443/a/b:t@${d}`)), `h.io:443/a/b:t@${d}`);
  });

  it('refuses malformed references with IMAGE_INVALID', () => {
    const cases: [string, RegExp][] = [
      ['', /empty/],
      ['docker://', /empty/],
      ['Busybox', /lower case/],
      ['docker.io/Library/busybox', /lower case/],
      ['busybox:-bad', /tag "-bad" is invalid/],
      [`busybox:${'x'.repeat(129)}`, /tag/],
      ['a//b', /component "" is invalid/],
      ['a/-b', /component "-b"/],
      ['busybox@sha256:abc', /not a digest/],
      [`busybox@sha256:${'A'.repeat(64)}`, /not a digest/],
      [`busybox@md5:${'a'.repeat(32)}`, /only sha256/],
      ['busybox@sha256:../../etc/passwd', /not a digest/],
      ['bad_host:99999/x', /registry "bad_host:99999"/],
      ['a b', /white space/],
      [`quay.io/${'a'.repeat(260)}`, /at most 255/],
    ];
    for (const [input, why] of cases) {
      const e = unwrapErr(parseDockerReference(input));
      assert.equal(e.code, ErrorCodes.IMAGE_INVALID, input);
      assert.match(e.why, why, input);
      assert.match(e.what, /parse image reference/);
    }
  });
});

describe('challenges and platforms', () => {
  it('parses WWW-Authenticate challenges', () => {
    assert.deepEqual(parseChallenge('Bearer realm="https://auth.docker.io/token",service="registry.docker.io",scope="repository:library/busybox:pull"'), {
      scheme: 'bearer',
      params: { realm: 'https://auth.docker.io/token', service: 'registry.docker.io', scope: 'repository:library/busybox:pull' },
    });
    assert.deepEqual(parseChallenge('Basic realm="tspod-test"'), { scheme: 'basic', params: { realm: 'tspod-test' } });
    assert.deepEqual(parseChallenge('Basic realm="x", Bearer realm="https://t/x",scope="a b"'), { scheme: 'bearer', params: { realm: 'https://t/x', scope: 'a b' } });
    assert.equal(parseChallenge('Negotiate abc'), undefined);
  });

  it('maps the host architecture to OCI names', () => {
    const p = unwrapOk(hostPlatform());
    assert.equal(p.os, 'linux');
    const want = { x64: ['amd64', undefined], arm64: ['arm64', 'v8'], arm: ['arm', 'v7'] }[process.arch as 'x64' | 'arm64' | 'arm'];
    if (want) {
      assert.equal(p.architecture, want[0]);
      assert.equal(p.variant, want[1]);
    }
  });

  it('chooses from an index fixture, with implied variants and a clear error', () => {
    const d = (c: string): string => `sha256:${c.repeat(64)}`;
    const index = {
      schemaVersion: 2,
      mediaType: MEDIA_TYPES.ociIndex,
      manifests: [
        { mediaType: MEDIA_TYPES.ociManifest, digest: d('1'), size: 10, platform: { os: 'linux', architecture: 'arm', variant: 'v6' } },
        { mediaType: MEDIA_TYPES.ociManifest, digest: d('2'), size: 11, platform: { os: 'linux', architecture: 'arm' } },
        { mediaType: MEDIA_TYPES.ociManifest, digest: d('3'), size: 12, platform: { os: 'linux', architecture: 'arm64', variant: 'v8' } },
        { mediaType: MEDIA_TYPES.ociManifest, digest: d('4'), size: 13, platform: { os: 'unknown', architecture: 'unknown' } },
        { mediaType: MEDIA_TYPES.ociManifest, digest: d('5'), size: 14, platform: { os: 'linux', architecture: 'amd64' } },
      ],
    };
    assert.equal(unwrapOk(resolvePlatform(index, { os: 'linux', architecture: 'arm', variant: 'v7' })).digest, d('2'));
    assert.equal(unwrapOk(resolvePlatform(index, { os: 'linux', architecture: 'arm', variant: 'v6' })).digest, d('1'));
    assert.equal(unwrapOk(resolvePlatform(index, { os: 'linux', architecture: 'arm64' })).digest, d('3'));
    assert.equal(unwrapOk(resolvePlatform(index, { os: 'linux', architecture: 'amd64' })).size, 14);
    const e = unwrapErr(resolvePlatform(index, { os: 'linux', architecture: 's390x' }));
    assert.equal(e.code, ErrorCodes.NOT_FOUND);
    assert.match(e.why, /offers only linux\/arm\/v6, linux\/arm, linux\/arm64\/v8, unknown\/unknown, linux\/amd64/);
    assert.equal(unwrapErr(resolvePlatform({ schemaVersion: 2 }, { os: 'linux', architecture: 'amd64' })).code, ErrorCodes.MANIFEST_INVALID);
    const bad = { manifests: [{ mediaType: MEDIA_TYPES.ociManifest, digest: 'sha256:../x', size: 1, platform: { os: 'linux', architecture: 'amd64' } }] };
    assert.match(unwrapErr(resolvePlatform(bad, { os: 'linux', architecture: 'amd64' })).why, /no valid sha256 digest/);
  });
});

describe('registry v2 client against docker-registry', { timeout: 120_000 }, () => {
  let dir: string;
  let pki: TestPki;
  let reg: TestRegistry | undefined;
  let plain: TestRegistry | undefined;
  let front: TokenFront | undefined;
  const user = { username: 'alice', password: randomBytes(9).toString('base64url') };

  before(async () => {
    dir = tempDir('oci-registry');
    pki = makeTestPki(join(dir, 'pki'));
    reg = await startRegistry({ dir: join(dir, 'reg'), pki });
    plain = await startRegistry({ dir: join(dir, 'plain'), user });
    const layout = join(dir, 'layout');
    buildBusyboxLayout(layout, 'v1');
    buildBusyboxLayout(layout, 'arm64', { arch: 'arm64', extra: 'arm64 variant\n' });
    buildBusyboxLayout(layout, 'tamper', { extra: randomBytes(64).toString('hex') });
    skopeoPush(reg, layout, 'v1', 'test/busybox:v2s2', 'v2s2');
    skopeoPush(reg, layout, 'v1', 'test/busybox:oci', 'oci');
    skopeoPush(reg, layout, 'arm64', 'test/busybox:arm64', 'oci');
    skopeoPush(reg, layout, 'tamper', 'test/tamper:v1', 'v2s2');
    skopeoPush(plain, layout, 'v1', 'test/busybox:v1', 'v2s2');
    const entry = (tag: string, platform: object): object => {
      const raw = skopeoInspect(reg!, `test/busybox:${tag}`).raw;
      return { mediaType: MEDIA_TYPES.ociManifest, digest: sha256(raw), size: raw.length, platform };
    };
    const index = { schemaVersion: 2, mediaType: MEDIA_TYPES.ociIndex, manifests: [entry('oci', { os: 'linux', architecture: 'amd64' }), entry('arm64', { os: 'linux', architecture: 'arm64' })] };
    await putManifest(reg, pki.ca, 'test/busybox', 'multi', MEDIA_TYPES.ociIndex, Buffer.from(JSON.stringify(index, null, 2)));
    front = await startTokenFront(pki, reg);
  });

  after(async () => {
    await front?.close();
    await reg?.stop();
    await plain?.stop();
    if (dir) removeDir(dir);
  });

  const client = (extra: Partial<ConstructorParameters<typeof RegistryClient>[0]> = {}): RegistryClient => new RegistryClient({ insecure: SECURE, ca: pki.ca, ...extra });
  const at = (r: TestRegistry | TokenFront, path: string): ImageReference => ref(`docker://${r.host}/${path}`);

  for (const [tag, mediaType] of [
    ['v2s2', MEDIA_TYPES.dockerManifest],
    ['oci', MEDIA_TYPES.ociManifest],
  ] as const) {
    it(`gets a ${tag} manifest whose digest equals skopeo's, and every blob verified`, async () => {
      const c = client();
      const m = unwrapOk(await c.getManifest(at(reg!, `test/busybox:${tag}`)));
      const oracle = skopeoInspect(reg!, `test/busybox:${tag}`);
      assert.equal(m.mediaType, mediaType);
      assert.ok(m.bytes.equals(oracle.raw), 'the bytes as served');
      assert.equal(m.digest, sha256(oracle.raw));
      assert.equal(m.digest, oracle.digest);
      assert.ok(c.log.some((l) => l.includes('/manifests/')), 'requests are logged');
      const doc = m.json as { config: { digest: string; size: number }; layers: { digest: string; size: number }[] };
      assert.equal(doc.layers.length, 1);
      for (const blob of [doc.config, ...doc.layers]) {
        const dest = join(dir, `blob-${tag}-${blob.digest.slice(7, 19)}`);
        const got = unwrapOk(await c.getBlobToFile(at(reg!, 'test/busybox'), blob.digest, dest));
        assert.equal(got.size, blob.size);
        assert.equal(statSync(dest).size, blob.size);
        assert.equal(sha256(readFileSync(dest)), blob.digest);
      }
      // Pinned by digest: the same bytes.
      const byDigest = unwrapOk(await c.getManifest(at(reg!, `test/busybox@${m.digest}`)));
      assert.ok(byDigest.bytes.equals(m.bytes));
      assert.equal(byDigest.digest, m.digest);
      const byDigest2 = unwrapOk(await c.getManifestByDigest(at(reg!, 'test/busybox'), m.digest));
      assert.equal(byDigest2.digest, m.digest);
    });
  }

  it('resolves the multi-platform index and gets the chosen manifest', async () => {
    const c = client();
    const r = at(reg!, 'test/busybox:multi');
    const idx = unwrapOk(await c.getManifest(r));
    assert.equal(idx.mediaType, MEDIA_TYPES.ociIndex);
    const oracle = skopeoInspect(reg!, 'test/busybox:multi');
    assert.equal(idx.digest, sha256(oracle.raw));
    assert.equal(idx.digest, oracle.digest);
    const amd = unwrapOk(resolvePlatform(idx.json, { os: 'linux', architecture: 'amd64' }));
    assert.equal(amd.digest, skopeoInspect(reg!, 'test/busybox:oci').digest);
    const armDigest = skopeoInspect(reg!, 'test/busybox:arm64').digest;
    assert.equal(unwrapOk(resolvePlatform(idx.json, { os: 'linux', architecture: 'arm64', variant: 'v8' })).digest, armDigest, 'arm64 implies v8');
    const arm = unwrapOk(await c.getImageManifest(r, { os: 'linux', architecture: 'arm64', variant: 'v8' }));
    assert.equal(arm.digest, armDigest);
    assert.equal(arm.mediaType, MEDIA_TYPES.ociManifest);
    assert.equal(arm.index?.digest, idx.digest);
    const e = unwrapErr(await c.getImageManifest(r, { os: 'linux', architecture: 's390x' }));
    assert.equal(e.code, ErrorCodes.NOT_FOUND);
    assert.match(e.why, /offers only linux\/amd64, linux\/arm64$/);
    // A plain manifest passes through getImageManifest unchanged.
    const single = unwrapOk(await c.getImageManifest(at(reg!, 'test/busybox:oci')));
    assert.equal(single.index, undefined);
    if (process.arch === 'x64') assert.equal(unwrapOk(await c.getImageManifest(r)).digest, amd.digest, 'the host platform by default');
  });

  it('refuses wrong, missing and malformed digests', async () => {
    const c = client();
    const missing = unwrapErr(await c.getManifest(at(reg!, `test/busybox@sha256:${HEX}`)));
    assert.equal(missing.code, ErrorCodes.NOT_FOUND);
    const noTag = unwrapErr(await c.getManifest(at(reg!, 'test/busybox:nope')));
    assert.equal(noTag.code, ErrorCodes.NOT_FOUND);
    assert.match(noTag.why, /no manifest nope in test\/busybox \(404\)/);
    const dest = join(dir, 'missing-blob');
    const noBlob = unwrapErr(await c.getBlobToFile(at(reg!, 'test/busybox'), `sha256:${HEX}`, dest));
    assert.equal(noBlob.code, ErrorCodes.NOT_FOUND);
    assert.equal(existsSync(dest), false);
    const before = c.log.length;
    for (const bad of ['sha256:../../../etc/passwd', `sha512:${HEX}${HEX}`, 'sha256:ABC', '']) {
      const e = unwrapErr(await c.getBlobToFile(at(reg!, 'test/busybox'), bad, dest));
      assert.equal(e.code, ErrorCodes.IMAGE_INVALID, bad);
      assert.equal(unwrapErr(await c.getManifestByDigest(at(reg!, 'test/busybox'), bad)).code, ErrorCodes.IMAGE_INVALID);
    }
    assert.equal(c.log.length, before, 'no request for a malformed digest');
  });

  it('refuses a tampered blob and a tampered manifest', async () => {
    const c = client();
    const r = at(reg!, 'test/tamper:v1');
    const m = unwrapOk(await c.getManifest(r));
    const layer = (m.json as { layers: { digest: string }[] }).layers[0]!.digest;
    // Same length, one byte flipped, in the registry's own storage.
    const file = reg!.blobPath(layer);
    const data = readFileSync(file);
    data[data.length >> 1]! ^= 0xff;
    writeFileSync(file, data);
    const dest = join(dir, 'tampered-layer');
    const e = unwrapErr(await c.getBlobToFile(r, layer, dest));
    assert.equal(e.code, ErrorCodes.IMAGE_INVALID);
    assert.match(e.why, new RegExp(`not ${layer}`));
    assert.equal(existsSync(dest), false, 'nothing is left at dest');
    assert.equal(existsSync(`${dest}.part`), false);
    // The manifest: still JSON, one byte of white space more.
    const mfile = reg!.blobPath(m.digest);
    writeFileSync(mfile, Buffer.concat([readFileSync(mfile), Buffer.from(' ')]));
    const byTag = unwrapErr(await c.getManifest(r));
    assert.equal(byTag.code, ErrorCodes.IMAGE_INVALID);
    assert.match(byTag.why, /Docker-Content-Digest/);
    const byDigest = unwrapErr(await c.getManifest(at(reg!, `test/tamper@${m.digest}`)));
    assert.equal(byDigest.code, ErrorCodes.IMAGE_INVALID);
  });

  it('refuses plain http without insecure.http; speaks it with it, with basic auth', async () => {
    const r = at(plain!, 'test/busybox:v1');
    const refused = unwrapErr(await client().getManifest(r));
    assert.equal(refused.code, ErrorCodes.INSECURE);
    assert.match(refused.why, /does not speak https.*--insecure-options=http/);
    const anonymous = unwrapErr(await client({ insecure: { http: true, tls: false } }).getManifest(r));
    assert.equal(anonymous.code, ErrorCodes.FETCH);
    assert.match(anonymous.why, /requires a user name and password \(Basic/);
    const wrong = unwrapErr(await client({ insecure: { http: true, tls: false }, auth: () => ({ username: 'alice', password: 'wrong' }) }).getManifest(r));
    assert.match(wrong.why, /refused the credentials/);
    const seen: string[] = [];
    const c = client({ insecure: { http: true, tls: false }, auth: (host) => (seen.push(host), user) });
    const m = unwrapOk(await c.getManifest(r));
    assert.equal(m.digest, skopeoInspect(plain!, 'test/busybox:v1').digest);
    assert.ok(seen.includes(plain!.host), 'credentials are looked up by registry host:port');
    assert.ok(c.log.some((l) => l.startsWith(`GET http://${plain!.host}/v2/test/busybox/manifests/v1`)));
    const layer = (m.json as { layers: { digest: string }[] }).layers[0]!.digest;
    const dest = join(dir, 'plain-layer');
    unwrapOk(await c.getBlobToFile(r, layer, dest));
    assert.equal(sha256(readFileSync(dest)), layer);
  });

  it('refuses an untrusted certificate unless insecure.tls', async () => {
    const r = at(reg!, 'test/busybox:oci');
    const e = unwrapErr(await new RegistryClient({ insecure: SECURE }).getManifest(r));
    assert.equal(e.code, ErrorCodes.INSECURE);
    assert.match(e.why, /not trusted/);
    const m = unwrapOk(await new RegistryClient({ insecure: { http: false, tls: true } }).getManifest(r));
    assert.equal(m.digest, skopeoInspect(reg!, 'test/busybox:oci').digest);
  });

  it('fetches, caches and uses Bearer tokens; refuses a broken token service', async () => {
    const f = front!;
    f.mode = 'json';
    delete f.user;
    const r = at(f, 'test/busybox:oci');
    const c = client();
    const m = unwrapOk(await c.getManifest(r));
    assert.equal(m.digest, skopeoInspect(reg!, 'test/busybox:oci').digest);
    const tokenRequests = (): string[] => f.requests.filter((l) => l.startsWith('GET /token'));
    assert.equal(tokenRequests().length, 1);
    assert.match(tokenRequests()[0]!, /service=tspod-test&scope=repository%3Atest%2Fbusybox%3Apull -$/);
    unwrapOk(await c.getManifest(at(f, 'test/busybox:v2s2')));
    assert.equal(tokenRequests().length, 1, 'the token is cached per scope');
    // A fresh client's first request is a blob: 401 from the download, challenge, token, retry.
    const c2 = client();
    const layer = (m.json as { layers: { digest: string }[] }).layers[0]!.digest;
    const dest = join(dir, 'token-layer');
    unwrapOk(await c2.getBlobToFile(r, layer, dest));
    assert.equal(sha256(readFileSync(dest)), layer);
    assert.equal(tokenRequests().length, 2);
    // Credentials go to the token service as basic auth.
    f.user = user;
    unwrapOk(await client({ auth: () => user }).getManifest(r));
    assert.match(f.requests.filter((l) => l.startsWith('GET /token')).at(-1)!, / Basic$/);
    const refused = unwrapErr(await client({ auth: () => ({ username: 'alice', password: 'nope' }) }).getManifest(r));
    assert.equal(refused.code, ErrorCodes.FETCH);
    assert.match(refused.why, /token service refused the credentials for alice/);
    delete f.user;
    f.mode = 'garbage';
    const garbage = unwrapErr(await client().getManifest(r));
    assert.equal(garbage.code, ErrorCodes.FETCH);
    assert.match(garbage.why, /not JSON/);
    f.mode = 'json';
  });

  it('resumes an interrupted blob download with Range and still verifies it', async () => {
    const f = front!;
    const r = at(f, 'test/busybox:oci');
    const c = client();
    const m = unwrapOk(await c.getManifest(r));
    const layer = (m.json as { layers: { digest: string; size: number }[] }).layers[0]!;
    const dest = join(dir, 'resumed-layer');
    const cut = 300_000;
    f.dropBlobAfter = cut;
    try {
      const e = unwrapErr(await c.getBlobToFile(r, layer.digest, dest));
      assert.equal(e.code, ErrorCodes.FETCH);
      assert.match(e.why, new RegExp(`after ${cut} of ${layer.size} bytes`));
      assert.equal(existsSync(dest), false);
      assert.equal(statSync(`${dest}.part`).size, cut);
    } finally {
      delete f.dropBlobAfter;
    }
    const got = unwrapOk(await c.getBlobToFile(r, layer.digest, dest));
    assert.equal(got.statusCode, 206);
    assert.equal(got.resumedFrom, cut);
    assert.equal(got.size, layer.size);
    assert.equal(sha256(readFileSync(dest)), layer.digest);
    assert.equal(existsSync(`${dest}.part`), false);
  });

  it('refuses oversized, non-JSON and schema 1 manifests', async () => {
    const f = front!;
    const r = at(f, 'test/busybox:oci');
    const cases: [string, Buffer, RegExp, string][] = [
      [MEDIA_TYPES.ociManifest, Buffer.alloc((4 << 20) + 1, 0x20), /more than 4194304 bytes/, ErrorCodes.FETCH],
      [MEDIA_TYPES.ociManifest, Buffer.from('<html>not a manifest</html>'), /not JSON/, ErrorCodes.MANIFEST_INVALID],
      ['application/vnd.docker.distribution.manifest.v1+prettyjws', Buffer.from('{"schemaVersion":1,"name":"x"}'), /schema 1/, ErrorCodes.MANIFEST_INVALID],
      ['text/plain', Buffer.from('{"schemaVersion":2}'), /unsupported manifest media type "text\/plain"/, ErrorCodes.MANIFEST_INVALID],
    ];
    try {
      for (const [contentType, body, why, code] of cases) {
        f.manifestOverride = { contentType, body };
        const e = unwrapErr(await client().getManifest(r));
        assert.equal(e.code, code, contentType);
        assert.match(e.why, why);
      }
    } finally {
      delete f.manifestOverride;
    }
  });
});
