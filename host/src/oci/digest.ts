// OCI content digests (image-spec descriptor.md): `algorithm:encoded`, of which tspod accepts the
// two registered algorithms, sha256 and sha512, with lowercase hex of exactly their length. A
// digest names a blob file (blobs/<algorithm>/<encoded>), so anything else (other algorithms,
// uppercase, a wrong length, `sha256:../x`) is refused before it comes near a path.
import { createReadStream, fstatSync, lstatSync, openSync, closeSync, constants as fsConstants } from 'node:fs';
import { createHash } from 'node:crypto';
import { join } from 'node:path';
import { ResultAsync, ok, err, type Result } from '../result.js';
import { describeErrno, ErrorCodes, tspodError, type TspodError } from '../errors.js';

export type DigestAlgorithm = 'sha256' | 'sha512';

export interface Digest {
  readonly algorithm: DigestAlgorithm;
  /** Lowercase hex: 64 characters for sha256, 128 for sha512. */
  readonly encoded: string;
}

const HEX_LENGTH: Readonly<Record<DigestAlgorithm, number>> = { sha256: 64, sha512: 128 };
/** The spec's grammar for the algorithm part, to tell "unsupported" from "malformed". */
const ALGORITHM_GRAMMAR = /^[a-z0-9]+(?:[.+_-][a-z0-9]+)*$/;
/** Longer inputs are cut in messages: a digest is never this long. */
const SHOWN_CHARS = 160;

function shown(s: string): string {
  return JSON.stringify(s.length > SHOWN_CHARS ? `${s.slice(0, SHOWN_CHARS)}...` : s);
}

function invalid(input: string, why: string): TspodError {
  return tspodError(ErrorCodes.IMAGE_INVALID, `parse digest ${shown(input)}`, why,
    'the image (manifest, index or config) is malformed; fetch it again from a trusted source');
}

/** Parses and validates `algorithm:encoded`; only sha256 and sha512 with lowercase hex are accepted. */
export function parseDigest(input: string): Result<Digest, TspodError> {
  if (typeof input !== 'string') return err(invalid(String(input), 'a digest must be a string'));
  const colon = input.indexOf(':');
  if (colon < 0) return err(invalid(input, 'a digest must be algorithm:hex (e.g. sha256:<64 hex digits>)'));
  const algorithm = input.slice(0, colon);
  const encoded = input.slice(colon + 1);
  if (algorithm !== 'sha256' && algorithm !== 'sha512') {
    const why = ALGORITHM_GRAMMAR.test(algorithm)
      ? `the algorithm ${shown(algorithm)} is not supported (only sha256 and sha512)`
      : `the algorithm ${shown(algorithm)} is malformed`;
    return err(invalid(input, why));
  }
  const want = HEX_LENGTH[algorithm];
  if (!/^[0-9a-f]*$/.test(encoded)) {
    const why = /^[0-9a-fA-F]*$/.test(encoded)
      ? `the ${algorithm} value must be lowercase hex`
      : `the ${algorithm} value must be ${want} lowercase hex digits; it holds other characters`;
    return err(invalid(input, why));
  }
  if (encoded.length !== want) return err(invalid(input, `the ${algorithm} value must be ${want} hex digits, not ${encoded.length}`));
  return ok({ algorithm, encoded });
}

export function formatDigest(d: Digest): string {
  return `${d.algorithm}:${d.encoded}`;
}

/** The blob's path in an OCI image layout: <layout>/blobs/<algorithm>/<encoded> (the digest is validated). */
export function blobPath(layout: string, digest: string | Digest): Result<string, TspodError> {
  const d = typeof digest === 'string' ? parseDigest(digest) : parseDigest(formatDigest(digest));
  return d.map((v) => join(layout, 'blobs', v.algorithm, v.encoded));
}

/**
 * Streams the file at path through node:crypto and checks it against digest. The path must be a
 * regular file itself: a symlink (checked with lstat, and opened with O_NOFOLLOW so a swap after the
 * check fails too) is refused, as is anything that is not a regular file.
 */
export function verifyBlobFile(path: string, digest: string | Digest): ResultAsync<Digest, TspodError> {
  return new ResultAsync(verify(path, digest));
}

async function verify(path: string, digest: string | Digest): Promise<Result<Digest, TspodError>> {
  const parsed = typeof digest === 'string' ? parseDigest(digest) : parseDigest(formatDigest(digest));
  if (parsed.isErr()) return err(parsed.error);
  const want = parsed.value;
  const what = `verify blob ${path}`;
  const notRegular = (kind: string): TspodError => tspodError(ErrorCodes.IMAGE_INVALID, what,
    `it is ${kind}; blobs must be regular files`, 'the image layout is malformed or hostile; do not use it');
  const ioError = (e: unknown): TspodError =>
    tspodError(ErrorCodes.IO, what, describeErrno(e), 'check that the blob exists and is readable', e);
  let fd: number;
  try {
    const st = lstatSync(path);
    if (st.isSymbolicLink()) return err(notRegular('a symlink'));
    if (!st.isFile()) return err(notRegular(st.isDirectory() ? 'a directory' : 'a special file'));
    fd = openSync(path, fsConstants.O_RDONLY | fsConstants.O_NOFOLLOW | fsConstants.O_NONBLOCK);
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ELOOP') return err(notRegular('a symlink'));
    return err(ioError(e));
  }
  try {
    if (!fstatSync(fd).isFile()) {
      closeSync(fd);
      return err(notRegular('no longer a regular file'));
    }
  } catch (e) {
    closeSync(fd);
    return err(ioError(e));
  }
  const hash = createHash(want.algorithm);
  try {
    // The stream owns the fd and closes it at the end or on error.
    for await (const chunk of createReadStream('', { fd, highWaterMark: 1 << 20 })) hash.update(chunk as Buffer);
  } catch (e) {
    return err(ioError(e));
  }
  const got = hash.digest('hex');
  if (got !== want.encoded) {
    return err(tspodError(ErrorCodes.IMAGE_INVALID, what, `its content has ${want.algorithm}:${got}, not the expected ${formatDigest(want)}`,
      'the blob is corrupt or was tampered with; remove it and fetch the image again'));
  }
  return ok(want);
}
