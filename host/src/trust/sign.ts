// Armored detached OpenPGP signatures over the exact bytes of a file (what `gpg --armor
// --detach-sign` writes and what verify.ts checks), hashed with SHA-512. The file is streamed
// through openpgp, never read whole.
import { createReadStream } from 'node:fs';
import { open } from 'node:fs/promises';
import { Readable } from 'node:stream';
import type { Key, PartialConfig, PrivateKey } from 'openpgp';
import { ErrorCodes, describeErrno, tspodError, type TspodError } from '../errors.js';
import { ok, err, ResultAsync, type Result } from '../result.js';
import { armorType, describeKey, keyUnusableReason, loadOpenpgp, looksArmored, readKeys, type OpenPGP } from './keystore.js';

function errorText(e: unknown): string {
  return e instanceof Error ? e.message : String(e);
}

const EXPORT_HINT = 'export the signing key with `gpg --armor --export-secret-keys FINGERPRINT > SECRET.asc`';

async function parseSecretKey(openpgp: OpenPGP, bytes: Uint8Array, passphrase: string | undefined, what: string): Promise<Result<PrivateKey, TspodError>> {
  const keyErr = (why: string, hint: string, cause?: unknown): Result<PrivateKey, TspodError> =>
    err(tspodError(ErrorCodes.KEY_INVALID, what, why, hint, cause));
  const armored = looksArmored(bytes);
  if (armored && armorType(bytes) === 'PUBLIC KEY BLOCK') {
    return keyErr('the key is a public key; signing needs the secret key', EXPORT_HINT);
  }
  let keys: Key[];
  try {
    keys = await readKeys(openpgp, bytes);
  } catch (e) {
    return keyErr(`the key is not an OpenPGP secret key: ${errorText(e)}`, EXPORT_HINT, e);
  }
  if (keys.length !== 1) return keyErr(`the key file holds ${keys.length} keys; give exactly one`, EXPORT_HINT);
  const key = keys[0]!;
  if (!key.isPrivate()) return keyErr('the key is a public key; signing needs the secret key', EXPORT_HINT);
  if (passphrase !== undefined) {
    try {
      return ok(await openpgp.decryptKey({ privateKey: key, passphrase }));
    } catch (e) {
      const m = errorText(e);
      if (/already decrypted/i.test(m)) return ok(key);
      return keyErr(`the passphrase does not unlock key ${describeKey(key).fingerprint}: ${m}`, 'check the passphrase file (its first line is the passphrase)', e);
    }
  }
  if (!key.isDecrypted()) {
    return keyErr(`key ${describeKey(key).fingerprint} is protected by a passphrase`, 'pass --passphrase-file FILE');
  }
  return ok(key);
}

async function readToString(stream: unknown): Promise<string> {
  if (typeof stream === 'string') return stream;
  const reader = (stream as ReadableStream<string>).getReader();
  let text = '';
  for (;;) {
    const { done, value } = await reader.read();
    if (done) return text;
    text += value;
  }
}

async function sign(dataPath: string, secretKey: Uint8Array, passphrase: string | undefined): Promise<Result<string, TspodError>> {
  const what = `sign ${dataPath}`;
  const openpgp = await loadOpenpgp();
  const parsed = await parseSecretKey(openpgp, secretKey, passphrase, what);
  if (parsed.isErr()) return err(parsed.error);
  const key = parsed.value;
  const fingerprint = describeKey(key).fingerprint;
  const unusable = await keyUnusableReason(key);
  if (unusable !== null) {
    return err(tspodError(ErrorCodes.KEY_INVALID, what, `key ${fingerprint} ${unusable}`,
      'sign with a current key (and have it trusted with `tspod trust`)'));
  }

  let fh;
  try {
    fh = await open(dataPath, 'r');
    const st = await fh.stat();
    if (!st.isFile()) throw Object.assign(new Error(`${dataPath} is not a regular file`), { code: 'EINVAL', syscall: 'open' });
  } catch (e) {
    await fh?.close();
    return err(tspodError(ErrorCodes.IO, what, `cannot read ${dataPath}: ${describeErrno(e)}`, 'check that the file exists and is readable', e));
  }
  const nodeStream = createReadStream('', { fd: fh, highWaterMark: 1 << 20, autoClose: true });
  try {
    const config: PartialConfig = { preferredHashAlgorithm: openpgp.enums.hash.sha512 };
    const message = await openpgp.createMessage({ binary: Readable.toWeb(nodeStream) as unknown as ReadableStream<Uint8Array> });
    let armored: string;
    try {
      armored = await readToString(await openpgp.sign({ message, signingKeys: key, detached: true, format: 'armored', config }));
    } catch (e) {
      const errno = (e as NodeJS.ErrnoException).code;
      if (errno !== undefined) {
        return err(tspodError(ErrorCodes.IO, what, `cannot read ${dataPath}: ${describeErrno(e)}`, 'check that the file is readable', e));
      }
      return err(tspodError(ErrorCodes.KEY_INVALID, what, `key ${fingerprint} cannot sign: ${errorText(e)}`, EXPORT_HINT, e));
    }
    // The hash follows openpgp's choice rules (key preferences, curve): make sure it is strong.
    const sig = await openpgp.readSignature({ armoredSignature: armored });
    const weak = new Set<number>([openpgp.enums.hash.md5, openpgp.enums.hash.sha1, openpgp.enums.hash.ripemd]);
    for (const p of sig.packets) {
      if (p.hashAlgorithm === null || weak.has(p.hashAlgorithm)) {
        return err(tspodError(ErrorCodes.INTERNAL, what, `openpgp chose a weak hash (${p.hashAlgorithm}) for key ${fingerprint}`,
          'please report this with the --debug output'));
      }
    }
    return ok(armored);
  } finally {
    nodeStream.destroy();
    await fh.close().catch(() => undefined);
  }
}

/**
 * An armored detached signature of the file at `dataPath` by the one secret key in
 * `armoredSecretKey` (armored or binary; decrypted with `passphrase` if protected). SHA-512.
 * Refuses public keys, several keys, a wrong passphrase, and expired, revoked or
 * non-signing keys (KEY_INVALID).
 */
export function signDetached(dataPath: string, armoredSecretKey: Uint8Array, passphrase?: string): ResultAsync<string, TspodError> {
  return new ResultAsync(
    sign(dataPath, armoredSecretKey, passphrase).catch((e: unknown) =>
      err<string, TspodError>(tspodError(ErrorCodes.INTERNAL, `sign ${dataPath}`, errorText(e), 'please report this with the --debug output', e))),
  );
}
