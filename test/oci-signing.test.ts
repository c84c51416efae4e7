// containers/image "simple signing" verification against the real tools: a gpg key made in the
// test (throwaway GNUPGHOME), busybox images built with umoci and pushed with
// `skopeo copy --sign-by` into Debian's docker-registry on 127.0.0.1, skopeo writing the
// signatures into a lookaside directory configured by a private registries.d
// (`lookaside-staging: file://...`). skopeo is the oracle for manifest digests. Variants that
// skopeo would never write (another reference, unknown critical keys, wrong type, SHA-1, ...)
// are made with `skopeo standalone-sign` or by signing a hand-written payload with `gpg --sign`.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { ErrorCodes, type TspodError } from '../host/src/errors.js';
import type { Result } from '../host/src/result.js';
import { Keystore } from '../host/src/trust/keystore.js';
import {
  lookasidePath, readLookasideSignatures, trustNameFor, verifySimpleSignature,
  type VerifiedSimpleSignature,
} from '../host/src/oci/simple-signing.js';
import { removeDir, tempDir } from './helpers/cli.js';
import { Gpg, type GpgKey } from './helpers/gpg.js';
import { buildBusyboxLayout, sha256, skopeoInspect, startRegistry, type TestRegistry } from './helpers/registry.js';
import { unwrapErr, unwrapOk } from './helpers/result.js';



describe('simple signing (skopeo --sign-by, lookaside)', () => {
  let dir: string;
  let gpg: Gpg;
  let signer: GpgKey;
  let stranger: GpgKey;
  let reg: TestRegistry | undefined;
  let look: string;
  let keystore: Keystore;
  let ref1: string;
  let ref2: string;
  let digest1: string;
  let digest2: string;
  let manifest1: Buffer;
  let trustName: string;

  /** Runs skopeo with the test's GNUPGHOME (for --sign-by and standalone-sign). */
  const skopeo = (args: string[]): string => {
    const r = spawnSync('skopeo', args, { encoding: 'utf8', env: { ...process.env, GNUPGHOME: gpg.home }, maxBuffer: 64 << 20 });
    if (r.status !== 0) throw new Error(`skopeo ${args.join(' ')} failed (${r.status}): ${r.stderr}`);
    return r.stdout;
  };

  /** Signs a hand-written payload as a signed message (`gpg --sign`, not detached). */
  const signPayload = (payload: string, opts: { key?: GpgKey; digest?: string; armor?: boolean; compress?: boolean; detach?: boolean } = {}): Buffer => {
    const name = `payload-${Math.random().toString(16).slice(2)}`;
    const file = join(dir, name);
    const out = `${file}.sig`;
    writeFileSync(file, payload);
    gpg.run(['--local-user', (opts.key ?? signer).fingerprint, ...(opts.digest ? ['--digest-algo', opts.digest] : []),
      ...(opts.compress === false ? ['-z', '0'] : []), ...(opts.armor ? ['--armor'] : []),
      '--output', out, opts.detach ? '--detach-sign' : '--sign', file]);
    return readFileSync(out);
  };

  const payloadFor = (digest: string, reference: string, extraCritical: Record<string, unknown> = {}, type = 'atomic container signature'): string =>
    JSON.stringify({
      critical: { type, image: { 'docker-manifest-digest': digest }, identity: { 'docker-reference': reference }, ...extraCritical },
      optional: { creator: 'tspod test', timestamp: 1700000000 },
    });

  const verify = async (signature: Uint8Array, o: { reference?: string; digest?: string; ks?: Keystore } = {}): Promise<Result<VerifiedSimpleSignature, TspodError>> =>
    verifySimpleSignature({
      signature,
      expectedReference: o.reference ?? ref1,
      manifestDigest: o.digest ?? digest1,
      keystore: o.ks ?? keystore,
      source: `docker://${o.reference ?? ref1}`,
    });

  const keystoreDirs: string[] = [];
  const newKeystore = (): Keystore => {
    const base = tempDir('sigks');
    keystoreDirs.push(base);
    return new Keystore({ systemDir: join(base, 'system'), localDir: join(base, 'local') });
  };
  /** A fresh keystore with one key trusted for trustName, where `tspod trust` would put it. */
  const keystoreTrusting = (armored: string | Uint8Array, fingerprint: string): Keystore => {
    const ks = newKeystore();
    const path = ks.pathFor(fingerprint, { prefix: trustName });
    mkdirSync(join(path, '..'), { recursive: true });
    writeFileSync(path, armored);
    return ks;
  };

  before(async () => {
    dir = tempDir('oci-signing');
    gpg = new Gpg();
    signer = gpg.genKey('Image Signer <signer@example.com>');
    stranger = gpg.genKey('Stranger <stranger@example.com>');
    reg = await startRegistry({ dir: join(dir, 'registry') });
    look = join(dir, 'lookaside');
    const registriesD = join(dir, 'registries.d');
    mkdirSync(registriesD);
    // skopeo 1.9.3 (containers/image 5.23) knows `lookaside-staging` (the older `sigstore-staging` is an alias).
    writeFileSync(join(registriesD, 'test.yaml'), `docker:\n  ${reg.host}:\n    lookaside-staging: file://${look}\n`);
    const layout = join(dir, 'layout');
    buildBusyboxLayout(layout, '1', { extra: 'one' });
    buildBusyboxLayout(layout, '2', { extra: 'two' });
    ref1 = `${reg.host}/test/busybox:1`;
    ref2 = `${reg.host}/test/busybox:2`;
    for (const [tag, ref] of [['1', ref1], ['2', ref2]] as const) {
      skopeo(['copy', '--insecure-policy', '--quiet', '--registries.d', registriesD, ...reg.skopeoArgs('dest'),
        '--format', 'v2s2', '--sign-by', signer.fingerprint, `oci:${layout}:${tag}`, `docker://${ref}`]);
    }
    const i1 = skopeoInspect(reg, 'test/busybox:1');
    const i2 = skopeoInspect(reg, 'test/busybox:2');
    assert.equal(sha256(i1.raw), i1.digest, 'skopeo digest is the sha256 of the manifest bytes');
    digest1 = i1.digest;
    digest2 = i2.digest;
    manifest1 = i1.raw;
    assert.notEqual(digest1, digest2);
    trustName = unwrapOk(trustNameFor(ref1));
    keystore = newKeystore();
    // Trusted for the registry's `test` namespace: a prefix of the image's trust name.
    unwrapOk(await keystore.add(gpg.exportPublic(signer), { prefix: `127.0.0.1~${reg.port}/test` }));
  });

  after(async () => {
    await reg?.stop();
    gpg?.cleanup();
    if (dir) removeDir(dir);
    for (const d of keystoreDirs) removeDir(d);
  });

  const lookaside = async (repository: string, digest: string): Promise<Uint8Array[]> =>
    unwrapOk(await readLookasideSignatures(look, repository, digest));

  it('maps references to trust names (host~port/repository)', () => {
    assert.equal(trustName, `127.0.0.1~${reg!.port}/test/busybox`);
    assert.equal(unwrapOk(trustNameFor('busybox')), 'docker.io/library/busybox');
    assert.equal(unwrapOk(trustNameFor('docker://Quay.IO/org/app@sha256:' + 'a'.repeat(64))), 'quay.io/org/app');
    assert.equal(unwrapErr(trustNameFor('quay.io/a__b/c:1')).code, ErrorCodes.SIG_UNTRUSTED, '__ has no trust name');
  });

  it('finds skopeo\'s signatures at the containers/image lookaside path', async () => {
    const p = unwrapOk(lookasidePath(look, 'test/busybox', digest1, 0));
    assert.equal(p, join(look, `test/busybox@sha256=${digest1.slice('sha256:'.length)}`, 'signature-1'));
    assert.deepEqual(new Uint8Array(readFileSync(p)), (await lookaside('test/busybox', digest1))[0]);
    assert.equal((await lookaside('test/busybox', digest1)).length, 1);
    assert.equal((await lookaside('test/busybox', `sha256:${'0'.repeat(64)}`)).length, 0, 'no signatures: empty list');
    assert.equal(unwrapErr(lookasidePath(look, '../etc', digest1, 0)).code, ErrorCodes.IMAGE_INVALID);
    assert.equal(unwrapErr(lookasidePath(look, 'test/busybox', 'sha256:../x', 0)).code, ErrorCodes.IMAGE_INVALID);
  });

  it('reads signature-1, signature-2, ... until the first missing one', async () => {
    const base = tempDir('look2');
    try {
      const sig = (await lookaside('test/busybox', digest1))[0]!;
      const d = join(base, `a/b@sha256=${digest1.slice(7)}`);
      mkdirSync(d, { recursive: true });
      writeFileSync(join(d, 'signature-1'), sig);
      writeFileSync(join(d, 'signature-2'), Buffer.from('second'));
      writeFileSync(join(d, 'signature-4'), Buffer.from('after a gap: not read'));
      const got = unwrapOk(await readLookasideSignatures(base, 'a/b', digest1));
      assert.equal(got.length, 2);
      assert.equal(Buffer.from(got[1]!).toString(), 'second');
    } finally {
      removeDir(base);
    }
  });

  it('verifies a skopeo-signed image with a key trusted for its prefix', async () => {
    const [sig] = await lookaside('test/busybox', digest1);
    const v = unwrapOk(await verify(sig!));
    assert.deepEqual(v.signers, [{ fingerprint: signer.fingerprint, userIds: [signer.uid] }]);
    assert.equal(v.claims.manifestDigest, digest1);
    assert.equal(v.claims.dockerReference, ref1);
    const [sig2] = await lookaside('test/busybox', digest2);
    unwrapOk(await verify(sig2!, { reference: ref2, digest: digest2 }));
    // A digest reference matches any signed tag of the same repository (matchRepoDigestOrExact).
    unwrapOk(await verify(sig!, { reference: `${reg!.host}/test/busybox@${digest1}` }));
  });

  it('verifies skopeo standalone-sign output and armored gpg signed messages', async () => {
    const manifestFile = join(dir, 'manifest1.json');
    writeFileSync(manifestFile, manifest1);
    const out = join(dir, 'standalone.sig');
    skopeo(['standalone-sign', manifestFile, ref1, signer.fingerprint, '-o', out]);
    unwrapOk(await verify(readFileSync(out)));
    unwrapOk(await verify(signPayload(payloadFor(digest1, ref1), { armor: true })));
    unwrapOk(await verify(signPayload(payloadFor(digest1, ref1), { compress: false })));
  });

  it('refuses a signer that is not trusted, naming the key and the trust command', async () => {
    const [sig] = await lookaside('test/busybox', digest1);
    const e = unwrapErr(await verify(sig!, { ks: newKeystore() }));
    assert.equal(e.code, ErrorCodes.SIG_UNTRUSTED);
    assert.match(e.why, new RegExp(signer.fingerprint));
    assert.match(e.hint, new RegExp(`tspod trust --prefix 127\\.0\\.0\\.1~${reg!.port}/test/busybox KEY\\.asc`));

    const elsewhere = newKeystore();
    unwrapOk(await elsewhere.add(gpg.exportPublic(signer), { prefix: '127.0.0.1~1/test' }));
    const e2 = unwrapErr(await verify(sig!, { ks: elsewhere }));
    assert.equal(e2.code, ErrorCodes.SIG_UNTRUSTED);
    assert.match(e2.why, /trusted only for the prefix 127\.0\.0\.1~1\/test/);

    const e3 = unwrapErr(await verify(signPayload(payloadFor(digest1, ref1), { key: stranger })));
    assert.equal(e3.code, ErrorCodes.SIG_UNTRUSTED);
    assert.match(e3.why, new RegExp(stranger.fingerprint));
  });

  it('refuses a signature for another tag or repository', async () => {
    const [sig2] = await lookaside('test/busybox', digest2);
    // The :2 signature, checked as if the registry had served its manifest for :1.
    const e = unwrapErr(await verify(sig2!, { digest: digest2 }));
    assert.equal(e.code, ErrorCodes.SIG_INVALID);
    assert.match(e.why, /not for .*test\/busybox:1.*tag/);

    const manifestFile = join(dir, 'manifest1.json');
    writeFileSync(manifestFile, manifest1);
    for (const other of [`${reg!.host}/other/busybox:1`, `127.0.0.1:1/test/busybox:1`, `${reg!.host}/test/busybox:latest`]) {
      const out = join(dir, `other-${Math.random().toString(16).slice(2)}.sig`);
      skopeo(['standalone-sign', manifestFile, other, signer.fingerprint, '-o', out]);
      const e2 = unwrapErr(await verify(readFileSync(out)));
      assert.equal(e2.code, ErrorCodes.SIG_INVALID, other);
      assert.match(e2.why, /not for/);
    }
    // Name-only references never match, even for the right repository.
    const e3 = unwrapErr(await verify(signPayload(payloadFor(digest1, `${reg!.host}/test/busybox`))));
    assert.equal(e3.code, ErrorCodes.SIG_INVALID);
    assert.match(e3.why, /no tag or digest/);
  });

  it('refuses a signature for another manifest digest', async () => {
    const [sig] = await lookaside('test/busybox', digest1);
    const e = unwrapErr(await verify(sig!, { digest: digest2 }));
    assert.equal(e.code, ErrorCodes.SIG_INVALID);
    assert.match(e.why, new RegExp(`for the manifest ${digest1}.* is ${digest2}`));
  });

  it('refuses a tampered signature', async () => {
    // Change one hex digit of the signed digest inside an uncompressed signed message.
    const good = signPayload(payloadFor(digest1, ref1), { compress: false });
    const at = good.indexOf(Buffer.from(digest1));
    assert.ok(at > 0);
    const bad = Buffer.from(good);
    const pos = at + 'sha256:'.length;
    bad[pos] = bad[pos] === 0x61 ? 0x62 : 0x61;
    const e = unwrapErr(await verify(bad, { digest: `sha256:${bad.subarray(pos, pos + 64).toString()}` }));
    assert.equal(e.code, ErrorCodes.SIG_INVALID);
    assert.match(e.why, /does not match/);

    // A flipped byte in skopeo's (compressed) signature, and a truncated one.
    const [sig] = await lookaside('test/busybox', digest1);
    const flipped = Buffer.from(sig!);
    flipped[flipped.length - 20] ^= 0x01;
    assert.equal(unwrapErr(await verify(flipped)).code, ErrorCodes.SIG_INVALID);
    assert.equal(unwrapErr(await verify(sig!.subarray(0, sig!.length - 30))).code, ErrorCodes.SIG_INVALID);
    assert.equal(unwrapErr(await verify(new Uint8Array(0))).code, ErrorCodes.SIG_INVALID);
  });

  it('refuses unknown critical keys, a wrong type and malformed payloads', async () => {
    const cases: Array<[string, string, RegExp]> = [
      ['unknown critical key', payloadFor(digest1, ref1, { 'not-after': 1 }), /unknown field "not-after"/],
      ['unknown image key', JSON.stringify({ critical: { type: 'atomic container signature', image: { 'docker-manifest-digest': digest1, x: 1 }, identity: { 'docker-reference': ref1 } }, optional: {} }), /critical\.image has the unknown field "x"/],
      ['wrong type', payloadFor(digest1, ref1, {}, 'cosign container image signature'), /critical\.type/],
      ['malformed JSON', payloadFor(digest1, ref1).slice(0, -1), /not JSON/],
      ['no optional', JSON.stringify({ critical: JSON.parse(payloadFor(digest1, ref1)).critical }), /lacks the field "optional"/],
      ['duplicate key', payloadFor(digest1, ref1).replace('"critical":{', `"critical":{"type":"atomic container signature",`), /appears twice/],
      ['non-integer timestamp', payloadFor(digest1, ref1).replace('1700000000', '1.5'), /timestamp/],
      ['extra top-level key', JSON.stringify({ ...JSON.parse(payloadFor(digest1, ref1)), extra: true }), /unknown field "extra"/],
    ];
    for (const [name, payload, why] of cases) {
      const e = unwrapErr(await verify(signPayload(payload)));
      assert.equal(e.code, ErrorCodes.SIG_INVALID, name);
      assert.match(e.why, why, name);
    }
  });

  it('refuses a signature by a key that has expired since', async () => {
    const g2 = new Gpg();
    try {
      const k = g2.genKey('Expired Signer <expired@example.com>', { fakedTime: '20200101T000000', expire: '1d' });
      const payload = join(g2.home, 'payload.json');
      writeFileSync(payload, payloadFor(digest1, ref1));
      g2.run(['--faked-system-time', '20200101T010000', '--local-user', k.fingerprint, '--output', `${payload}.sig`, '--sign', payload]);
      const ks = keystoreTrusting(g2.exportPublic(k), k.fingerprint);
      const e = unwrapErr(await verify(readFileSync(`${payload}.sig`), { ks }));
      assert.equal(e.code, ErrorCodes.SIG_INVALID);
      assert.match(e.why, new RegExp(`${k.fingerprint}.*expired`));
    } finally {
      g2.cleanup();
    }
  });

  it('refuses SHA-1, detached signatures and revoked keys', async () => {
    const sha1 = unwrapErr(await verify(signPayload(payloadFor(digest1, ref1), { digest: 'SHA1' })));
    assert.equal(sha1.code, ErrorCodes.SIG_INVALID);
    assert.match(sha1.why, /SHA-1/);

    const detached = unwrapErr(await verify(signPayload(payloadFor(digest1, ref1), { detach: true, armor: true })));
    assert.equal(detached.code, ErrorCodes.SIG_INVALID);
    assert.match(detached.why, /not a signed message/);

    // A key revoked after signing: trusted (the revoked copy written where `tspod trust` would put it).
    const g2 = new Gpg();
    try {
      const k = g2.genKey('Revoked Signer <revoked@example.com>');
      const payload = join(g2.home, 'payload.json');
      writeFileSync(payload, payloadFor(digest1, ref1));
      g2.run(['--local-user', k.fingerprint, '--output', `${payload}.sig`, '--sign', payload]);
      g2.revoke(k);
      const ks = keystoreTrusting(g2.exportPublic(k), k.fingerprint);
      const e = unwrapErr(await verify(readFileSync(`${payload}.sig`), { ks }));
      assert.equal(e.code, ErrorCodes.SIG_INVALID);
      assert.match(e.why, new RegExp(`${k.fingerprint}.*revoked`));
      assert.match(e.hint, /tspod trust rm/);
    } finally {
      g2.cleanup();
    }
  });
});
