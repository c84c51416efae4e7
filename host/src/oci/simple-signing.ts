// containers/image "simple signing" (atomic container signature, docs/atomic-signature.md of
// containers/image): what `skopeo copy --sign-by` and `skopeo standalone-sign` write. A signature
// is an OpenPGP *signed message* (not a detached signature) whose literal data is the JSON
//
//   {"critical": {"type": "atomic container signature",
//                 "image": {"docker-manifest-digest": "sha256:..."},
//                 "identity": {"docker-reference": "registry/repo:tag"}},
//    "optional": {"creator": "...", "timestamp": 1700000000}}
//
// Verification order, mirroring trust/verify.ts:
//  1. bounded, strict parse of the message: after (at most one level of) compression, only
//     one-pass-signature, literal-data and signature packets before the literal data, exactly
//     one literal data packet (openpgp.js keeps the trailing signature packets in an internal
//     stream, so they are read through openpgp.verify's result, which is checked against the keys
//     of the keyring only; the payload is a few hundred bytes, so hashing it first costs nothing);
//     every signature must be a binary-mode signature with a strong hash (SHA-1 and weaker are
//     refused) before any verification result is looked at;
//  2. every signer must be in the keyring for the trust name (root keys + keys of every prefix):
//     an unknown signer is SIG_UNTRUSTED naming its fingerprint and `tspod trust --prefix`;
//  3. the signer keys must be usable now (not expired, not revoked, able to sign): openpgp.js
//     only checks them at the signature's creation time;
//  4. the cryptographic check of every signature (all must verify, not just one);
//  5. the payload, parsed as strictly as containers/image does: valid UTF-8 JSON, no duplicate
//     keys, exactly the fields `critical` and `optional` at the top, exactly `type`, `image`,
//     `identity` in critical, exactly `docker-manifest-digest` in image and `docker-reference` in
//     identity (unknown critical keys are refused: a signer may have meant a restriction tspod
//     does not understand); optional may hold anything, but `creator` must be a string and
//     `timestamp` an integer;
//  6. the claims: the manifest digest must equal the digest of the manifest fetched, and the
//     docker-reference must match the expected reference as containers/image's default
//     `matchRepoDigestOrExact` identity policy does: a name-only docker-reference never matches;
//     when the expected reference has a tag, the signed reference must be exactly the same
//     (normalized) reference; when it has only a digest, the repository must be the same.
//
// Trust names. The keystore keys trust to AC Identifiers (`^[a-z0-9]+([-._~/][a-z0-9]+)*$`), but a
// Docker registry may carry a port (`127.0.0.1:5000`). The mapping (trustNameFor) is:
//
//   trust name = lower-case(registry host) with ':' (the port separator) replaced by '~',
//                then '/', then the repository path
//
// e.g. `127.0.0.1:5000/test/busybox:1` -> `127.0.0.1~5000/test/busybox`, `busybox` ->
// `docker.io/library/busybox`. '~' cannot occur in a host name or a repository, so the mapping is
// injective (a key trusted for `host~5000` is never trusted for a host named `host-5000`). A
// repository a trust name cannot spell (components joined by `__` or `--`, an IPv6 registry) has
// no trust name: trustNameFor refuses it (SIG_UNTRUSTED), so such images cannot be verified.
//
// Lookaside storage (containers/image docker/registries_d.go, docs/signature-protocols.md): the
// signatures of the manifest with digest `algo:hex` of repository `repo` (the path without the
// registry) are `<base>/<repo>@<algo>=<hex>/signature-1`, `signature-2`, ... read until the first
// missing one.
import { join } from 'node:path';
import type { PartialConfig, SignaturePacket } from 'openpgp';
import { ErrorCodes, describeErrno, tspodError, type TspodError } from '../errors.js';
import { err, ok, ResultAsync, type Result } from '../result.js';
import {
  armorType, loadOpenpgp, looksArmored, prefixProblem, readBoundedFile,
  type Keystore, type TrustedKey,
} from '../trust/keystore.js';
import {
  errorText, findSigner, hashName, issuerOf, SKIP_HINT, STRONG_HASHES, unusableSigner, unusableSignerText, WEAK_HASHES,
} from '../trust/signature-common.js';
import { parseDockerReference, type ImageReference } from './reference.js';

/** containers/image signatures are a few hundred bytes; anything this big is not one. */
export const MAX_SIMPLE_SIGNATURE_BYTES = 64 * 1024;
/** A decompressed message larger than this is refused (the JSON payload is under 1 KiB). */
export const MAX_DECOMPRESSED_BYTES = 1 << 20;
/** More signature packets than this in one message are refused. */
export const MAX_MESSAGE_SIGNATURES = 8;
/** At most this many lookaside signatures are read for one manifest. */
export const MAX_LOOKASIDE_SIGNATURES = 64;
export const SIGNATURE_TYPE = 'atomic container signature';

export interface SimpleSigner {
  /** Lower-case hex fingerprint of the trusted (primary) key that made the signature. */
  readonly fingerprint: string;
  readonly userIds: string[];
}

export interface SimpleSignatureClaims {
  readonly manifestDigest: string;
  readonly dockerReference: string;
  readonly creator?: string;
  readonly timestamp?: number;
}

export interface VerifiedSimpleSignature {
  readonly signers: SimpleSigner[];
  /** The payload's claims, after they were checked against the expected values. */
  readonly claims: SimpleSignatureClaims;
}

export interface SimpleVerifyOptions {
  /** The signature as stored by skopeo (binary signed message; an armored PGP MESSAGE is accepted too). */
  readonly signature: Uint8Array;
  /** The reference the image was fetched as, e.g. `127.0.0.1:5000/test/busybox:1` (docker:// optional). */
  readonly expectedReference: string;
  /** `sha256:...` of the manifest bytes fetched. */
  readonly manifestDigest: string;
  readonly keystore: Keystore;
  /** The name keys are trusted for; default trustNameFor(expectedReference). */
  readonly trustName?: string;
  /** What the user knows the image as: named in every error. */
  readonly source: string;
}

/** Docker repository path component (distribution/reference). */
const REPO_COMPONENT = /^[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*$/;
const DIGEST_FORMS: Readonly<Record<string, number>> = { sha256: 64, sha512: 128 };

function shown(s: string, max = 200): string {
  return JSON.stringify(s.length > max ? `${s.slice(0, max)}...` : s);
}

/** The keystore name for an image reference (see the file header): `host~port/repository`. */
export function trustNameFor(reference: string | ImageReference): Result<string, TspodError> {
  let ref: ImageReference;
  if (typeof reference === 'string') {
    const parsed = parseDockerReference(reference);
    if (parsed.isErr()) return err(parsed.error);
    ref = parsed.value;
  } else {
    ref = reference;
  }
  const name = `${ref.domain.toLowerCase().replace(/:/g, '~')}/${ref.repository}`;
  const problem = prefixProblem(name);
  if (problem !== null) {
    return err(tspodError(ErrorCodes.SIG_UNTRUSTED, `find the trusted keys for ${ref.domain}/${ref.repository}`,
      `the trust name ${shown(name)} derived from it is unusable: ${problem}`,
      `tspod can verify only images whose registry and repository form a trust name (host~port/repository, single separators); ${SKIP_HINT}`));
  }
  return ok(name);
}

function checkManifestDigest(digest: string, what: string): Result<{ algo: string; hex: string }, TspodError> {
  const colon = typeof digest === 'string' ? digest.indexOf(':') : -1;
  const algo = colon > 0 ? digest.slice(0, colon) : '';
  const h = colon > 0 ? digest.slice(colon + 1) : '';
  const len = DIGEST_FORMS[algo];
  if (len === undefined || h.length !== len || !/^[0-9a-f]+$/.test(h)) {
    return err(tspodError(ErrorCodes.IMAGE_INVALID, what, `${shown(String(digest))} is not a manifest digest (sha256:<64 hex> or sha512:<128 hex>)`,
      'give the digest exactly as the registry or `skopeo inspect` shows it'));
  }
  return ok({ algo, hex: h });
}

/**
 * The lookaside path of signature number `index + 1` (index is 0-based, as in containers/image)
 * of the manifest `manifestDigest` of `repository` (the repository path without the registry,
 * e.g. `test/busybox`): `<dir>/<repository>@<algo>=<hex>/signature-<index+1>`.
 */
export function lookasidePath(lookasideDir: string, repository: string, manifestDigest: string, index: number): Result<string, TspodError> {
  const what = `find the signatures of ${repository}@${manifestDigest}`;
  if (typeof repository !== 'string' || repository.length === 0 || !repository.split('/').every((c) => REPO_COMPONENT.test(c))) {
    return err(tspodError(ErrorCodes.IMAGE_INVALID, what, `${shown(String(repository))} is not a repository path (lower-case components separated by '/')`,
      'pass the repository without the registry and tag, e.g. test/busybox'));
  }
  const d = checkManifestDigest(manifestDigest, what);
  if (d.isErr()) return err(d.error);
  if (!Number.isSafeInteger(index) || index < 0) {
    return err(tspodError(ErrorCodes.INTERNAL, what, `signature index ${index} is not a non-negative integer`, 'please report this with the --debug output'));
  }
  return ok(join(lookasideDir, `${repository}@${d.value.algo}=${d.value.hex}`, `signature-${index + 1}`));
}

/**
 * The signatures in a lookaside directory for one manifest: signature-1, signature-2, ... until
 * the first missing file (none at all is an empty list; the caller decides whether that refuses
 * the image). Each is bounded by MAX_SIMPLE_SIGNATURE_BYTES.
 */
export function readLookasideSignatures(dir: string, repository: string, manifestDigest: string): ResultAsync<Uint8Array[], TspodError> {
  const what = `read the signatures of ${repository}@${manifestDigest} from ${dir}`;
  const body = async (): Promise<Result<Uint8Array[], TspodError>> => {
    const out: Uint8Array[] = [];
    for (let i = 0; ; i++) {
      const p = lookasidePath(dir, repository, manifestDigest, i);
      if (p.isErr()) return err(p.error);
      if (i >= MAX_LOOKASIDE_SIGNATURES) {
        return err(tspodError(ErrorCodes.SIG_INVALID, what, `there are more than ${MAX_LOOKASIDE_SIGNATURES} signatures (${p.value} exists)`,
          `remove the stale signatures from ${dir}`));
      }
      let b: Buffer;
      try {
        b = await readBoundedFile(p.value, MAX_SIMPLE_SIGNATURE_BYTES);
      } catch (e) {
        const code = (e as NodeJS.ErrnoException).code;
        if (code === 'ENOENT') {
          // The first missing one ends the list; a missing directory means no signature.
          return ok(out);
        }
        if (code === 'EFBIG') {
          return err(tspodError(ErrorCodes.SIG_INVALID, what, `${p.value} is larger than any signature (at most ${MAX_SIMPLE_SIGNATURE_BYTES} bytes)`,
            `check that ${p.value} is a signature written by skopeo`, e));
        }
        return err(tspodError(ErrorCodes.IO, what, `cannot read ${p.value}: ${describeErrno(e)}`, 'check that the file is readable', e));
      }
      out.push(new Uint8Array(b.buffer, b.byteOffset, b.byteLength));
    }
  };
  return new ResultAsync(body().catch((e: unknown) =>
    err<Uint8Array[], TspodError>(tspodError(ErrorCodes.INTERNAL, what, errorText(e), 'please report this with the --debug output', e))));
}

export function verifySimpleSignature(opts: SimpleVerifyOptions): ResultAsync<VerifiedSimpleSignature, TspodError> {
  const what = `verify the signature of ${opts.source}`;
  return new ResultAsync(
    verify(opts, what).catch((e: unknown) =>
      err<VerifiedSimpleSignature, TspodError>(tspodError(ErrorCodes.INTERNAL, what, errorText(e), 'please report this with the --debug output', e))),
  );
}

async function verify(opts: SimpleVerifyOptions, what: string): Promise<Result<VerifiedSimpleSignature, TspodError>> {
  const { source } = opts;
  const sigErr = (why: string, hint: string, cause?: unknown): Result<never, TspodError> =>
    err(tspodError(ErrorCodes.SIG_INVALID, what, why, hint, cause));

  // The expected values first: they come from tspod itself, so a problem here is not the signature's.
  const expected = parseDockerReference(opts.expectedReference);
  if (expected.isErr()) return err(expected.error);
  const digestOk = checkManifestDigest(opts.manifestDigest, what);
  if (digestOk.isErr()) return err(digestOk.error);
  let trustName = opts.trustName;
  if (trustName === undefined) {
    const t = trustNameFor(expected.value);
    if (t.isErr()) return err(t.error);
    trustName = t.value;
  }
  const trustHint = `\`tspod trust --prefix ${trustName} KEY.asc\``;

  // 1. Strict, bounded parse.
  const bytes = opts.signature;
  if (bytes.byteLength === 0) {
    return sigErr(`there is no signature for ${source} (the signature is empty)`,
      `sign the image with \`skopeo copy --sign-by FINGERPRINT\` (or get its signature from the publisher), ${SKIP_HINT}`);
  }
  if (bytes.byteLength > MAX_SIMPLE_SIGNATURE_BYTES) {
    return sigErr(`the signature is ${bytes.byteLength} bytes, far larger than any image signature (at most ${MAX_SIMPLE_SIGNATURE_BYTES})`,
      `check that the file is a signature written by skopeo for ${source}`);
  }
  const openpgp = await loadOpenpgp();
  const config: PartialConfig = {
    ignoreUnsupportedPackets: false,
    ignoreMalformedPackets: false,
    maxDecompressedMessageSize: MAX_DECOMPRESSED_BYTES,
    rejectMessageHashAlgorithms: new Set(WEAK_HASHES.map((h) => openpgp.enums.hash[h])),
    rejectHashAlgorithms: new Set([openpgp.enums.hash.md5, openpgp.enums.hash.ripemd]),
  };
  let message;
  try {
    if (looksArmored(bytes)) {
      const type = armorType(bytes);
      if (type !== 'MESSAGE') {
        return sigErr(`the signature is an armored ${type ?? 'block of unknown type'}, not a signed message (a containers/image signature)`,
          `sign the image with \`skopeo copy --sign-by FINGERPRINT\` or \`skopeo standalone-sign\`, ${SKIP_HINT}`);
      }
      message = await openpgp.readMessage({ armoredMessage: Buffer.from(bytes).toString('utf8'), config });
    } else {
      message = await openpgp.readMessage({ binaryMessage: bytes, config });
    }
  } catch (e) {
    return sigErr(`the signature cannot be read as an OpenPGP signed message: ${errorText(e)}`,
      `fetch the signature again; it must be the file written by \`skopeo copy --sign-by\`, ${SKIP_HINT}`, e);
  }
  const tags = openpgp.enums.packet;
  let inner;
  try {
    inner = message.unwrapCompressed();
  } catch (e) {
    return sigErr(`the signed message cannot be decompressed: ${errorText(e)}`, `fetch the signature again, ${SKIP_HINT}`, e);
  }
  // Packets up to the literal data (openpgp keeps the trailing signature packets in a stream:
  // they are reached through openpgp.verify's result below).
  const allowed = new Set<number>([tags.onePassSignature, tags.literalData, tags.signature]);
  let literals = 0;
  for (const p of inner.packets) {
    const tag = (p.constructor as unknown as { tag: number }).tag;
    if (!allowed.has(tag)) {
      let name: string;
      try {
        name = openpgp.enums.read(tags, tag);
      } catch {
        name = `tag ${tag}`;
      }
      return sigErr(`the signature holds a ${name} packet; a containers/image signature is a plain signed message (no encryption, no nesting)`,
        `sign the image with \`skopeo copy --sign-by FINGERPRINT\`, ${SKIP_HINT}`);
    }
    if (tag === tags.literalData) literals++;
  }
  if (literals !== 1) {
    return sigErr(`the signed message holds ${literals} literal data packets (exactly one is needed: the signed JSON)`,
      `sign the image with \`skopeo copy --sign-by FINGERPRINT\`, ${SKIP_HINT}`);
  }

  // The keyring for the name: openpgp checks the signatures against these keys only.
  const keyring = await opts.keystore.keyringFor(trustName);
  if (keyring.isErr()) return err(keyring.error);
  const now = new Date();
  let result;
  try {
    result = await openpgp.verify({ message, verificationKeys: keyring.value.map((k) => k.key), format: 'binary', config, date: now });
  } catch (e) {
    return sigErr(`the signed message cannot be read: ${errorText(e)}`,
      `fetch the signature again; it must be the file written by \`skopeo copy --sign-by\`, ${SKIP_HINT}`, e);
  }
  if (result.signatures.length === 0) {
    return sigErr('the message is not signed', `sign the image with \`skopeo copy --sign-by FINGERPRINT\`, ${SKIP_HINT}`);
  }
  if (result.signatures.length > MAX_MESSAGE_SIGNATURES) {
    return sigErr(`the message holds ${result.signatures.length} signatures (at most ${MAX_MESSAGE_SIGNATURES})`, 'sign with one key per signature');
  }
  const packets: SignaturePacket[] = [];
  for (const s of result.signatures) {
    let sig;
    try {
      sig = await s.signature;
    } catch (e) {
      return sigErr(`a signature in the message cannot be read: ${errorText(e)}`, `fetch the signature of ${source} again, ${SKIP_HINT}`, e);
    }
    const packet = sig.packets[0];
    if (sig.packets.length !== 1 || packet === undefined) {
      return sigErr('a signature in the message is malformed', `fetch the signature of ${source} again, ${SKIP_HINT}`);
    }
    packets.push(packet);
  }

  // 1 (continued). Form and hash of every signature, before its result is looked at.
  const strong = new Set<number>(STRONG_HASHES.map((h) => openpgp.enums.hash[h]));
  for (const p of packets) {
    const issuer = issuerOf(p).label;
    if (p.signatureType !== openpgp.enums.signature.binary) {
      return sigErr(`the signature by key ${issuer} is not a binary-mode data signature (type 0x${(p.signatureType ?? 0).toString(16).padStart(2, '0')})`,
        `sign the image with \`skopeo copy --sign-by FINGERPRINT\`, ${SKIP_HINT}`);
    }
    if (p.hashAlgorithm === null || !strong.has(p.hashAlgorithm)) {
      const weak = p.hashAlgorithm !== null && WEAK_HASHES.some((h) => openpgp.enums.hash[h] === p.hashAlgorithm);
      return sigErr(
        `the signature by key ${issuer} uses ${weak ? 'the broken hash ' : ''}${hashName(openpgp, p.hashAlgorithm)}; tspod accepts SHA-256, SHA-384, SHA-512 (and SHA-224, SHA3) only`,
        'ask the publisher to re-sign with SHA-256 or stronger (gpg.conf: `personal-digest-preferences SHA512`, then `skopeo copy --sign-by`)');
    }
  }

  // 2. Every signer trusted for the name.
  const signers: TrustedKey[] = [];
  for (const p of packets) {
    const signer = findSigner(keyring.value, p);
    if (signer === undefined) return err(await untrusted(opts, trustName, p, what));
    signers.push(signer);
  }

  // 3. Signer keys usable now.
  const unusable = await unusableSigner(packets, signers, now);
  if (unusable) return sigErr(...unusableSignerText(source, unusable, trustHint));

  // 4. The cryptographic check of every signature.
  for (let i = 0; i < result.signatures.length; i++) {
    try {
      await result.signatures[i]!.verified;
    } catch (e) {
      return err(verificationFailure(e, signers[i]!, source, what));
    }
  }
  const payload: Uint8Array = result.data;

  // 5. The payload.
  const claims = parsePayload(payload);
  if (typeof claims === 'string') {
    return sigErr(`the signed payload is not a valid atomic container signature: ${claims}`,
      `sign the image with \`skopeo copy --sign-by FINGERPRINT\`, ${SKIP_HINT}`);
  }

  // 6. The claims against what was fetched.
  if (claims.manifestDigest !== opts.manifestDigest) {
    return sigErr(`the signature is for the manifest ${claims.manifestDigest}, but the manifest fetched for ${source} is ${opts.manifestDigest}`,
      `the image was changed after signing, or the signature belongs to another image: do not use it; ask the publisher to sign ${source}, ${SKIP_HINT}`);
  }
  const mismatch = referenceMismatch(claims.dockerReference, expected.value);
  if (mismatch !== null) {
    return sigErr(`the signature is for ${shown(claims.dockerReference)}, not for ${opts.expectedReference}: ${mismatch}`,
      `a signature vouches only for the reference it names; ask the publisher to sign ${opts.expectedReference}, ${SKIP_HINT}`);
  }
  const seen = new Set<string>();
  return ok({
    signers: signers
      .filter((s) => (seen.has(s.fingerprint) ? false : (seen.add(s.fingerprint), true)))
      .map((s) => ({ fingerprint: s.fingerprint, userIds: [...s.userIds] })),
    claims,
  });
}

/** containers/image's matchRepoDigestOrExact: why the signed reference does not match, or null. */
function referenceMismatch(signed: string, expected: ImageReference): string | null {
  // Name-only is checked on the text: parseDockerReference would add `:latest`.
  const lastSlash = signed.lastIndexOf('/');
  if (!signed.includes('@') && !signed.slice(lastSlash + 1).includes(':')) {
    return 'the signed reference names no tag or digest';
  }
  if (signed.startsWith('docker://')) return 'the signed reference has a transport prefix';
  const parsed = parseDockerReference(signed);
  if (parsed.isErr()) return `the signed reference is invalid (${parsed.error.why})`;
  const s = parsed.value;
  const sameName = s.domain === expected.domain && s.repository === expected.repository;
  if (expected.tag !== undefined) {
    const same = sameName && s.tag === expected.tag && s.digest === expected.digest;
    return same ? null : sameName ? 'the tag (or digest) differs' : 'it names another repository';
  }
  return sameName ? null : 'it names another repository';
}

/** Reads the payload as containers/image does; returns the claims or why they are refused. */
function parsePayload(payload: Uint8Array): SimpleSignatureClaims | string {
  let text: string;
  try {
    text = new TextDecoder('utf-8', { fatal: true }).decode(payload);
  } catch {
    return 'it is not UTF-8 text';
  }
  let doc: unknown;
  try {
    doc = JSON.parse(text);
  } catch (e) {
    return `it is not JSON (${errorText(e)})`;
  }
  const dup = duplicateKey(text);
  if (dup !== null) return `the key ${shown(dup)} appears twice in one object`;
  const exact = (v: unknown, where: string, fields: string[]): Record<string, unknown> | string => {
    if (v === null || typeof v !== 'object' || Array.isArray(v)) return `${where} is not a JSON object`;
    const obj = v as Record<string, unknown>;
    for (const k of Object.keys(obj)) {
      if (!fields.includes(k)) return `${where} has the unknown field ${shown(k)} (only ${fields.join(', ')} are allowed)`;
    }
    for (const f of fields) if (!Object.hasOwn(obj, f)) return `${where} lacks the field ${shown(f)}`;
    return obj;
  };
  const top = exact(doc, 'the top level', ['critical', 'optional']);
  if (typeof top === 'string') return top;
  const optional = top['optional'];
  if (optional === null || typeof optional !== 'object' || Array.isArray(optional)) return 'optional is not a JSON object';
  const opt = optional as Record<string, unknown>;
  let creator: string | undefined;
  let timestamp: number | undefined;
  if (Object.hasOwn(opt, 'creator')) {
    if (typeof opt['creator'] !== 'string') return 'optional.creator is not a string';
    creator = opt['creator'];
  }
  if (Object.hasOwn(opt, 'timestamp')) {
    const t = opt['timestamp'];
    if (typeof t !== 'number' || !Number.isInteger(t)) return 'optional.timestamp is not an integer';
    timestamp = t;
  }
  const critical = exact(top['critical'], 'critical', ['type', 'image', 'identity']);
  if (typeof critical === 'string') return critical;
  if (typeof critical['type'] !== 'string') return 'critical.type is not a string';
  if (critical['type'] !== SIGNATURE_TYPE) return `critical.type is ${shown(critical['type'])}, not ${shown(SIGNATURE_TYPE)}`;
  const image = exact(critical['image'], 'critical.image', ['docker-manifest-digest']);
  if (typeof image === 'string') return image;
  const digest = image['docker-manifest-digest'];
  if (typeof digest !== 'string') return 'critical.image.docker-manifest-digest is not a string';
  if (checkManifestDigest(digest, '').isErr()) return `critical.image.docker-manifest-digest ${shown(digest)} is not a digest`;
  const identity = exact(critical['identity'], 'critical.identity', ['docker-reference']);
  if (typeof identity === 'string') return identity;
  const ref = identity['docker-reference'];
  if (typeof ref !== 'string') return 'critical.identity.docker-reference is not a string';
  return {
    manifestDigest: digest,
    dockerReference: ref,
    ...(creator !== undefined ? { creator } : {}),
    ...(timestamp !== undefined ? { timestamp } : {}),
  };
}

/** The first key repeated within one object of (already validated) JSON text, or null. */
function duplicateKey(text: string): string | null {
  const stack: Array<Set<string> | null> = [];
  for (let i = 0; i < text.length; i++) {
    const c = text[i];
    if (c === '{') stack.push(new Set());
    else if (c === '[') stack.push(null);
    else if (c === '}' || c === ']') stack.pop();
    else if (c === '"') {
      let j = i + 1;
      while (text[j] !== '"') j += text[j] === '\\' ? 2 : 1;
      const str = JSON.parse(text.slice(i, j + 1)) as string;
      let k = j + 1;
      while (k < text.length && /\s/.test(text[k]!)) k++;
      const top = stack[stack.length - 1];
      if (text[k] === ':' && top) {
        if (top.has(str)) return str;
        top.add(str);
      }
      i = j;
    }
  }
  return null;
}

function verificationFailure(e: unknown, signer: TrustedKey, source: string, what: string): TspodError {
  const m = errorText(e);
  const by = `the signature by key ${signer.fingerprint}${signer.userIds[0] ? ` (${signer.userIds[0]})` : ''}`;
  const refetch = `do not use this signature: fetch ${source} and its signature again from a source you trust, ${SKIP_HINT}`;
  if (/Signed digest did not match|Signature verification failed|digest/i.test(m)) {
    return tspodError(ErrorCodes.SIG_INVALID, what, `${by} does not match its signed payload: the signature was altered`, refetch, e);
  }
  if (/Insecure (message )?hash algorithm/i.test(m)) {
    return tspodError(ErrorCodes.SIG_INVALID, what, `${by} uses a weak hash (${m.replace(/^.*: /, '')})`,
      'ask the publisher to re-sign with SHA-256 or stronger', e);
  }
  if (/creation time is in the future/i.test(m)) {
    return tspodError(ErrorCodes.SIG_INVALID, what, `${by} was made in the future by this machine's clock`, 'check the system clock, then try again', e);
  }
  if (/revoked/i.test(m)) {
    return tspodError(ErrorCodes.SIG_INVALID, what, `${by} was made with a revoked key`,
      `ask the publisher for a signature by a current key; remove this one with \`tspod trust rm ${signer.fingerprint}\``, e);
  }
  if (/expired/i.test(m)) {
    return tspodError(ErrorCodes.SIG_INVALID, what, `${by} has expired or was made by an expired key (${m})`, 'ask the publisher for a fresh signature', e);
  }
  return tspodError(ErrorCodes.SIG_INVALID, what, `${by} is not valid: ${m}`, refetch, e);
}

async function untrusted(opts: SimpleVerifyOptions, trustName: string, p: SignaturePacket, what: string): Promise<TspodError> {
  const issuer = issuerOf(p);
  let fingerprint = issuer.fingerprint;
  let elsewhere = '';
  const all = await opts.keystore.allKeys();
  if (all.isOk()) {
    const holders = all.value.filter((k) => findSigner([k], p) !== undefined);
    if (holders.length > 0) {
      fingerprint = holders[0]!.fingerprint;
      const scopes = [...new Set(holders.map((h) => h.prefix ?? '(root)'))].join(', ');
      elsewhere = `; ${holders[0]!.userIds[0] ?? 'that key'} is trusted only for the prefix ${scopes}`;
    }
  }
  const key = fingerprint ?? `with key ID ${p.issuerKeyID.toHex()}`;
  return tspodError(ErrorCodes.SIG_UNTRUSTED, what,
    `${opts.source} is signed by key ${key}, which is not trusted for ${trustName}${elsewhere}`,
    `if that key is the publisher's (check its fingerprint with them), run \`tspod trust --prefix ${trustName} KEY.asc\`, ${SKIP_HINT}`);
}
