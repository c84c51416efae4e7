// Detached OpenPGP signature verification over the exact bytes of an image (rkt.md §4,
// security.md §3.5). The order matters:
//
//  1. parse the signature (armored, else binary) and refuse anything but binary-mode signature
//     packets made with a strong hash, before touching the data;
//  2. find each signer in the keyring for the image name (root keys + keys of every prefix of
//     the name): an unknown signer is refused (SIG_UNTRUSTED) naming its fingerprint and the
//     `tspod trust --prefix` command, still before reading the data;
//  3. refuse a signer key that is expired or revoked now (openpgp.js itself only checks the key
//     at the signature's creation time, so a key that expired or was retired later would pass);
//  4. hash the data and check every signature (all must verify, not just one: openpgp's
//     `expectSigned` accepts any one of several).
//
// Memory: a file path is streamed through openpgp (a web stream over the file, 1 MiB chunks);
// measured on a 200 MB file, the process peaks about 40 MB above its baseline whatever the file
// size. A Uint8Array is hashed in place.
//
// Weak hashes: openpgp 6 already rejects MD5, RIPEMD-160 and SHA-1 for data signatures
// (config.rejectMessageHashAlgorithms), but only after hashing all the data; tspod checks the
// hash algorithm first, and passes its own reject set so a changed global openpgp config cannot
// weaken it.
import { createReadStream } from 'node:fs';
import { open } from 'node:fs/promises';
import { Readable } from 'node:stream';
import type { PartialConfig, Signature, SignaturePacket } from 'openpgp';
import { ErrorCodes, describeErrno, tspodError, type TspodError } from '../errors.js';
import { ok, err, ResultAsync, type Result } from '../result.js';
import {
  armorType, describeKey, loadOpenpgp, looksArmored, readBoundedFile,
  type Keystore, type OpenPGP, type TrustedKey,
} from './keystore.js';
import {
  errorText, findSigner, hashName, issuerOf, SKIP_HINT, STRONG_HASHES, unusableSigner, unusableSignerText, WEAK_HASHES,
} from './signature-common.js';

/** Real detached signatures are a few hundred bytes; anything this big is not one. */
export const MAX_SIGNATURE_BYTES = 64 * 1024;
/** More signature packets than this in one .asc are refused unread. */
export const MAX_SIGNATURES = 8;

export interface Signer {
  /** Lower-case hex fingerprint of the trusted (primary) key that made the signature. */
  readonly fingerprint: string;
  readonly userIds: string[];
}

export interface VerifiedSignature {
  readonly signers: Signer[];
}

export interface VerifyOptions {
  /** The signed bytes, or the path of the file holding them (streamed, not read whole). */
  readonly data: Uint8Array | string;
  /** The detached signature, armored or binary. Empty means there is none. */
  readonly signature: Uint8Array;
  /** The image name whose keyring applies (for an ACI: the name in its manifest). */
  readonly imageName: string;
  readonly keystore: Keystore;
  /** What the user knows the data as (file name, URL): named in every error. */
  readonly source: string;
}

export function verifyDetachedSignature(opts: VerifyOptions): ResultAsync<VerifiedSignature, TspodError> {
  const what = `verify the signature of ${opts.source}`;
  return new ResultAsync(
    verify(opts, what).catch((e: unknown) =>
      err<VerifiedSignature, TspodError>(tspodError(ErrorCodes.INTERNAL, what, errorText(e), 'please report this with the --debug output', e))),
  );
}

async function parseSignature(openpgp: OpenPGP, bytes: Uint8Array, what: string, source: string): Promise<Result<Signature, TspodError>> {
  const sigErr = (why: string, hint: string, cause?: unknown): Result<Signature, TspodError> =>
    err(tspodError(ErrorCodes.SIG_INVALID, what, why, hint, cause));
  if (bytes.byteLength === 0) {
    return sigErr(`there is no signature for ${source} (the signature is empty)`,
      `get the armored detached signature (${source}.asc) from the image's publisher, ${SKIP_HINT}`);
  }
  if (bytes.byteLength > MAX_SIGNATURE_BYTES) {
    return sigErr(`the signature is ${bytes.byteLength} bytes, far larger than any detached signature (at most ${MAX_SIGNATURE_BYTES})`,
      `check that the .asc file is the signature of ${source}`);
  }
  // Strict parsing: a detached signature holds signature packets and nothing else (no literal
  // data, no one-pass signature: inline-signed and cleartext forms are refused).
  const config: PartialConfig = { ignoreUnsupportedPackets: false, ignoreMalformedPackets: false };
  try {
    if (looksArmored(bytes)) {
      const type = armorType(bytes);
      if (type !== 'SIGNATURE') {
        return sigErr(`the signature file is an armored ${type ?? 'block of unknown type'}, not a detached signature`,
          `sign the exact file with \`gpg --armor --detach-sign ${source}\` or \`tspod image sign\``);
      }
      return ok(await openpgp.readSignature({ armoredSignature: Buffer.from(bytes).toString('utf8'), config }));
    }
    return ok(await openpgp.readSignature({ binarySignature: bytes, config }));
  } catch (e) {
    return sigErr(`the signature cannot be read as an OpenPGP detached signature: ${errorText(e)}`,
      `fetch the signature again; it must be the .asc written by \`gpg --armor --detach-sign\` or \`tspod image sign\`, ${SKIP_HINT}`, e);
  }
}

/** Opens the data for openpgp: a web stream over the file, or the bytes themselves. */
async function openData(data: Uint8Array | string): Promise<{ input: Uint8Array | ReadableStream<Uint8Array>; close: () => Promise<void> }> {
  if (typeof data !== 'string') return { input: data, close: async () => undefined };
  const fh = await open(data, 'r');
  try {
    const st = await fh.stat();
    if (!st.isFile()) throw Object.assign(new Error(`${data} is not a regular file`), { code: 'EINVAL', syscall: 'open', path: data });
  } catch (e) {
    await fh.close();
    throw e;
  }
  const nodeStream = createReadStream('', { fd: fh, highWaterMark: 1 << 20, autoClose: true });
  const web = Readable.toWeb(nodeStream) as unknown as ReadableStream<Uint8Array>;
  return {
    input: web,
    close: async () => {
      nodeStream.destroy();
      await fh.close().catch(() => undefined);
    },
  };
}

async function drain(stream: unknown): Promise<void> {
  if (stream instanceof Uint8Array || typeof stream === 'string') return;
  const reader = (stream as ReadableStream<Uint8Array>).getReader();
  for (;;) {
    const { done } = await reader.read();
    if (done) return;
  }
}

/** Turns openpgp's verification failure into the user's terms. */
function verificationFailure(e: unknown, signer: TrustedKey, issuer: string, source: string, what: string): TspodError {
  const m = errorText(e);
  const by = `the signature by key ${signer.fingerprint}${signer.userIds[0] ? ` (${signer.userIds[0]})` : ''}`;
  const refetch = `do not use this file: fetch ${source} and its signature again from a source you trust`;
  if (/Signed digest did not match|Signature verification failed|digest/i.test(m)) {
    return tspodError(ErrorCodes.SIG_INVALID, what,
      `${by} does not match the bytes of ${source}: the file was changed after signing, or the signature belongs to another file`, refetch, e);
  }
  if (/Insecure (message )?hash algorithm/i.test(m)) {
    return tspodError(ErrorCodes.SIG_INVALID, what, `${by} uses a weak hash (${m.replace(/^.*: /, '')})`,
      `ask the publisher to re-sign with SHA-256 or SHA-512 (\`tspod image sign\`, or \`gpg --digest-algo SHA512 --detach-sign\`)`, e);
  }
  if (/creation time is in the future/i.test(m)) {
    return tspodError(ErrorCodes.SIG_INVALID, what, `${by} was made in the future by this machine's clock`,
      'check the system clock (e.g. `timedatectl`), then try again', e);
  }
  if (/Signature is expired/i.test(m)) {
    return tspodError(ErrorCodes.SIG_INVALID, what, `${by} has expired`, 'ask the publisher for a fresh signature', e);
  }
  if (/revoked/i.test(m)) {
    return tspodError(ErrorCodes.SIG_INVALID, what, `${by} was made with a revoked key (${issuer})`,
      `ask the publisher for a signature by a current key, then trust it; remove this one with \`tspod trust rm ${signer.fingerprint}\``, e);
  }
  if (/expired/i.test(m)) {
    return tspodError(ErrorCodes.SIG_INVALID, what, `${by} was made when the key had expired (${m})`,
      'ask the publisher for a signature by a current key', e);
  }
  if (/newer than the signature/i.test(m)) {
    return tspodError(ErrorCodes.SIG_INVALID, what, `${by} is older than the key that made it`, refetch, e);
  }
  return tspodError(ErrorCodes.SIG_INVALID, what, `${by} is not valid: ${m}`, refetch, e);
}

async function verify(opts: VerifyOptions, what: string): Promise<Result<VerifiedSignature, TspodError>> {
  const { source, imageName } = opts;
  const openpgp = await loadOpenpgp();
  const parsed = await parseSignature(openpgp, opts.signature, what, source);
  if (parsed.isErr()) return err(parsed.error);
  const signature = parsed.value;
  const packets = [...signature.packets];
  const sigErr = (why: string, hint: string): Result<VerifiedSignature, TspodError> =>
    err(tspodError(ErrorCodes.SIG_INVALID, what, why, hint));

  if (packets.length === 0) return sigErr('the signature file holds no signature', `sign ${source} with \`tspod image sign\`, ${SKIP_HINT}`);
  if (packets.length > MAX_SIGNATURES) return sigErr(`the signature file holds ${packets.length} signatures (at most ${MAX_SIGNATURES})`, 'use a detached signature by one key');

  // 1. Form and hash of every signature packet, before any data is read.
  const strong = new Set<number>(STRONG_HASHES.map((h) => openpgp.enums.hash[h]));
  for (const p of packets) {
    const issuer = issuerOf(p).label;
    if (p.signatureType === openpgp.enums.signature.text) {
      return sigErr(`the signature by key ${issuer} is a text-mode signature, which does not cover the exact bytes of ${source}`,
        `sign in binary mode: \`gpg --armor --detach-sign ${source}\` (without --textmode) or \`tspod image sign\``);
    }
    if (p.signatureType !== openpgp.enums.signature.binary) {
      return sigErr(`the signature by key ${issuer} is not a signature over data (type 0x${(p.signatureType ?? 0).toString(16).padStart(2, '0')})`,
        `get the detached signature of ${source}, ${SKIP_HINT}`);
    }
    if (p.hashAlgorithm === null || !strong.has(p.hashAlgorithm)) {
      const weak = p.hashAlgorithm !== null && WEAK_HASHES.some((h) => openpgp.enums.hash[h] === p.hashAlgorithm);
      return sigErr(
        `the signature by key ${issuer} uses ${weak ? 'the broken hash ' : ''}${hashName(openpgp, p.hashAlgorithm)}; tspod accepts SHA-256, SHA-384, SHA-512 (and SHA-224, SHA3) only` +
          (weak ? ' (openpgp.js would reject it too, after hashing the data)' : ''),
        `ask the publisher to re-sign with SHA-512: \`tspod image sign --key KEY.asc ${source}\` or \`gpg --digest-algo SHA512 --armor --detach-sign\``);
    }
  }

  // 2. Every signer must be trusted for the name.
  const keyring = await opts.keystore.keyringFor(imageName);
  if (keyring.isErr()) return err(keyring.error);
  const signers: TrustedKey[] = [];
  for (const p of packets) {
    const signer = findSigner(keyring.value, p);
    if (signer === undefined) return err(await untrusted(opts, p, what));
    signers.push(signer);
  }

  // 3. The signer keys must be usable now, not only when they signed.
  const now = new Date();
  const unusable = await unusableSigner(packets, signers, now);
  if (unusable) return sigErr(...unusableSignerText(source, unusable, `\`tspod trust --prefix ${imageName} KEY.asc\``));

  // 4. Hash the data and check every signature.
  let data;
  try {
    data = await openData(opts.data);
  } catch (e) {
    const path = typeof opts.data === 'string' ? opts.data : source;
    return err(tspodError(ErrorCodes.IO, what, `cannot read ${path}: ${describeErrno(e)}`, 'check that the file exists and is readable', e));
  }
  try {
    const config: PartialConfig = {
      rejectMessageHashAlgorithms: new Set(WEAK_HASHES.map((h) => openpgp.enums.hash[h])),
      rejectHashAlgorithms: new Set([openpgp.enums.hash.md5, openpgp.enums.hash.ripemd]),
    };
    const message = await openpgp.createMessage({ binary: data.input });
    const uniqueKeys = [...new Map(signers.map((s) => [s.fingerprint, s.key])).values()];
    let result;
    try {
      result = await openpgp.verify({ message, signature, verificationKeys: uniqueKeys, format: 'binary', config, date: now });
    } catch (e) {
      return err(verificationFailure(e, signers[0]!, issuerOf(packets[0]!).label, source, what));
    }
    try {
      await drain(result.data);
    } catch (e) {
      return err(tspodError(ErrorCodes.IO, what, `cannot read ${source}: ${describeErrno(e)}`, 'check that the file is readable', e));
    }
    if (result.signatures.length !== packets.length) {
      return sigErr(`openpgp checked ${result.signatures.length} of ${packets.length} signatures`, `get the detached signature of ${source}, ${SKIP_HINT}`);
    }
    for (let i = 0; i < result.signatures.length; i++) {
      try {
        await result.signatures[i]!.verified;
      } catch (e) {
        return err(verificationFailure(e, signers[i]!, issuerOf(packets[i]!).label, source, what));
      }
    }
  } finally {
    await data.close();
  }
  const seen = new Set<string>();
  return ok({
    signers: signers
      .filter((s) => (seen.has(s.fingerprint) ? false : (seen.add(s.fingerprint), true)))
      .map((s) => ({ fingerprint: s.fingerprint, userIds: [...s.userIds] })),
  });
}

/** SIG_UNTRUSTED naming the signer; says so when the key is trusted, but for other prefixes. */
async function untrusted(opts: VerifyOptions, p: SignaturePacket, what: string): Promise<TspodError> {
  const { source, imageName } = opts;
  const issuer = issuerOf(p);
  let elsewhere = '';
  let fingerprint = issuer.fingerprint;
  const all = await opts.keystore.allKeys();
  if (all.isOk()) {
    const holders = all.value.filter((k) => findSigner([k], p) !== undefined);
    if (holders.length > 0) {
      fingerprint = holders[0]!.fingerprint;
      const d = describeKey(holders[0]!.key);
      const scopes = [...new Set(holders.map((h) => h.prefix ?? '(root)'))].join(', ');
      elsewhere = `; ${d.userIds[0] ?? 'that key'} is trusted only for the prefix ${scopes}`;
    }
  }
  const key = fingerprint ?? `with key ID ${issuer.keyId}`;
  return tspodError(ErrorCodes.SIG_UNTRUSTED, what,
    `${source} is signed by key ${key}, which is not trusted for ${imageName}${elsewhere}`,
    `if that key is the publisher's (check its fingerprint with them), run \`tspod trust --prefix ${imageName} KEY.asc\`, ${SKIP_HINT}`);
}

/**
 * Reads a detached signature file, bounded by MAX_SIGNATURE_BYTES. A missing file is SIG_INVALID
 * (no signature), not IO: verification by default means an unsigned image is refused.
 */
export function readSignatureFile(path: string, source: string): ResultAsync<Uint8Array, TspodError> {
  const what = `verify the signature of ${source}`;
  return new ResultAsync(
    readBoundedFile(path, MAX_SIGNATURE_BYTES).then(
      (b): Result<Uint8Array, TspodError> => ok(new Uint8Array(b.buffer, b.byteOffset, b.byteLength)),
      (e: unknown): Result<Uint8Array, TspodError> => {
        const code = (e as NodeJS.ErrnoException).code;
        if (code === 'ENOENT') {
          return err(tspodError(ErrorCodes.SIG_INVALID, what, `there is no signature file ${path}`,
            `put the armored detached signature at ${path} (or pass --signature FILE), ${SKIP_HINT}`, e));
        }
        if (code === 'EFBIG') {
          return err(tspodError(ErrorCodes.SIG_INVALID, what, `${path} is larger than any detached signature (at most ${MAX_SIGNATURE_BYTES} bytes)`,
            `check that ${path} is the signature of ${source}`, e));
        }
        return err(tspodError(ErrorCodes.IO, what, `cannot read ${path}: ${describeErrno(e)}`, 'check that the file is readable', e));
      },
    ),
  );
}
