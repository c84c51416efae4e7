// Trusted keys, detached signature verification and signing, checked against real GnuPG:
// keys and signatures come from `gpg` in a throwaway GNUPGHOME; tspod's own signatures are
// checked by `gpg --verify` in a second home that holds only the public key.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { ErrorCodes, type TspodError } from '../host/src/errors.js';
import { Keystore } from '../host/src/trust/keystore.js';
import { readSignatureFile, verifyDetachedSignature, type VerifiedSignature } from '../host/src/trust/verify.js';
import { signDetached } from '../host/src/trust/sign.js';
import { TSPOD, removeDir, tempDir, tspod, type RunResult } from './helpers/cli.js';
import { Gpg, type GpgKey } from './helpers/gpg.js';

const NAME = 'example.com/app';

let gpg: Gpg;
let work: string;
let alice: GpgKey; // the publisher, ed25519
let bob: GpgKey; // a stranger, ed25519
let rita: GpgKey; // RSA 3072, for RSA and SHA-1 signatures
let old: GpgKey; // made in 2020, expired a day later
let gone: GpgKey; // revoked after it signed
let appAci: string;
let otherAci: string;
let confCount = 0;

before(() => {
  gpg = new Gpg();
  work = tempDir('trust');
  alice = gpg.genKey('Alice Publisher <alice@example.com>');
  bob = gpg.genKey('Bob Stranger <bob@example.org>');
  rita = gpg.genKey('Rita RSA <rita@example.com>', { algo: 'rsa3072' });
  old = gpg.genKey('Old Key <old@example.com>', { expire: '1d', fakedTime: '20200101T000000' });
  gone = gpg.genKey('Gone Key <gone@example.com>');
  // More than one 1 MiB read chunk, not a multiple of it: the streamed path is exercised.
  appAci = join(work, 'app.aci');
  writeFileSync(appAci, randomBytes((3 << 20) + 12345));
  otherAci = join(work, 'other.aci');
  writeFileSync(otherAci, randomBytes(4096));
  gpg.sign(alice, appAci); // app.aci.asc, armored
  gpg.sign(alice, appAci, { armor: false }); // app.aci.sig, binary
  gpg.sign(alice, otherAci); // other.aci.asc
  gpg.sign(bob, appAci, { out: join(work, 'app.bob.asc') });
  gpg.sign(rita, appAci, { out: join(work, 'app.rita.asc'), digest: 'SHA256' });
  gpg.sign(rita, appAci, { out: join(work, 'app.sha1.asc'), digest: 'SHA1' });
  gpg.sign(alice, appAci, { out: join(work, 'app.text.asc'), textmode: true });
  gpg.sign(old, appAci, { out: join(work, 'app.old.asc'), fakedTime: '20200101T120000' });
  gpg.sign(gone, appAci, { out: join(work, 'app.gone.asc') });
  gpg.revoke(gone);
});

after(() => {
  gpg?.cleanup();
  if (work) removeDir(work);
});

interface Conf {
  readonly sys: string;
  readonly loc: string;
  readonly keystore: Keystore;
  /** Global flags pointing the CLI at this configuration. */
  readonly flags: string[];
}

/** Fresh, empty system and local config dirs under the suite's temp dir. */
function conf(): Conf {
  const base = join(work, `conf-${++confCount}`);
  const sys = join(base, 'usr-lib');
  const loc = join(base, 'etc');
  mkdirSync(sys, { recursive: true });
  mkdirSync(loc, { recursive: true });
  return { sys, loc, keystore: new Keystore({ systemDir: sys, localDir: loc }), flags: ['--system-config', sys, '--local-config', loc] };
}

/** Writes a key file the way rkt's layout says: dir/trustedkeys/<rel>/<fingerprint>. */
function place(dir: string, rel: string, key: GpgKey, content?: string | Buffer): string {
  const d = join(dir, 'trustedkeys', rel);
  mkdirSync(d, { recursive: true });
  const path = join(d, key.fingerprint);
  writeFileSync(path, content ?? gpg.exportPublic(key));
  return path;
}

async function check(c: Conf, sig: string, opts: { data?: string | Uint8Array; name?: string } = {}) {
  return verifyDetachedSignature({
    data: opts.data ?? appAci,
    signature: readFileSync(sig),
    imageName: opts.name ?? NAME,
    keystore: c.keystore,
    source: 'app.aci',
  });
}

function expectOk(r: { isOk(): boolean; isErr(): boolean }): VerifiedSignature {
  const res = r as { isOk(): boolean; value?: VerifiedSignature; error?: TspodError };
  assert.ok(res.isOk(), `expected success, got ${JSON.stringify(res.error)}`);
  return res.value!;
}

function expectErr(r: unknown, code: string): TspodError {
  const res = r as { isErr(): boolean; value?: unknown; error?: TspodError };
  assert.ok(res.isErr(), `expected ${code}, got success ${JSON.stringify(res.value)}`);
  assert.equal(res.error!.code, code, JSON.stringify(res.error));
  return res.error!;
}

describe('verification', () => {
  test('a gpg --armor --detach-sign signature verifies with the key trusted for a prefix of the name', async () => {
    for (const prefix of ['example.com', 'example.com/app']) {
      const c = conf();
      place(c.sys, `prefix.d/${prefix}`, alice);
      const v = expectOk(await check(c, `${appAci}.asc`));
      assert.deepEqual(v.signers, [{ fingerprint: alice.fingerprint, userIds: [alice.uid] }]);
      // names under the prefix too, and the bytes in memory as well as the streamed file
      expectOk(await check(c, `${appAci}.asc`, { name: 'example.com/app/sub' }));
      expectOk(await check(c, `${appAci}.asc`, { data: new Uint8Array(readFileSync(appAci)) }));
    }
  });

  test('a root key verifies any name; a binary signature and an RSA key work too', async () => {
    const c = conf();
    place(c.loc, 'root.d', alice);
    place(c.loc, 'root.d', rita);
    expectOk(await check(c, `${appAci}.asc`, { name: 'anything.org/else' }));
    expectOk(await check(c, `${appAci}.sig`));
    const v = expectOk(await check(c, join(work, 'app.rita.asc')));
    assert.equal(v.signers[0]!.fingerprint, rita.fingerprint);
  });

  test('a signature by a signing subkey verifies with the primary key trusted', async () => {
    const sub = gpg.genKey('Sub Signer <sub@example.com>');
    gpg.run(['--pinentry-mode', 'loopback', '--passphrase', '', '--quick-add-key', sub.fingerprint, 'ed25519', 'sign', 'never']);
    const sig = gpg.sign(sub, appAci, { out: join(work, 'app.sub.asc') });
    const issuer = /issuer fpr v4 ([0-9A-F]+)/.exec(gpg.listPackets(sig))![1]!.toLowerCase();
    assert.notEqual(issuer, sub.fingerprint, 'gpg signed with the subkey');
    const c = conf();
    place(c.loc, 'prefix.d/example.com', sub);
    const v = expectOk(await check(c, sig));
    assert.deepEqual(v.signers, [{ fingerprint: sub.fingerprint, userIds: [sub.uid] }]);
  });

  test('an untrusted signer is refused, naming its fingerprint and the tspod trust command', async () => {
    const c = conf();
    place(c.sys, 'prefix.d/example.com', alice);
    const e = expectErr(await check(c, join(work, 'app.bob.asc')), ErrorCodes.SIG_UNTRUSTED);
    assert.equal(e.what, 'verify the signature of app.aci');
    assert.match(e.why, new RegExp(bob.fingerprint));
    assert.match(e.hint, /tspod trust --prefix example\.com\/app KEY\.asc/);
    assert.match(e.hint, /--insecure-options=image/);
    // with no key at all, the same
    expectErr(await check(conf(), `${appAci}.asc`), ErrorCodes.SIG_UNTRUSTED);
  });

  test('a key trusted for another prefix is refused, and says where it is trusted', async () => {
    const c = conf();
    place(c.loc, 'prefix.d/example.org', alice);
    place(c.loc, 'prefix.d/example.com/ap', alice); // a string prefix of the name, not a path prefix
    place(c.loc, 'prefix.d/example.com/app/sub', alice); // longer than the name
    const e = expectErr(await check(c, `${appAci}.asc`), ErrorCodes.SIG_UNTRUSTED);
    assert.match(e.why, new RegExp(alice.fingerprint));
    assert.match(e.why, /trusted only for the prefix .*example\.org/);
  });

  test('a tampered file is refused', async () => {
    const c = conf();
    place(c.sys, 'root.d', alice);
    const bytes = readFileSync(appAci);
    bytes[2_000_000] ^= 0x01;
    const tampered = join(work, 'tampered.aci');
    writeFileSync(tampered, bytes);
    const e = expectErr(await check(c, `${appAci}.asc`, { data: tampered }), ErrorCodes.SIG_INVALID);
    assert.match(e.why, /does not match the bytes of app\.aci/);
    assert.match(e.why, new RegExp(alice.fingerprint));
    expectErr(await check(c, `${appAci}.asc`, { data: new Uint8Array(bytes) }), ErrorCodes.SIG_INVALID);
    // one byte more at the end
    writeFileSync(tampered, Buffer.concat([readFileSync(appAci), Buffer.from([0])]));
    expectErr(await check(c, `${appAci}.asc`, { data: tampered }), ErrorCodes.SIG_INVALID);
  });

  test('the signature of another file is refused', async () => {
    const c = conf();
    place(c.sys, 'root.d', alice);
    const e = expectErr(await check(c, `${otherAci}.asc`), ErrorCodes.SIG_INVALID);
    assert.match(e.why, /does not match/);
  });

  test('a key that has expired since it signed is refused', async () => {
    const c = conf();
    place(c.loc, 'prefix.d/example.com', old);
    const e = expectErr(await check(c, join(work, 'app.old.asc')), ErrorCodes.SIG_INVALID);
    assert.match(e.why, new RegExp(`${old.fingerprint}.*expired on 2020-01-02`));
    assert.match(e.hint, /tspod trust rm/);
  });

  test('a key revoked after it signed is refused', async () => {
    const c = conf();
    place(c.loc, 'prefix.d/example.com', gone); // the export now carries the revocation
    const e = expectErr(await check(c, join(work, 'app.gone.asc')), ErrorCodes.SIG_INVALID);
    assert.match(e.why, new RegExp(`${gone.fingerprint}.*revoked`));
  });

  test('a SHA-1 signature is refused before the data is read', async () => {
    assert.match(gpg.listPackets(join(work, 'app.sha1.asc')), /digest algo 2,/); // gpg made SHA-1
    const c = conf();
    place(c.loc, 'root.d', rita);
    const e = expectErr(await check(c, join(work, 'app.sha1.asc')), ErrorCodes.SIG_INVALID);
    assert.match(e.why, /SHA-1/);
    assert.match(e.hint, /SHA-?512/);
    // not read: a missing data file still gives the hash error
    expectErr(await check(c, join(work, 'app.sha1.asc'), { data: join(work, 'absent.aci') }), ErrorCodes.SIG_INVALID);
  });

  test('text-mode, missing, empty, garbled and non-signature inputs are refused', async () => {
    const c = conf();
    place(c.loc, 'root.d', alice);
    const text = expectErr(await check(c, join(work, 'app.text.asc')), ErrorCodes.SIG_INVALID);
    assert.match(text.why, /text-mode/);
    const missing = expectErr(await readSignatureFile(join(work, 'absent.aci.asc'), 'absent.aci'), ErrorCodes.SIG_INVALID);
    assert.match(missing.why, /no signature file/);
    assert.match(missing.hint, /--insecure-options=image/);
    const verifyBytes = (signature: Uint8Array) =>
      verifyDetachedSignature({ data: appAci, signature, imageName: NAME, keystore: c.keystore, source: 'app.aci' });
    assert.match(expectErr(await verifyBytes(new Uint8Array(0)), ErrorCodes.SIG_INVALID).why, /no signature/);
    const asc = readFileSync(`${appAci}.asc`, 'utf8');
    const garbled = asc.replace(/\n([A-Za-z0-9+/]{10})/, (_m, s: string) => `\n${s.split('').reverse().join('')}`);
    assert.notEqual(garbled, asc);
    expectErr(await verifyBytes(Buffer.from(garbled)), ErrorCodes.SIG_INVALID);
    expectErr(await verifyBytes(randomBytes(300)), ErrorCodes.SIG_INVALID);
    const notSig = expectErr(await verifyBytes(gpg.exportPublic(alice)), ErrorCodes.SIG_INVALID);
    assert.match(notSig.why, /PUBLIC KEY BLOCK, not a detached signature/);
  });

  test('an empty local file masks the system key of the same name; a local key file wins again', async () => {
    const c = conf();
    place(c.sys, 'prefix.d/example.com', alice);
    expectOk(await check(c, `${appAci}.asc`));
    const mask = place(c.loc, 'prefix.d/example.com', alice, '');
    const e = expectErr(await check(c, `${appAci}.asc`), ErrorCodes.SIG_UNTRUSTED);
    assert.match(e.why, new RegExp(alice.fingerprint));
    assert.deepEqual((await c.keystore.list())._unsafeUnwrap(), []);
    // masking is per location: a system root key is not masked by the prefix mask
    place(c.sys, 'root.d', alice);
    expectOk(await check(c, `${appAci}.asc`));
    writeFileSync(mask, gpg.exportPublic(alice));
    const listed = (await c.keystore.list())._unsafeUnwrap();
    assert.deepEqual(listed.map((k) => [k.prefix, k.source]), [[null, 'system'], ['example.com', 'local']]);
  });

  test('a key file whose content does not match its name is refused as KEY_INVALID', async () => {
    const c = conf();
    place(c.loc, 'root.d', alice, gpg.exportPublic(bob));
    const e = expectErr(await check(c, `${appAci}.asc`), ErrorCodes.KEY_INVALID);
    assert.match(e.why, new RegExp(`holds the key ${bob.fingerprint}`));
  });
});

describe('keystore', () => {
  test('add writes the armored key at prefix.d/PREFIX/FINGERPRINT (0644, dirs 0755) and it verifies', async () => {
    const c = conf();
    const old = process.umask(0o077);
    try {
      const info = (await c.keystore.add(gpg.exportPublic(alice, false), { prefix: NAME }))._unsafeUnwrap();
      const path = join(c.loc, 'trustedkeys', 'prefix.d', 'example.com', 'app', alice.fingerprint);
      assert.deepEqual(info, { fingerprint: alice.fingerprint, userIds: [alice.uid], prefix: NAME, root: false, path, source: 'local' });
      assert.equal(statSync(path).mode & 0o777, 0o644);
      assert.equal(statSync(join(c.loc, 'trustedkeys', 'prefix.d', 'example.com')).mode & 0o777, 0o755);
      assert.match(readFileSync(path, 'utf8'), /^-----BEGIN PGP PUBLIC KEY BLOCK-----/);
    } finally {
      process.umask(old);
    }
    expectOk(await check(c, `${appAci}.asc`));
    const root = (await c.keystore.add(gpg.exportPublic(rita), { root: true }))._unsafeUnwrap();
    assert.equal(root.path, join(c.loc, 'trustedkeys', 'root.d', rita.fingerprint));
  });

  test('add refuses secret, expired and revoked keys, several keys, garbage and bad prefixes', async () => {
    const c = conf();
    const add = (bytes: string | Buffer, target: { prefix: string } | { root: true } = { prefix: NAME }) =>
      c.keystore.add(typeof bytes === 'string' ? Buffer.from(bytes) : bytes, target);
    assert.match(expectErr(await add(gpg.exportSecret(alice)), ErrorCodes.KEY_INVALID).why, /secret \(private\) key/);
    assert.match(expectErr(await add(gpg.exportPublic(old)), ErrorCodes.KEY_INVALID).why, /expired/);
    assert.match(expectErr(await add(gpg.exportPublic(gone)), ErrorCodes.KEY_INVALID).why, /revoked/);
    const two = Buffer.concat([gpg.exportPublic(alice, false), gpg.exportPublic(bob, false)]);
    assert.match(expectErr(await add(two), ErrorCodes.KEY_INVALID).why, /holds 2 keys/);
    expectErr(await add('not a key'), ErrorCodes.KEY_INVALID);
    for (const prefix of ['Example.com', 'example.com/../etc', '/example.com', 'example.com/', 'a//b', '']) {
      expectErr(await add(gpg.exportPublic(alice), { prefix }), ErrorCodes.USAGE);
    }
    assert.equal(existsSync(join(c.loc, 'trustedkeys')), false, 'nothing was written');
  });

  test('add refuses a key that cannot sign', async () => {
    const c = conf();
    const enc = gpg.genKey('Encrypt Only <enc@example.com>', { algo: 'rsa2048', usage: 'encr' });
    assert.match(expectErr(await c.keystore.add(gpg.exportPublic(enc), { root: true }), ErrorCodes.KEY_INVALID).why, /sign/);
  });

  test('remove deletes local key files and masks system copies', async () => {
    const c = conf();
    const local = place(c.loc, 'prefix.d/example.com', alice);
    const sys = place(c.sys, 'root.d', alice);
    const removed = (await c.keystore.remove(alice.fingerprint.toUpperCase()))._unsafeUnwrap();
    const mask = join(c.loc, 'trustedkeys', 'root.d', alice.fingerprint);
    assert.deepEqual(removed.sort(), [local, mask].sort());
    assert.equal(existsSync(local), false);
    assert.equal(statSync(mask).size, 0);
    assert.ok(existsSync(sys), 'the system dir is not written');
    expectErr(await check(c, `${appAci}.asc`), ErrorCodes.SIG_UNTRUSTED);
    expectErr(await c.keystore.remove(alice.fingerprint), ErrorCodes.NOT_FOUND);
    expectErr(await c.keystore.remove('abcd'), ErrorCodes.USAGE);
  });
});

describe('signing', () => {
  test('signDetached makes a SHA-512 signature that tspod and gpg verify', async () => {
    const sig = (await signDetached(appAci, Buffer.from(gpg.exportSecret(alice))))._unsafeUnwrap();
    const path = join(work, 'lib-signed.asc');
    writeFileSync(path, sig);
    assert.match(gpg.listPackets(path), /digest algo 10,/);
    const c = conf();
    place(c.loc, 'root.d', alice);
    expectOk(await check(c, path));
    assert.equal(gpg.try(['--verify', path, appAci]).status, 0);
    // a public key cannot sign; nor can an expired one
    expectErr(await signDetached(appAci, gpg.exportPublic(alice)), ErrorCodes.KEY_INVALID);
    expectErr(await signDetached(appAci, Buffer.from(gpg.exportSecret(old))), ErrorCodes.KEY_INVALID);
  });
});

describe('tspod image sign', () => {
  test('writes FILE.asc that gpg --verify accepts with only the public key, and refuses to overwrite', () => {
    const dir = tempDir('sign');
    const verifier = new Gpg();
    try {
      const aci = join(dir, 'hello.aci');
      writeFileSync(aci, randomBytes(100_000));
      const key = join(dir, 'secret.asc');
      writeFileSync(key, gpg.exportSecret(alice));
      const c = conf();
      const r = tspod([...c.flags, 'image', 'sign', '--key', key, aci]);
      assert.equal(r.status, 0, r.stderr);
      assert.equal(r.stdout, `${aci}.asc\n`);
      const asc = readFileSync(`${aci}.asc`, 'utf8');
      assert.match(asc, /^-----BEGIN PGP SIGNATURE-----/);
      assert.equal(statSync(`${aci}.asc`).mode & 0o777, 0o644);
      verifier.importKey(gpg.exportPublic(alice));
      const v = verifier.try(['--verify', `${aci}.asc`, aci]);
      assert.equal(v.status, 0, v.stderr);
      assert.match(v.stderr, /Good signature from "Alice Publisher/);
      assert.match(verifier.listPackets(`${aci}.asc`), /digest algo 10,/);
      // a different file does not verify with it
      writeFileSync(join(dir, 'x.aci'), randomBytes(10));
      assert.notEqual(verifier.try(['--verify', `${aci}.asc`, join(dir, 'x.aci')]).status, 0);

      const again = tspod([...c.flags, 'image', 'sign', '--key', key, aci]);
      assert.equal(again.status, 254);
      assert.match(again.stderr, /TSPOD_E_EXISTS.*--overwrite/);
      assert.equal(readFileSync(`${aci}.asc`, 'utf8'), asc);
      const over = tspod([...c.flags, 'image', 'sign', '--key', key, '--overwrite', aci]);
      assert.equal(over.status, 0, over.stderr);
      assert.equal(verifier.try(['--verify', `${aci}.asc`, aci]).status, 0);
    } finally {
      verifier.cleanup();
      removeDir(dir);
    }
  });

  test('a passphrase-protected key needs --passphrase-file; usage errors exit 2', () => {
    const dir = tempDir('sign');
    try {
      const locked = gpg.genKey('Locked Key <locked@example.com>', { passphrase: 'open sesame' });
      const aci = join(dir, 'a.aci');
      writeFileSync(aci, 'data');
      const key = join(dir, 'locked.asc');
      writeFileSync(key, gpg.exportSecret(locked, 'open sesame'));
      const c = conf();
      const noPass = tspod([...c.flags, 'image', 'sign', '--key', key, aci]);
      assert.equal(noPass.status, 254);
      assert.match(noPass.stderr, /protected by a passphrase\n.*TSPOD_E_KEY_INVALID.*--passphrase-file/);
      writeFileSync(join(dir, 'wrong'), 'nope\n');
      const wrong = tspod([...c.flags, 'image', 'sign', '--key', key, '--passphrase-file', join(dir, 'wrong'), aci]);
      assert.equal(wrong.status, 254);
      assert.match(wrong.stderr, /TSPOD_E_KEY_INVALID/);
      writeFileSync(join(dir, 'pass'), 'open sesame\n');
      const good = tspod([...c.flags, 'image', 'sign', '--key', key, '--passphrase-file', join(dir, 'pass'), aci]);
      assert.equal(good.status, 0, good.stderr);
      assert.equal(gpg.try(['--verify', `${aci}.asc`, aci]).status, 0);
      assert.equal(tspod([...c.flags, 'image', 'sign', aci]).status, 2);
      assert.equal(tspod([...c.flags, 'image', 'sign', '--key', key]).status, 2);
    } finally {
      removeDir(dir);
    }
  });
});

describe('tspod trust', () => {
  let keyFile: string;
  before(() => {
    keyFile = join(work, 'alice.asc');
    writeFileSync(keyFile, gpg.exportPublic(alice));
  });

  const trust = (c: Conf, args: string[], input = ''): RunResult => tspod([...c.flags, 'trust', ...args], { input });

  test('--prefix writes the key at prefix.d/PREFIX/FINGERPRINT; list shows it; rm removes it', async () => {
    const c = conf();
    const r = trust(c, ['--prefix', NAME, '--skip-fingerprint-review', keyFile]);
    assert.equal(r.status, 0, r.stderr);
    const path = join(c.loc, 'trustedkeys', 'prefix.d', 'example.com', 'app', alice.fingerprint);
    assert.equal(r.stdout, `Added key for prefix "${NAME}" at ${JSON.stringify(path)}\n`);
    assert.match(r.stderr, /Prefix: "example\.com\/app"/);
    const spaced = alice.fingerprint.toUpperCase().match(/.{4}/g)!;
    assert.ok(r.stderr.includes(`GPG key fingerprint is: ${spaced.slice(0, 5).join(' ')}  ${spaced.slice(5).join(' ')}`), r.stderr);
    assert.match(r.stderr, /Alice Publisher <alice@example\.com>/);
    assert.equal(statSync(path).mode & 0o777, 0o644);
    expectOk(await check(c, `${appAci}.asc`));

    const json = trust(c, ['list', '--format', 'json']);
    assert.equal(json.status, 0, json.stderr);
    assert.deepEqual(JSON.parse(json.stdout), [
      { fingerprint: alice.fingerprint, userIds: [alice.uid], prefix: NAME, root: false, path, source: 'local' },
    ]);
    const text = trust(c, ['list']);
    assert.match(text.stdout, /^PREFIX +FINGERPRINT +SOURCE +USER IDS\n/);
    assert.match(text.stdout, new RegExp(`example\\.com/app +${alice.fingerprint} +local +Alice Publisher`));

    const rm = trust(c, ['rm', alice.fingerprint]);
    assert.equal(rm.status, 0, rm.stderr);
    assert.equal(rm.stdout, `Removed ${JSON.stringify(path)}\n`);
    assert.equal(existsSync(path), false);
    assert.deepEqual(JSON.parse(trust(c, ['list', '--format', 'json']).stdout), []);
    const again = trust(c, ['rm', alice.fingerprint]);
    assert.equal(again.status, 254);
    assert.match(again.stderr, /TSPOD_E_NOT_FOUND/);
  });

  test('--root writes root.d/FINGERPRINT; rm of a system key masks it', () => {
    const c = conf();
    const r = trust(c, ['--root', '--skip-fingerprint-review', keyFile]);
    assert.equal(r.status, 0, r.stderr);
    assert.ok(existsSync(join(c.loc, 'trustedkeys', 'root.d', alice.fingerprint)));
    const sys = place(c.sys, 'prefix.d/example.com', bob);
    const rm = trust(c, ['rm', bob.fingerprint]);
    assert.equal(rm.status, 0, rm.stderr);
    assert.match(rm.stdout, /^Masked the system key/);
    assert.ok(existsSync(sys));
    assert.equal(statSync(join(c.loc, 'trustedkeys', 'prefix.d', 'example.com', bob.fingerprint)).size, 0);
    assert.deepEqual(JSON.parse(trust(c, ['list', '--format', 'json']).stdout).map((k: { fingerprint: string }) => k.fingerprint), [alice.fingerprint]);
  });

  test('without a terminal and without --skip-fingerprint-review the key is not trusted (254)', () => {
    const c = conf();
    const r = trust(c, ['--prefix', NAME, keyFile], 'yes\n');
    assert.equal(r.status, 254);
    assert.match(r.stderr, /GPG key fingerprint is:/);
    assert.match(r.stderr, /standard input is not a terminal/);
    assert.match(r.stderr, /--skip-fingerprint-review/);
    assert.equal(existsSync(join(c.loc, 'trustedkeys')), false);
  });

  test('bad command lines: no --prefix/--root, invalid prefix, both, no key (2); bad keys (254)', () => {
    const c = conf();
    const noScope = trust(c, ['--skip-fingerprint-review', keyFile]);
    assert.equal(noScope.status, 2);
    assert.match(noScope.stderr, /TSPOD_E_USAGE.*--root/s);
    for (const prefix of ['Example.com/App', 'example.com/../x', '../etc', 'a b']) {
      const r = trust(c, ['--prefix', prefix, '--skip-fingerprint-review', keyFile]);
      assert.equal(r.status, 2, `${prefix}: ${r.stderr}`);
      assert.match(r.stderr, /AC Identifier/);
    }
    assert.equal(trust(c, ['--prefix', NAME, '--root', keyFile]).status, 2);
    assert.equal(trust(c, ['--root']).status, 2, 'a root key must be given as a file');
    assert.equal(trust(c, ['list', '--format', 'yaml']).status, 2);
    assert.equal(trust(c, ['rm', 'not-a-fingerprint']).status, 2);
    const secret = join(work, 'alice-secret.asc');
    writeFileSync(secret, gpg.exportSecret(alice));
    const s = trust(c, ['--prefix', NAME, '--skip-fingerprint-review', secret]);
    assert.equal(s.status, 254);
    assert.match(s.stderr, /is a secret \(private\) key/);
    assert.match(s.stderr, /TSPOD_E_KEY_INVALID/);
    const expired = join(work, 'old.asc');
    writeFileSync(expired, gpg.exportPublic(old));
    const x = trust(c, ['--prefix', NAME, '--skip-fingerprint-review', expired]);
    assert.equal(x.status, 254);
    assert.match(x.stderr, new RegExp(`key ${old.fingerprint} expired on 2020-01-02`));
    assert.match(x.stderr, /TSPOD_E_KEY_INVALID/);
    assert.equal(trust(c, ['--prefix', NAME, '--skip-fingerprint-review', join(work, 'absent.asc')]).status, 254);
    assert.equal(existsSync(join(c.loc, 'trustedkeys')), false);
  });

  // The review on a real terminal: script(1) gives tspod a pty whose input is our "yes"/"no".
  const hasScript = spawnSync('script', ['--version']).status === 0;
  test('on a terminal, the fingerprint is shown and "yes" trusts, "no" does not', { skip: hasScript ? false : 'script(1) is not installed' }, () => {
    for (const [answer, status] of [['yes', 0], ['no', 254]] as const) {
      const c = conf();
      const cmd = [process.execPath, TSPOD, ...c.flags, 'trust', '--prefix', NAME, keyFile].map((a) => `'${a}'`).join(' ');
      const r = spawnSync('script', ['-qec', cmd, '/dev/null'], { input: `${answer}\n`, encoding: 'utf8', timeout: 30_000 });
      assert.equal(r.status, status, r.stdout + r.stderr);
      assert.match(r.stdout, /Are you sure you want to trust this key \(yes\/no\)\?/);
      assert.equal(existsSync(join(c.loc, 'trustedkeys', 'prefix.d', 'example.com', 'app', alice.fingerprint)), answer === 'yes');
    }
  });
});
