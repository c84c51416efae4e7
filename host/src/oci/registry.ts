// A Docker registry v2 / OCI distribution client: manifests (every media type in Accept, digest
// of the bytes as served checked against Docker-Content-Digest and a pinned digest, bounded
// size), platform selection in a manifest list / OCI index, and blobs streamed to a file by
// downloadToFile (sha256 on the WASM core, resumable with Range).
//
// Transport: https by default. With insecure.http a registry that does not speak TLS is
// contacted over plain http (as Docker does for an insecure registry); without it, a registry
// that answers TLS with plain http is refused with TSPOD_E_INSECURE.
//
// Auth: a 401 with `WWW-Authenticate: Bearer realm=…,service=…,scope=…` fetches a token from the
// realm (with basic auth when credentials are configured for the registry), caches it per
// registry and scope, and retries once; a Basic challenge is answered with the configured
// credentials. Credentials are never sent to another origin after a redirect.
import * as http from 'node:http';
import * as https from 'node:https';
import { createHash } from 'node:crypto';
import { arch as osArch, endianness } from 'node:os';
import { rootCertificates } from 'node:tls';
import { rm } from 'node:fs/promises';
import { ResultAsync, err, ok, type Result } from '../result.js';
import { describeErrno, ErrorCodes, tspodError, type TspodError } from '../errors.js';
import { downloadToFile, httpStatusOf, statusFailureError, type InsecureFetch } from '../fetch/http.js';
import { checkDigest, formatReference, manifestReference, type ImageReference } from './reference.js';
import { Failure, fail, toResult } from '../failure.js';

export const MEDIA_TYPES = {
  dockerManifest: 'application/vnd.docker.distribution.manifest.v2+json',
  dockerManifestList: 'application/vnd.docker.distribution.manifest.list.v2+json',
  ociManifest: 'application/vnd.oci.image.manifest.v1+json',
  ociIndex: 'application/vnd.oci.image.index.v1+json',
} as const;

const DOCKER_SCHEMA1 = new Set([
  'application/vnd.docker.distribution.manifest.v1+json',
  'application/vnd.docker.distribution.manifest.v1+prettyjws',
]);

/** Every manifest media type tspod understands, sent in Accept on every manifest request. */
export const MANIFEST_ACCEPT = [MEDIA_TYPES.ociIndex, MEDIA_TYPES.ociManifest, MEDIA_TYPES.dockerManifestList, MEDIA_TYPES.dockerManifest];

const LIST_TYPES = new Set<string>([MEDIA_TYPES.dockerManifestList, MEDIA_TYPES.ociIndex]);

/** Manifests larger than this are refused (the distribution spec suggests 4 MiB). */
export const MAX_MANIFEST_BYTES = 4 << 20;
/** Token responses and error bodies are small; larger ones are refused. */
const MAX_SMALL_BYTES = 1 << 20;
const MAX_REDIRECTS = 10;
const IDLE_TIMEOUT_MS = 30_000;

export interface Credentials {
  readonly username: string;
  readonly password: string;
}

export interface RegistryClientOptions {
  readonly insecure: InsecureFetch;
  /** An extra trusted CA (PEM), added to Node's bundled roots. */
  readonly ca?: Buffer;
  /** Credentials for a registry (host[:port] as in the reference), or undefined for anonymous. */
  readonly auth?: (registry: string) => Credentials | undefined;
  readonly signal?: AbortSignal;
}

export interface FetchedManifest {
  /** The manifest's media type (from the document, else Content-Type). */
  readonly mediaType: string;
  /** sha256 of the bytes as served. */
  readonly digest: string;
  readonly bytes: Buffer;
  readonly json: unknown;
}

export interface Platform {
  readonly os: string;
  readonly architecture: string;
  readonly variant?: string;
}

export interface Descriptor {
  readonly mediaType: string;
  readonly digest: string;
  readonly size: number;
  readonly platform?: Platform;
}

export interface BlobDownload {
  readonly size: number;
  /** HTTP status of the last response: 206 when an earlier download was resumed. */
  readonly statusCode: number;
  readonly resumedFrom: number;
}

// ---------------------------------------------------------------------------------------------
// Platforms

/** The OCI platform of this host (linux; x64 → amd64, arm64 → arm64/v8, arm → arm/v7). */
export function hostPlatform(): Result<Platform, TspodError> {
  const a = process.arch;
  switch (a) {
    case 'x64':
      return ok({ os: 'linux', architecture: 'amd64' });
    case 'arm64':
      return ok({ os: 'linux', architecture: 'arm64', variant: 'v8' });
    case 'arm': {
      const v = (process.config.variables as Record<string, unknown>)['arm_version'];
      return ok({ os: 'linux', architecture: 'arm', variant: typeof v === 'string' && /^[5-8]$/.test(v) ? `v${v}` : 'v7' });
    }
    case 'ia32':
      return ok({ os: 'linux', architecture: '386' });
    case 'ppc64':
      return ok({ os: 'linux', architecture: endianness() === 'LE' ? 'ppc64le' : 'ppc64' });
    case 's390x':
    case 'riscv64':
      return ok({ os: 'linux', architecture: a });
    default:
      return err(
        tspodError(ErrorCodes.UNSUPPORTED, 'choose the image platform', `this host's architecture ${JSON.stringify(osArch())} has no OCI name tspod knows`, 'give the platform explicitly (--platform os/arch[/variant])'),
      );
  }
}

/** Fills in the variants Docker/containerd imply: arm64 → v8, arm → v7. */
function normalVariant(p: Platform): string {
  if (p.variant) return p.variant;
  if (p.architecture === 'arm64') return 'v8';
  if (p.architecture === 'arm') return 'v7';
  return '';
}

function describePlatform(p: Platform): string {
  return `${p.os}/${p.architecture}${p.variant ? `/${p.variant}` : ''}`;
}

const DIGEST_OK = /^sha256:[a-f0-9]{64}$/;

function manifestInvalid(what: string, why: string): TspodError {
  return tspodError(ErrorCodes.MANIFEST_INVALID, what, why, 'the registry serves a damaged or unsupported manifest; tell its operator or pick another tag');
}

/**
 * The descriptor in a manifest list / OCI index (its parsed JSON) for `platform`; the first
 * match wins. No match: TSPOD_E_NOT_FOUND listing the platforms the index offers.
 */
export function resolvePlatform(indexOrList: unknown, platform: Platform): Result<Descriptor, TspodError> {
  const what = `choose the ${describePlatform(platform)} image from the index`;
  if (!indexOrList || typeof indexOrList !== 'object' || !Array.isArray((indexOrList as { manifests?: unknown }).manifests)) {
    return err(manifestInvalid(what, 'the document is not a manifest list or OCI index (no "manifests" array)'));
  }
  const offered: string[] = [];
  const want = normalVariant(platform);
  for (const [i, m] of ((indexOrList as { manifests: unknown[] }).manifests).entries()) {
    if (!m || typeof m !== 'object') return err(manifestInvalid(what, `manifests[${i}] is not an object`));
    const d = m as Record<string, unknown>;
    const p = d['platform'] as Record<string, unknown> | undefined;
    if (!p || typeof p !== 'object' || typeof p['os'] !== 'string' || typeof p['architecture'] !== 'string') continue;
    const plat: Platform = {
      os: p['os'],
      architecture: p['architecture'],
      ...(typeof p['variant'] === 'string' && p['variant'] ? { variant: p['variant'] } : {}),
    };
    offered.push(describePlatform(plat));
    if (plat.os !== platform.os || plat.architecture !== platform.architecture || normalVariant(plat) !== want) continue;
    if (typeof d['digest'] !== 'string' || !DIGEST_OK.test(d['digest'])) {
      return err(manifestInvalid(what, `manifests[${i}] has no valid sha256 digest (${JSON.stringify(d['digest'])})`));
    }
    if (typeof d['mediaType'] !== 'string' || typeof d['size'] !== 'number' || !Number.isSafeInteger(d['size']) || d['size'] < 0) {
      return err(manifestInvalid(what, `manifests[${i}] lacks a mediaType or a valid size`));
    }
    return ok({ mediaType: d['mediaType'], digest: d['digest'], size: d['size'], platform: plat });
  }
  return err(
    tspodError(
      ErrorCodes.NOT_FOUND,
      what,
      offered.length ? `the index offers only ${[...new Set(offered)].join(', ')}` : 'the index names no platform at all',
      'pick one of the platforms offered (--platform), or an image built for this one',
    ),
  );
}

// ---------------------------------------------------------------------------------------------
// HTTP


interface Response {
  readonly status: number;
  readonly headers: http.IncomingHttpHeaders;
  readonly body: Buffer;
  readonly url: URL;
}

function errCode(e: unknown): string | undefined {
  return e && typeof e === 'object' && 'code' in e && typeof (e as { code: unknown }).code === 'string' ? (e as { code: string }).code : undefined;
}

const CERT_CODES = new Set([
  'DEPTH_ZERO_SELF_SIGNED_CERT', 'SELF_SIGNED_CERT_IN_CHAIN', 'UNABLE_TO_VERIFY_LEAF_SIGNATURE', 'UNABLE_TO_GET_ISSUER_CERT',
  'UNABLE_TO_GET_ISSUER_CERT_LOCALLY', 'CERT_HAS_EXPIRED', 'CERT_NOT_YET_VALID', 'CERT_REVOKED', 'CERT_UNTRUSTED', 'CERT_REJECTED',
  'CERT_SIGNATURE_FAILURE', 'INVALID_CA', 'ERR_TLS_CERT_ALTNAME_INVALID',
]);

/** A TLS handshake that met a plain-http server. */
function isPlainHttpAnswer(e: unknown): boolean {
  const code = errCode(e);
  const m = e instanceof Error ? e.message : '';
  return code === 'ERR_SSL_WRONG_VERSION_NUMBER' || (code === 'EPROTO' && /wrong version number|packet length too long|http request/i.test(m));
}

function header(h: http.IncomingHttpHeaders, name: string): string | undefined {
  const v = h[name];
  return Array.isArray(v) ? v[0] : v;
}

interface RequestOptions {
  readonly what: string;
  readonly method: 'GET' | 'HEAD';
  readonly headers: Record<string, string>;
  readonly maxBytes: number;
}

export class RegistryClient {
  private readonly insecure: InsecureFetch;
  private readonly ca: Buffer | undefined;
  private readonly credentialsFor: (registry: string) => Credentials | undefined;
  private readonly signal: AbortSignal | undefined;
  /** Authorization header values by `registry|scope` (Bearer) or `registry|` (Basic). */
  private readonly tokens = new Map<string, string>();
  /** The scheme each registry answered on: https, or http with insecure.http. */
  private readonly schemes = new Map<string, 'https' | 'http'>();
  /** Requests this client made (method and URL), for diagnostics and tests. */
  readonly log: string[] = [];

  constructor(opts: RegistryClientOptions) {
    this.insecure = opts.insecure;
    this.ca = opts.ca;
    this.credentialsFor = opts.auth ?? (() => undefined);
    this.signal = opts.signal;
  }

  // -------------------------------------------------------------------------------------------
  // Plumbing

  private send(url: URL, o: RequestOptions): Promise<Response> {
    return new Promise((resolve, reject) => {
      this.log.push(`${o.method} ${url.href}`);
      const common: http.RequestOptions = { method: o.method, headers: { 'user-agent': 'tspod', 'accept-encoding': 'identity', ...o.headers }, agent: false, signal: this.signal };
      const req =
        url.protocol === 'https:'
          ? https.request(url, { ...common, rejectUnauthorized: !this.insecure.tls, ...(this.ca ? { ca: [...rootCertificates, this.ca] } : {}) })
          : http.request(url, common);
      req.setTimeout(IDLE_TIMEOUT_MS, () => req.destroy(Object.assign(new Error(`no data for ${IDLE_TIMEOUT_MS / 1000} s`), { code: 'ETIMEDOUT' })));
      req.on('error', (e) => reject(this.networkFailure(e, url, o.what)));
      req.once('response', (res) => {
        const status = res.statusCode ?? 0;
        const declared = Number(header(res.headers, 'content-length'));
        const tooBig = (): Failure =>
          fail(ErrorCodes.FETCH, o.what, `${url.href} answered with more than ${o.maxBytes} bytes`, 'the registry sends something far larger than expected; check the registry and the reference');
        // Only the bodies of successful answers are bounded errors; others are cut short.
        if (status >= 200 && status < 300 && Number.isFinite(declared) && declared > o.maxBytes) {
          res.destroy();
          reject(tooBig());
          return;
        }
        const chunks: Buffer[] = [];
        let n = 0;
        res.on('data', (c: Buffer) => {
          n += c.length;
          if (n > o.maxBytes) {
            res.destroy();
            reject(status >= 200 && status < 300 ? tooBig() : fail(ErrorCodes.FETCH, o.what, `${url.href} answered ${status} with an oversized body`, 'check the registry'));
            return;
          }
          chunks.push(c);
        });
        res.on('error', (e) => reject(this.networkFailure(e, url, o.what)));
        res.on('end', () => resolve({ status, headers: res.headers, body: Buffer.concat(chunks), url }));
      });
      req.end();
    });
  }

  private networkFailure(e: unknown, url: URL, what: string): Failure {
    if (e instanceof Failure) return e;
    const code = errCode(e);
    const msg = e instanceof Error ? e.message : String(e);
    const where = url.host;
    if (this.signal?.aborted || code === 'ABORT_ERR') return fail(ErrorCodes.FETCH, what, 'the request was cancelled', 'try again', e);
    if (code && CERT_CODES.has(code)) {
      return fail(
        ErrorCodes.INSECURE,
        what,
        `TLS: the certificate of ${where} is not trusted (${code})`,
        'if you trust this registry and the network path to it, --insecure-options=tls skips certificate checks; otherwise fix the certificate or add its CA to the trust store',
        e,
      );
    }
    if (isPlainHttpAnswer(e)) {
      return fail(
        ErrorCodes.INSECURE,
        what,
        `${where} does not speak https (it answered the TLS handshake in plain http), refused without --insecure-options=http`,
        'pass --insecure-options=http if plain http to this registry is really intended (nothing then protects the bytes in transit)',
        e,
      );
    }
    if (code === 'ECONNREFUSED') return fail(ErrorCodes.FETCH, what, `${where} refused the connection (ECONNREFUSED)`, 'check the registry host and port, and that it is running', e);
    if (code === 'ENOTFOUND' || code === 'EAI_AGAIN') return fail(ErrorCodes.FETCH, what, `DNS lookup of ${url.hostname} failed (${code})`, 'check the registry name and the network', e);
    return fail(ErrorCodes.FETCH, what, `${where}: ${msg}${code ? ` (${code})` : ''}`, 'check the network and the registry; try again', e);
  }

  /** GET/HEAD with redirects followed (bounded, no https→http downgrade, credentials kept to the origin). */
  private async request(start: URL, o: RequestOptions): Promise<Response> {
    let url = start;
    let headers = o.headers;
    for (let hop = 0; ; hop++) {
      const res = await this.send(url, { ...o, headers });
      if (![301, 302, 303, 307, 308].includes(res.status)) return res;
      const location = header(res.headers, 'location');
      if (!location) throw fail(ErrorCodes.FETCH, o.what, `${url.href} answered ${res.status} without a Location header`, 'tell the registry operator');
      if (hop >= MAX_REDIRECTS) throw fail(ErrorCodes.FETCH, o.what, `more than ${MAX_REDIRECTS} redirects`, 'the registry redirects in a loop');
      let next: URL;
      try {
        next = new URL(location, url);
      } catch (e) {
        throw fail(ErrorCodes.FETCH, o.what, `${url.href} redirected to an invalid URL ${JSON.stringify(location)}`, 'tell the registry operator', e);
      }
      this.checkScheme(next, o.what);
      if (next.origin !== url.origin) headers = Object.fromEntries(Object.entries(headers).filter(([k]) => k.toLowerCase() !== 'authorization'));
      url = next;
    }
  }

  private checkScheme(u: URL, what: string): void {
    if (u.protocol === 'https:') return;
    if (u.protocol === 'http:') {
      if (this.insecure.http) return;
      throw fail(ErrorCodes.INSECURE, what, `${u.href} is plain http, refused without --insecure-options=http`, 'pass --insecure-options=http if plain http is really intended (nothing then protects the bytes in transit)');
    }
    throw fail(ErrorCodes.FETCH, what, `the ${u.protocol.replace(/:$/, '')} scheme is not supported (${u.href})`, 'the registry or its token service must use https');
  }

  /** The base URL of a registry: https, or http when it does not speak TLS and insecure.http allows it. */
  private async base(registry: string, what: string): Promise<string> {
    let scheme = this.schemes.get(registry);
    if (!scheme) {
      try {
        await this.request(new URL(`https://${registry}/v2/`), { what, method: 'GET', headers: {}, maxBytes: MAX_SMALL_BYTES });
        scheme = 'https';
      } catch (e) {
        // As Docker for an insecure registry: any failure to talk https falls back to http.
        if (!(e instanceof Failure) || !this.insecure.http) throw e;
        scheme = 'http';
      }
      this.schemes.set(registry, scheme);
    }
    return `${scheme}://${registry}`;
  }

  // -------------------------------------------------------------------------------------------
  // Auth

  private static scopeKey(registry: string, repository: string): string {
    return `${registry}|repository:${repository}:pull`;
  }

  /** Answers a 401's challenge: fetches (or builds) the Authorization value and caches it. */
  private async authenticate(registry: string, repository: string, res: Response, what: string): Promise<string> {
    const raw = res.headers['www-authenticate'];
    const challenge = Array.isArray(raw) ? raw.join(', ') : raw;
    if (!challenge) throw fail(ErrorCodes.FETCH, what, `${res.url.href} answered 401 without a WWW-Authenticate challenge`, 'the registry wants credentials but does not say how; tell its operator');
    const parsed = parseChallenge(challenge);
    const creds = this.credentialsFor(registry);
    if (!parsed) throw fail(ErrorCodes.FETCH, what, `${registry} asks for an unsupported authentication scheme (${JSON.stringify(challenge.slice(0, 100))})`, 'tspod supports Bearer token and Basic authentication');
    if (parsed.scheme === 'basic') {
      if (!creds) {
        throw fail(ErrorCodes.FETCH, what, `${registry} requires a user name and password (Basic authentication)`, `configure credentials for ${registry}`);
      }
      const value = `Basic ${Buffer.from(`${creds.username}:${creds.password}`).toString('base64')}`;
      this.tokens.set(RegistryClient.scopeKey(registry, repository), value);
      return value;
    }
    const realm = parsed.params['realm'];
    if (!realm) throw fail(ErrorCodes.FETCH, what, `${registry}'s Bearer challenge names no realm`, 'tell the registry operator');
    let tokenUrl: URL;
    try {
      tokenUrl = new URL(realm);
    } catch (e) {
      throw fail(ErrorCodes.FETCH, what, `${registry}'s token realm ${JSON.stringify(realm)} is not a URL`, 'tell the registry operator', e);
    }
    this.checkScheme(tokenUrl, what);
    if (parsed.params['service']) tokenUrl.searchParams.set('service', parsed.params['service']);
    const scope = parsed.params['scope'] ?? `repository:${repository}:pull`;
    for (const s of scope.split(' ').filter(Boolean)) tokenUrl.searchParams.append('scope', s);
    const cacheKey = `${registry}|${scope}`;
    const headers: Record<string, string> = { accept: 'application/json' };
    if (creds) headers['authorization'] = `Basic ${Buffer.from(`${creds.username}:${creds.password}`).toString('base64')}`;
    const tokenWhat = `get a token for ${registry} (${scope}) from ${tokenUrl.origin}${tokenUrl.pathname}`;
    const tr = await this.request(tokenUrl, { what: tokenWhat, method: 'GET', headers, maxBytes: MAX_SMALL_BYTES });
    if (tr.status === 401 || tr.status === 403) {
      throw fail(
        ErrorCodes.FETCH,
        tokenWhat,
        creds ? `the token service refused the credentials for ${creds.username} (${tr.status})` : `the token service wants credentials (${tr.status})`,
        `check the credentials configured for ${registry}`,
      );
    }
    if (tr.status !== 200) throw new Failure(statusFailureError(tr.status, tr.url, tokenWhat));
    let body: unknown;
    try {
      body = JSON.parse(tr.body.toString('utf8'));
    } catch (e) {
      throw fail(ErrorCodes.FETCH, tokenWhat, `the token service answered with something that is not JSON (${JSON.stringify(tr.body.subarray(0, 60).toString('utf8'))}…)`, 'check the registry: its token realm does not serve tokens', e);
    }
    const o = (body && typeof body === 'object' ? body : {}) as Record<string, unknown>;
    const token = typeof o['token'] === 'string' && o['token'] ? o['token'] : typeof o['access_token'] === 'string' && o['access_token'] ? o['access_token'] : undefined;
    if (!token || /[\r\n]/.test(token)) throw fail(ErrorCodes.FETCH, tokenWhat, 'the token service answered JSON without a usable "token" or "access_token"', 'check the registry: its token realm does not serve tokens');
    const value = `Bearer ${token}`;
    this.tokens.set(cacheKey, value);
    this.tokens.set(RegistryClient.scopeKey(registry, repository), value);
    return value;
  }

  /** A request to the registry API for `repository`, authenticating once on 401. */
  private async api(registry: string, repository: string, path: string, o: Omit<RequestOptions, 'headers'> & { headers?: Record<string, string> }): Promise<Response> {
    const url = new URL(`${await this.base(registry, o.what)}${path}`);
    const headers = { ...o.headers };
    const cached = this.tokens.get(RegistryClient.scopeKey(registry, repository));
    if (cached) headers['authorization'] = cached;
    let res = await this.request(url, { ...o, headers });
    if (res.status === 401) {
      headers['authorization'] = await this.authenticate(registry, repository, res, o.what);
      res = await this.request(url, { ...o, headers });
      if (res.status === 401) {
        throw fail(ErrorCodes.FETCH, o.what, `${registry} refused the credentials for ${repository} (401 after authenticating)`, `check the credentials configured for ${registry} and that they may pull ${repository}`);
      }
    }
    return res;
  }

  // -------------------------------------------------------------------------------------------
  // Manifests

  /** The manifest `ref` names, verified: its sha256 against Docker-Content-Digest and a pinned digest. */
  getManifest(ref: ImageReference): ResultAsync<FetchedManifest, TspodError> {
    const what = `get the manifest of ${formatReference(ref)}`;
    return new ResultAsync(toResult(what, () => this.manifest(ref, manifestReference(ref), what)));
  }

  /** The manifest `digest` in the repository of `ref` (e.g. one an index names). */
  getManifestByDigest(ref: ImageReference, digest: string): ResultAsync<FetchedManifest, TspodError> {
    const what = `get manifest ${digest} of ${ref.domain}/${ref.repository}`;
    const checked = checkDigest(digest, what);
    if (checked.isErr()) return new ResultAsync(Promise.resolve(err(checked.error)));
    return new ResultAsync(toResult(what, () => this.manifest(ref, digest, what)));
  }

  /**
   * The image manifest for `platform` (default: this host's): a manifest list or index is
   * resolved and the chosen manifest fetched by digest.
   */
  getImageManifest(ref: ImageReference, platform?: Platform): ResultAsync<FetchedManifest & { index?: FetchedManifest }, TspodError> {
    return this.getManifest(ref).andThen((m) => {
      if (!LIST_TYPES.has(m.mediaType)) return ok(m) as Result<FetchedManifest & { index?: FetchedManifest }, TspodError>;
      const plat = platform ? ok(platform) : hostPlatform();
      return plat
        .andThen((p) => resolvePlatform(m.json, p))
        .asyncAndThen((d) => this.getManifestByDigest(ref, d.digest))
        .andThen((inner) =>
          LIST_TYPES.has(inner.mediaType)
            ? err(manifestInvalid(`get the manifest of ${formatReference(ref)}`, `index entry ${inner.digest} is itself an index; nested indexes are not followed`))
            : ok({ ...inner, index: m }),
        );
    });
  }

  private async manifest(ref: ImageReference, reference: string, what: string): Promise<FetchedManifest> {
    const res = await this.api(ref.registry, ref.repository, `/v2/${ref.repository}/manifests/${reference}`, {
      what,
      method: 'GET',
      headers: { accept: MANIFEST_ACCEPT.join(', ') },
      maxBytes: MAX_MANIFEST_BYTES,
    });
    if (res.status === 404) {
      throw fail(ErrorCodes.NOT_FOUND, what, `${ref.registry} has no manifest ${reference} in ${ref.repository} (404)`, 'check the image name, tag or digest (e.g. with `skopeo inspect`)');
    }
    if (res.status !== 200) throw new Failure(statusFailureError(res.status, res.url, what));
    const bytes = res.body;
    const digest = `sha256:${createHash('sha256').update(bytes).digest('hex')}`;
    const served = header(res.headers, 'docker-content-digest')?.trim();
    if (served && served.startsWith('sha256:') && served !== digest) {
      throw fail(ErrorCodes.IMAGE_INVALID, what, `the manifest's bytes have digest ${digest} but the registry says ${served} (Docker-Content-Digest)`, 'the manifest was altered in transit or the registry is broken; do not use it');
    }
    if (DIGEST_OK.test(reference) && reference !== digest) {
      throw fail(ErrorCodes.IMAGE_INVALID, what, `the registry served a manifest with digest ${digest}, not the ${reference} asked for`, 'the registry or something in between serves other content than the digest names; do not use it');
    }
    let json: unknown;
    try {
      json = JSON.parse(bytes.toString('utf8'));
    } catch (e) {
      throw new Failure({ ...manifestInvalid(what, `the manifest is not JSON (${describeErrno(e)})`), cause: e });
    }
    if (!json || typeof json !== 'object' || Array.isArray(json)) throw new Failure(manifestInvalid(what, 'the manifest is not a JSON object'));
    const declared = (json as Record<string, unknown>)['mediaType'];
    const contentType = header(res.headers, 'content-type')?.split(';')[0]?.trim();
    const mediaType = typeof declared === 'string' && declared ? declared : contentType ?? '';
    if (DOCKER_SCHEMA1.has(mediaType) || (json as Record<string, unknown>)['schemaVersion'] === 1) {
      throw fail(ErrorCodes.MANIFEST_INVALID, what, 'the registry serves a Docker schema 1 manifest, which is deprecated and unsupported', 'push the image again with a current Docker or skopeo (schema 2 or OCI)');
    }
    if (!MANIFEST_ACCEPT.includes(mediaType as (typeof MANIFEST_ACCEPT)[number])) {
      // An OCI manifest may omit mediaType; then the Content-Type and the document's shape decide.
      throw new Failure(manifestInvalid(what, `unsupported manifest media type ${JSON.stringify(mediaType)}`));
    }
    return { mediaType, digest, bytes, json };
  }

  // -------------------------------------------------------------------------------------------
  // Blobs

  /**
   * Streams blob `digest` of `ref`'s repository to `dest` (via dest.part, resumable with Range),
   * verifying its sha256; a blob that does not match is removed and refused.
   */
  getBlobToFile(ref: Pick<ImageReference, 'registry' | 'repository'>, digest: string, dest: string, opts: { progress?: boolean | NodeJS.WritableStream } = {}): ResultAsync<BlobDownload, TspodError> {
    const what = `get blob ${digest} of ${ref.registry}/${ref.repository}`;
    const checked = checkDigest(digest, what);
    if (checked.isErr()) return new ResultAsync(Promise.resolve(err(checked.error)));
    return new ResultAsync(toResult(what, () => this.blob(ref, digest, dest, what, opts.progress)));
  }

  private async blob(ref: Pick<ImageReference, 'registry' | 'repository'>, digest: string, dest: string, what: string, progress: boolean | NodeJS.WritableStream | undefined): Promise<BlobDownload> {
    const path = `/v2/${ref.repository}/blobs/${digest}`;
    const url = `${await this.base(ref.registry, what)}${path}`;
    const key = RegistryClient.scopeKey(ref.registry, ref.repository);
    const attempt = async () => {
      const auth = this.tokens.get(key);
      this.log.push(`GET ${url}`);
      return downloadToFile(url, {
        dest,
        insecure: this.insecure,
        ...(this.ca ? { ca: this.ca } : {}),
        hash: 'sha256',
        ...(progress !== undefined ? { progress } : {}),
        ...(this.signal ? { signal: this.signal } : {}),
        ...(auth ? { headers: { authorization: auth } } : {}),
      });
    };
    let r = await attempt();
    if (r.isErr() && httpStatusOf(r.error) === 401) {
      // The challenge is in the 401's headers, which downloadToFile does not return: ask again.
      const probe = await this.request(new URL(url), { what, method: 'HEAD', headers: this.tokens.has(key) ? { authorization: this.tokens.get(key)! } : {}, maxBytes: MAX_SMALL_BYTES });
      if (probe.status === 401) {
        await this.authenticate(ref.registry, ref.repository, probe, what);
        r = await attempt();
      }
    }
    if (r.isErr()) {
      const status = httpStatusOf(r.error);
      if (status === 404) throw fail(ErrorCodes.NOT_FOUND, what, `${ref.registry} has no blob ${digest} in ${ref.repository} (404)`, 'the image is incomplete on the registry; push it again');
      if (status === 401) throw fail(ErrorCodes.FETCH, what, `${ref.registry} refused the credentials for ${ref.repository} (401)`, `check the credentials configured for ${ref.registry}`);
      throw new Failure(r.error);
    }
    const got = r.value.digest ? `sha256:${r.value.digest}` : undefined;
    if (got !== digest) {
      await rm(dest, { force: true });
      throw fail(ErrorCodes.IMAGE_INVALID, what, `the blob's bytes have digest ${got ?? '(none)'}, not ${digest}`, 'the registry or something in between serves other content than the digest names; the file was removed');
    }
    return { size: r.value.size, statusCode: r.value.statusCode, resumedFrom: r.value.resumedFrom };
  }
}

/** `Bearer realm="…",service="…",scope="…"` or `Basic realm="…"`: the first Bearer, else Basic, challenge. */
export function parseChallenge(value: string): { scheme: 'bearer' | 'basic'; params: Record<string, string> } | undefined {
  const found: { scheme: string; params: Record<string, string> }[] = [];
  let i = 0;
  const skip = (chars: RegExp): void => {
    while (i < value.length && chars.test(value[i]!)) i++;
  };
  const token = (): string => {
    const start = i;
    while (i < value.length && /[A-Za-z0-9!#$%&'*+.^_`|~\/-]/.test(value[i]!)) i++;
    return value.slice(start, i);
  };
  while (i < value.length) {
    skip(/[\s,]/);
    const name = token();
    if (!name) break;
    skip(/\s/);
    if (value[i] === '=' && found.length > 0) {
      i++;
      skip(/\s/);
      let v = '';
      if (value[i] === '"') {
        i++;
        while (i < value.length && value[i] !== '"') {
          if (value[i] === '\\' && i + 1 < value.length) i++;
          v += value[i];
          i++;
        }
        i++;
      } else {
        const start = i;
        while (i < value.length && !/[\s,]/.test(value[i]!)) i++;
        v = value.slice(start, i);
      }
      found[found.length - 1]!.params[name.toLowerCase()] = v;
    } else {
      found.push({ scheme: name.toLowerCase(), params: {} });
    }
  }
  const pick = found.find((c) => c.scheme === 'bearer') ?? found.find((c) => c.scheme === 'basic');
  return pick ? { scheme: pick.scheme as 'bearer' | 'basic', params: pick.params } : undefined;
}
