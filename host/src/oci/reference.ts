// Docker image references, parsed as Docker (distribution/reference) does:
//
//   docker://[REGISTRY[:PORT]/]NAME[:TAG][@sha256:DIGEST]
//
// The first path component is a registry when it contains a '.' or a ':' or is 'localhost'
// (otherwise it is part of the name). No registry means Docker Hub: `docker.io`, contacted as
// `registry-1.docker.io`, with `library/` added to single-component names. No tag and no digest
// means the tag `latest`. The repository must be lower case; a digest must be `sha256:` and 64
// lower-case hex digits (no other algorithm, nothing a path could be made of).
import { err, ok, type Result } from '../result.js';
import { ErrorCodes, tspodError, type TspodError } from '../errors.js';

export const DOCKER_SCHEME = 'docker://';
export const DEFAULT_DOMAIN = 'docker.io';
/** The host Docker Hub's registry API answers on. */
export const DOCKER_HUB_REGISTRY = 'registry-1.docker.io';
export const DEFAULT_TAG = 'latest';
export const MAX_NAME_LENGTH = 255;

export interface ImageReference {
  /** The registry as named (`docker.io` for Docker Hub), host[:port]. */
  readonly domain: string;
  /** The host[:port] to contact (`registry-1.docker.io` for Docker Hub). */
  readonly registry: string;
  /** The repository path inside the registry, e.g. `library/busybox`. */
  readonly repository: string;
  /** The tag; `latest` when neither a tag nor a digest was given. */
  readonly tag?: string;
  /** `sha256:<64 hex>`, when the reference pins a digest. */
  readonly digest?: string;
}

const COMPONENT = /^[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*$/;
const TAG = /^[\w][\w.-]{0,127}$/;
const DOMAIN_COMPONENT = /^(?:[a-zA-Z0-9]|[a-zA-Z0-9][a-zA-Z0-9-]*[a-zA-Z0-9])$/;
const PORT = /^[0-9]+$/;
export const DIGEST_RE = /^sha256:[a-f0-9]{64}$/;

const HINT = 'write it as docker://[REGISTRY[:PORT]/]NAME[:TAG|@sha256:DIGEST], e.g. docker://busybox:1.36 or docker://quay.io/org/app@sha256:<64 hex>';

function invalid(input: string, why: string, hint = HINT): Result<never, TspodError> {
  return err(tspodError(ErrorCodes.IMAGE_INVALID, `parse image reference ${JSON.stringify(input)}`, why, hint));
}

/** Checks a digest string: `sha256:` and 64 lower-case hex digits. */
export function checkDigest(digest: string, what: string): Result<string, TspodError> {
  if (DIGEST_RE.test(digest)) return ok(digest);
  const algo = digest.includes(':') ? digest.slice(0, digest.indexOf(':')) : '';
  const why =
    algo && algo !== 'sha256'
      ? `digest ${JSON.stringify(digest)} uses ${JSON.stringify(algo)}; only sha256 is supported`
      : `${JSON.stringify(digest)} is not a digest: it must be "sha256:" followed by 64 lower-case hex digits`;
  return err(tspodError(ErrorCodes.IMAGE_INVALID, what, why, 'give the digest exactly as the registry or `skopeo inspect` shows it'));
}

function validDomain(domain: string): boolean {
  // host, host:port, [ipv6]:port
  let host = domain;
  const v6 = /^\[([0-9a-fA-F:.]+)\](?::([0-9]+))?$/.exec(domain);
  if (v6) return v6[2] === undefined || Number(v6[2]) <= 65535;
  const colon = domain.lastIndexOf(':');
  if (colon >= 0) {
    const port = domain.slice(colon + 1);
    if (!PORT.test(port) || Number(port) > 65535) return false;
    host = domain.slice(0, colon);
  }
  return host.length > 0 && host.split('.').every((c) => DOMAIN_COMPONENT.test(c));
}

/**
 * Parses `docker://…` (the scheme is optional here: the CLI decides which transport a word
 * names). Errors are TSPOD_E_IMAGE_INVALID naming the offending part.
 */
export function parseDockerReference(input: string): Result<ImageReference, TspodError> {
  let rest = input.startsWith(DOCKER_SCHEME) ? input.slice(DOCKER_SCHEME.length) : input;
  if (rest.length === 0) return invalid(input, 'the reference is empty');
  if (/\s/.test(rest)) return invalid(input, 'the reference contains white space');

  let digest: string | undefined;
  const at = rest.indexOf('@');
  if (at >= 0) {
    const d = rest.slice(at + 1);
    const checked = checkDigest(d, `parse image reference ${JSON.stringify(input)}`);
    if (checked.isErr()) return err(checked.error);
    digest = checked.value;
    rest = rest.slice(0, at);
  }

  // A tag follows the last ':' after the last '/' (a ':' before it is a registry port).
  let tag: string | undefined;
  const lastSlash = rest.lastIndexOf('/');
  const colon = rest.indexOf(':', lastSlash + 1);
  if (colon >= 0) {
    tag = rest.slice(colon + 1);
    rest = rest.slice(0, colon);
    if (!TAG.test(tag)) {
      return invalid(input, `tag ${JSON.stringify(tag)} is invalid: a tag is 1 to 128 of [A-Za-z0-9_.-] and cannot start with '.' or '-'`);
    }
  }

  let domain = DEFAULT_DOMAIN;
  let path = rest;
  const slash = rest.indexOf('/');
  if (slash >= 0) {
    const first = rest.slice(0, slash);
    if (first.includes('.') || first.includes(':') || first === 'localhost' || first !== first.toLowerCase()) {
      // As Docker: an upper-case first component can only be a host name.
      domain = first;
      path = rest.slice(slash + 1);
      if (!validDomain(domain)) return invalid(input, `registry ${JSON.stringify(domain)} is not a valid host[:port]`);
    }
  }
  if (path.length === 0) return invalid(input, 'the image name is empty');
  if (path !== path.toLowerCase()) {
    return invalid(input, `repository name ${JSON.stringify(path)} must be lower case`, `write it as ${JSON.stringify(path.toLowerCase())}`);
  }
  for (const component of path.split('/')) {
    if (!COMPONENT.test(component)) {
      return invalid(
        input,
        `name component ${JSON.stringify(component)} is invalid: components are lower-case letters and digits, separated by '.', '_', '__' or dashes, and cannot be empty`,
      );
    }
  }
  if (domain === 'index.docker.io') domain = DEFAULT_DOMAIN;
  if (domain === DEFAULT_DOMAIN && !path.includes('/')) path = `library/${path}`;
  const full = `${domain}/${path}`;
  if (full.length > MAX_NAME_LENGTH) return invalid(input, `the name is ${full.length} characters long; at most ${MAX_NAME_LENGTH} are allowed`);
  if (tag === undefined && digest === undefined) tag = DEFAULT_TAG;
  return ok({
    domain,
    registry: domain === DEFAULT_DOMAIN ? DOCKER_HUB_REGISTRY : domain,
    repository: path,
    ...(tag !== undefined ? { tag } : {}),
    ...(digest !== undefined ? { digest } : {}),
  });
}

/** The manifest reference to ask the registry for: the digest when pinned, else the tag. */
export function manifestReference(ref: ImageReference): string {
  return ref.digest ?? ref.tag ?? DEFAULT_TAG;
}

/** The canonical form, e.g. `docker.io/library/busybox:latest` or `host:5000/a/b@sha256:…`. */
export function formatReference(ref: ImageReference): string {
  return `${ref.domain}/${ref.repository}${ref.tag !== undefined ? `:${ref.tag}` : ''}${ref.digest !== undefined ? `@${ref.digest}` : ''}`;
}
