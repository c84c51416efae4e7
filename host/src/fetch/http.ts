// HTTP(S) downloads for image fetch (rkt.md §4): https only unless --insecure-options=http, any
// certificate only with --insecure-options=tls; bounded redirects, no https→http downgrade;
// HTTP caching (max-age: no request at all; then a conditional GET answered by 304); and
// downloads that resume across processes.
//
// Resuming. Bytes go to `<dest>.part`; beside it, `<dest>.part.state` (JSON) records the URL, the
// validator of the partial resource (a strong ETag or Last-Modified), how many bytes of the .part
// are good, and, when the hash engine can export it, the hash state after exactly those bytes
// (stream-hash.ts: the WASM core's sha512 can, OpenSSL's sha256 cannot and re-reads the prefix). The state
// is saved every CHECKPOINT_BYTES and whenever the transfer fails, always after the bytes it counts
// were written, so a process killed at any moment leaves a state that is behind or equal to the
// file, never ahead of it. The next call truncates the .part to the recorded length, asks for
// `Range: bytes=N-` with `If-Range: <validator>`, and on 206 appends and continues hashing from the
// saved state: the first N bytes are not downloaded again (nor hashed again, with a saved state). On 200 (the server
// ignores Range, or the resource changed) or 416 it starts again from zero. The complete file is
// fsync'ed and renamed to `dest`; the state is removed.
import * as http from 'node:http';
import * as https from 'node:https';
import { rootCertificates } from 'node:tls';
import { open, readFile, rename, rm, stat, writeFile, type FileHandle } from 'node:fs/promises';
import { ResultAsync } from '../result.js';
import { describeErrno, ErrorCodes, tspodError, type TspodError } from '../errors.js';
import type { HashAlgorithm } from '../core/hash.js';
import { createStreamHasher, resumeStreamHasher, type StreamHasher } from './stream-hash.js';
import { createProgress } from './progress.js';
import { BatchWriter } from './batch-writer.js';
import { Failure, fail, toResult } from '../failure.js';

/** rkt's fetch-related --insecure-options. */
export interface InsecureFetch {
  /** Allow plain http (and https→http redirects). */
  readonly http: boolean;
  /** Accept any server certificate. */
  readonly tls: boolean;
}

/** What the caller remembers of an earlier download of the same URL. */
export interface CachedResource {
  readonly etag?: string;
  readonly lastModified?: string;
  /** Seconds, from the earlier response's Cache-Control. */
  readonly maxAge?: number;
  /** When it was downloaded, ms since the epoch. */
  readonly downloadedAt: number;
}

export interface DownloadOptions {
  /** Final path; bytes go to dest + '.part', renamed when complete. */
  readonly dest: string;
  readonly insecure: InsecureFetch;
  /** An extra trusted CA (PEM), added to Node's bundled roots. */
  readonly ca?: Buffer;
  readonly cached?: CachedResource;
  /** Digest of the bytes as served, computed while they arrive (engines: stream-hash.ts). */
  readonly hash?: HashAlgorithm;
  /** true: a progress bar on stderr when it is a terminal; a stream: on that stream when a TTY. */
  readonly progress?: boolean | NodeJS.WritableStream;
  readonly signal?: AbortSignal;
  /** Redirects followed before giving up; default 10. */
  readonly maxRedirects?: number;
  /** Extra request headers (e.g. Authorization); dropped when a redirect leaves the origin. */
  readonly headers?: Record<string, string>;
  /** A connection silent for this long fails (and can be resumed); default 30 s. */
  readonly idleTimeoutMs?: number;
}

export interface DownloadResult {
  /** downloaded: dest holds the new bytes; not-modified: 304; fresh: cache still valid, no request. */
  readonly status: 'downloaded' | 'not-modified' | 'fresh';
  readonly etag?: string;
  readonly lastModified?: string;
  /** Seconds from Cache-Control max-age; no-cache/no-store give 0; absent when the server sent none. */
  readonly maxAge?: number;
  /** Bytes of dest (for not-modified/fresh: of the existing dest, 0 if it does not exist). */
  readonly size: number;
  /** Hex digest (opts.hash) of the whole file as served; only for 'downloaded'. */
  readonly digest?: string;
  /** HTTP status of the final response: 200, 206, 304; 0 when no request was made. */
  readonly statusCode: number;
  /** Bytes kept from an earlier, interrupted download (0 when this call started from zero). */
  readonly resumedFrom: number;
  /** Bytes this call fed to the hasher (network bytes, plus any .part re-read without a saved state). */
  readonly hashed: number;
}

/** The resume state is saved after every this many bytes written. */
export const CHECKPOINT_BYTES = 8 << 20;
export const DEFAULT_MAX_REDIRECTS = 10;
export const DEFAULT_IDLE_TIMEOUT_MS = 30_000;
const STATE_FORMAT = 'tspod-partial-download/1';
const REDIRECT_CODES = new Set([301, 302, 303, 307, 308]);
/** Headers that carry credentials: not sent to another origin after a redirect. */
const CREDENTIAL_HEADERS = new Set(['authorization', 'cookie', 'proxy-authorization']);

/** The HTTP status behind a TspodError from this module (e.g. 202: a deferred signature, 404). */
export class HttpStatusError extends Error {
  constructor(
    readonly status: number,
    readonly url: string,
  ) {
    super(`HTTP ${status} from ${url}`);
    this.name = 'HttpStatusError';
  }
}

/** The HTTP status code of a failed response, if that is what `e` is about. */
export function httpStatusOf(e: TspodError): number | undefined {
  return e.cause instanceof HttpStatusError ? e.cause.status : undefined;
}


// ---------------------------------------------------------------------------------------------
// Requests and redirects

interface ConnectOptions {
  readonly what: string;
  readonly insecure: InsecureFetch;
  readonly ca?: Buffer;
  readonly signal?: AbortSignal;
  readonly maxRedirects: number;
  readonly idleTimeoutMs: number;
}

interface OpenedResponse {
  readonly res: http.IncomingMessage;
  /** The URL that answered, after redirects. */
  readonly url: URL;
  /** Set when the idle timeout fired (the error then surfaces on res). */
  readonly timer: { timedOut: boolean };
}

function insecureHttpHint(): string {
  return 'use an https URL, or pass --insecure-options=http if plain http is really intended (nothing then protects the bytes in transit)';
}

/** Parses and checks a URL the user gave; plain http needs insecure.http. */
function checkUrl(raw: string | URL, o: Pick<ConnectOptions, 'what' | 'insecure'>): URL {
  let u: URL;
  try {
    u = typeof raw === 'string' ? new URL(raw) : raw;
  } catch (e) {
    throw fail(ErrorCodes.FETCH, o.what, `${JSON.stringify(String(raw))} is not a valid URL`, 'give a full https:// URL', e);
  }
  if (u.protocol !== 'https:' && u.protocol !== 'http:') {
    throw fail(ErrorCodes.FETCH, o.what, `the ${u.protocol.replace(/:$/, '')} scheme is not supported`, 'give an https:// URL');
  }
  if (u.protocol === 'http:' && !o.insecure.http) {
    throw fail(ErrorCodes.INSECURE, o.what, `${u.href} is plain http, refused without --insecure-options=http`, insecureHttpHint());
  }
  return u;
}

function sendGet(url: URL, headers: Record<string, string>, o: ConnectOptions): Promise<OpenedResponse> {
  return new Promise((resolve, reject) => {
    const timer = { timedOut: false };
    const common: http.RequestOptions = { method: 'GET', headers, agent: false, signal: o.signal };
    const req =
      url.protocol === 'https:'
        ? https.request(url, {
            ...common,
            rejectUnauthorized: !o.insecure.tls,
            ...(o.ca ? { ca: [...rootCertificates, o.ca] } : {}),
          })
        : http.request(url, common);
    req.setTimeout(o.idleTimeoutMs, () => {
      timer.timedOut = true;
      req.destroy(Object.assign(new Error(`no data for ${o.idleTimeoutMs} ms`), { code: 'ETIMEDOUT' }));
    });
    // Stays attached: errors after the response also surface on it, and reject is then a no-op.
    req.on('error', (e) => reject(networkFailure(e, url, o, timer)));
    req.once('response', (res) => resolve({ res, url, timer }));
    req.end();
  });
}

/** GET with redirects followed (bounded, no downgrade to http, credentials kept to the origin). */
async function openResponse(start: URL, extra: Record<string, string>, o: ConnectOptions): Promise<OpenedResponse> {
  let url = start;
  let headers = { ...extra };
  for (let hop = 0; ; hop++) {
    const opened = await sendGet(url, headers, o);
    const code = opened.res.statusCode ?? 0;
    if (!REDIRECT_CODES.has(code)) return opened;
    opened.res.destroy();
    const location = opened.res.headers.location;
    if (!location) {
      throw fail(ErrorCodes.FETCH, o.what, `${url.href} answered ${code} without a Location header`, 'report it to the server operator; the URL cannot be followed');
    }
    if (hop >= o.maxRedirects) {
      throw fail(ErrorCodes.FETCH, o.what, `more than ${o.maxRedirects} redirects (the last one to ${location})`, 'the server redirects in a loop or too deep; give the final URL directly');
    }
    let next: URL;
    try {
      next = new URL(location, url);
    } catch (e) {
      throw fail(ErrorCodes.FETCH, o.what, `${url.href} redirected to an invalid URL ${JSON.stringify(location)}`, 'report it to the server operator', e);
    }
    if (next.protocol === 'http:' && url.protocol === 'https:' && !o.insecure.http) {
      throw fail(ErrorCodes.INSECURE, o.what, `${url.href} redirected to plain http (${next.href}), refused without --insecure-options=http`, insecureHttpHint());
    }
    checkUrl(next, o);
    if (next.origin !== url.origin) {
      headers = Object.fromEntries(Object.entries(headers).filter(([k]) => !CREDENTIAL_HEADERS.has(k.toLowerCase())));
    }
    url = next;
  }
}

// ---------------------------------------------------------------------------------------------
// Explaining failures

const CERT_REASONS: Record<string, string> = {
  DEPTH_ZERO_SELF_SIGNED_CERT: "the server's certificate is self-signed",
  SELF_SIGNED_CERT_IN_CHAIN: "the server's certificate chain ends in an untrusted self-signed certificate",
  UNABLE_TO_VERIFY_LEAF_SIGNATURE: "the server's certificate is signed by an unknown authority",
  UNABLE_TO_GET_ISSUER_CERT: "the server's certificate is signed by an unknown authority",
  UNABLE_TO_GET_ISSUER_CERT_LOCALLY: "the server's certificate is signed by an unknown authority",
  CERT_HAS_EXPIRED: "the server's certificate has expired",
  CERT_NOT_YET_VALID: "the server's certificate is not valid yet (check this machine's clock)",
  CERT_REVOKED: "the server's certificate was revoked",
  CERT_UNTRUSTED: "the server's certificate is not trusted",
  CERT_REJECTED: "the server's certificate was rejected",
  CERT_SIGNATURE_FAILURE: "the server's certificate signature is invalid",
  INVALID_CA: "the server's certificate chain contains an invalid CA certificate",
  ERR_TLS_CERT_ALTNAME_INVALID: "the server's certificate is not valid for this host name",
};

function errCode(e: unknown): string | undefined {
  return e && typeof e === 'object' && 'code' in e && typeof (e as { code: unknown }).code === 'string' ? (e as { code: string }).code : undefined;
}

function message(e: unknown): string {
  return e instanceof Error ? e.message : String(e);
}

interface TransferProgress {
  readonly received: number;
  readonly total?: number;
  /** Bytes the saved state lets the next call keep. */
  readonly kept: number;
}

function hostPort(url: URL): string {
  return url.port ? `${url.hostname}:${url.port}` : url.hostname;
}

/** A network, TLS or cancellation error, explained. */
function networkFailure(e: unknown, url: URL, o: ConnectOptions, timer: { timedOut: boolean }, transfer?: TransferProgress): Failure {
  if (e instanceof Failure) return e;
  const { what } = o;
  const idleMs = o.idleTimeoutMs;
  const code = errCode(e);
  const resumeHint = transfer && transfer.kept > 0 ? `run it again: it resumes after the ${transfer.kept} bytes already saved` : 'try again';
  const after = transfer ? ` after ${transfer.received}${transfer.total !== undefined ? ` of ${transfer.total}` : ''} bytes` : '';
  if (o.signal?.aborted || (e instanceof Error && e.name === 'AbortError') || code === 'ABORT_ERR') {
    return fail(ErrorCodes.FETCH, what, `the download was cancelled${after}`, resumeHint, e);
  }
  if (timer.timedOut) {
    return fail(ErrorCodes.FETCH, what, `${hostPort(url)} sent nothing for ${idleMs / 1000} s${after}`, `check the network; ${resumeHint}`, e);
  }
  if (code && code in CERT_REASONS) {
    const reason = code === 'ERR_TLS_CERT_ALTNAME_INVALID' ? `the server's certificate is not valid for ${url.hostname}` : CERT_REASONS[code];
    return fail(
      ErrorCodes.INSECURE,
      what,
      `TLS: ${reason} (${code})`,
      'if you trust this server and the network path to it, --insecure-options=tls skips certificate checks; otherwise fix the certificate or add its CA to the system trust store',
      e,
    );
  }
  if (code === 'EPROTO' || code?.startsWith('ERR_SSL_') || code?.startsWith('ERR_TLS_')) {
    return fail(ErrorCodes.FETCH, what, `TLS handshake with ${hostPort(url)} failed: ${message(e)}`, 'check that the server speaks https on this port', e);
  }
  switch (code) {
    case 'ENOTFOUND':
    case 'EAI_AGAIN':
    case 'EAI_FAIL':
    case 'EAI_NONAME':
      return fail(ErrorCodes.FETCH, what, `DNS lookup of ${url.hostname} failed (${code})`, 'check the host name, the network and the DNS settings (/etc/resolv.conf)', e);
    case 'ECONNREFUSED':
      return fail(ErrorCodes.FETCH, what, `${hostPort(url)} refused the connection (ECONNREFUSED)`, 'check the host and port, and that the server is running', e);
    case 'EHOSTUNREACH':
    case 'ENETUNREACH':
    case 'ETIMEDOUT':
      return fail(ErrorCodes.FETCH, what, `${hostPort(url)} cannot be reached (${code})`, 'check the network connection and any firewall or proxy', e);
    case 'ECONNRESET':
    case 'EPIPE':
    case 'ERR_STREAM_PREMATURE_CLOSE':
      return fail(ErrorCodes.FETCH, what, `the connection to ${hostPort(url)} was dropped${after} (${code})`, resumeHint, e);
    default:
      return fail(ErrorCodes.FETCH, what, `${hostPort(url)}: ${message(e)}${code ? ` (${code})` : ''}${after}`, resumeHint, e);
  }
}

function statusHint(status: number): string {
  if (status === 202) return 'the server accepted the request but the file is not ready yet (e.g. a signature made on demand); try again later';
  if (status === 401 || status === 403) return 'the server wants credentials this request lacks, or refuses them; check the URL and the configured credentials';
  if (status === 404 || status === 410) return 'check the URL (or the image name and version): the server has no such file';
  if (status === 429) return 'the server is rate-limiting; wait and try again';
  if (status >= 500) return 'the server failed; try again later, or tell its operator';
  return 'check the URL; the server did not return the file';
}

/** A response whose status is not what the request needed. */
export function statusFailureError(status: number, url: URL | string, what: string): TspodError {
  const href = typeof url === 'string' ? url : url.href;
  const text = http.STATUS_CODES[status];
  return tspodError(ErrorCodes.FETCH, what, `${href} answered ${status}${text ? ` ${text}` : ''}`, statusHint(status), new HttpStatusError(status, href));
}

// ---------------------------------------------------------------------------------------------
// Headers

function header(res: http.IncomingMessage, name: string): string | undefined {
  const v = res.headers[name];
  return Array.isArray(v) ? v[0] : v;
}

/** Seconds of freshness from Cache-Control: max-age=N; no-cache / no-store → 0; none → undefined. */
export function parseMaxAge(cacheControl: string | undefined): number | undefined {
  if (!cacheControl) return undefined;
  let maxAge: number | undefined;
  for (const raw of cacheControl.split(',')) {
    const d = raw.trim().toLowerCase();
    if (d === 'no-cache' || d === 'no-store') return 0;
    const m = /^max-age\s*=\s*"?(\d+)"?$/.exec(d);
    if (m) maxAge = Number(m[1]);
  }
  return maxAge;
}

function isStrongEtag(etag: string | undefined): etag is string {
  return etag !== undefined && etag.length > 0 && !etag.startsWith('W/');
}

/** The If-Range validator for a partial resource: a strong ETag, else Last-Modified. */
function validatorOf(etag: string | undefined, lastModified: string | undefined): string | undefined {
  return isStrongEtag(etag) ? etag : lastModified || undefined;
}

/** Start, end (inclusive) and total of `Content-Range: bytes S-E/T`. */
function parseContentRange(v: string | undefined): { start: number; end: number; total?: number } | undefined {
  const m = v ? /^bytes\s+(\d+)-(\d+)\/(\d+|\*)$/i.exec(v.trim()) : null;
  if (!m) return undefined;
  const total = m[3] === '*' ? undefined : Number(m[3]);
  return total === undefined ? { start: Number(m[1]), end: Number(m[2]) } : { start: Number(m[1]), end: Number(m[2]), total };
}

function contentLength(res: http.IncomingMessage): number | undefined {
  const v = header(res, 'content-length');
  return v !== undefined && /^\d+$/.test(v.trim()) ? Number(v) : undefined;
}

// ---------------------------------------------------------------------------------------------
// The resume state

interface SavedState {
  readonly format: typeof STATE_FORMAT;
  readonly url: string;
  readonly etag?: string;
  readonly lastModified?: string;
  /** Bytes at the start of the .part that are good and covered by hashState. */
  readonly length: number;
  readonly algorithm?: HashAlgorithm;
  /** base64 of StreamHasher.exportState() after exactly `length` bytes, when it has one. */
  readonly hashState?: string;
}

interface PartialDownload {
  readonly length: number;
  readonly etag?: string;
  readonly lastModified?: string;
  readonly hasher?: StreamHasher;
  /** Bytes of the .part re-read to rebuild the hash (no usable saved hash state). */
  readonly rehashed: number;
}

/** Offset of the u64 "total bytes hashed" in an exported state (core/assembly/sha/state.ts). */
const STATE_OFF_TOTAL = 12;

function stateTotal(state: Buffer): number | undefined {
  return state.length >= STATE_OFF_TOTAL + 8 ? Number(state.readBigUInt64LE(STATE_OFF_TOTAL)) : undefined;
}

/** The sidecar's hash fields: the algorithm always, the state only when the engine exports one. */
function hashStateOf(hasher: StreamHasher | undefined): Pick<SavedState, 'algorithm' | 'hashState'> {
  if (!hasher) return {};
  const state = hasher.exportState();
  return { algorithm: hasher.algorithm, ...(state && { hashState: state.toString('base64') }) };
}

function ioFailure(what: string, path: string, e: unknown): Failure {
  return fail(ErrorCodes.IO, what, `${path}: ${describeErrno(e)}`, 'check that the directory exists, is writable and has free space', e);
}

async function writeState(file: string, s: SavedState, what: string): Promise<void> {
  const tmp = `${file}.tmp`;
  try {
    await writeFile(tmp, JSON.stringify(s));
    await rename(tmp, file);
  } catch (e) {
    throw ioFailure(what, file, e);
  }
}

async function discardPartial(part: string, stateFile: string): Promise<void> {
  await rm(stateFile, { force: true });
  await rm(`${stateFile}.tmp`, { force: true });
  await rm(part, { force: true });
}

function parseState(raw: string): SavedState | undefined {
  let s: unknown;
  try {
    s = JSON.parse(raw);
  } catch {
    return undefined;
  }
  if (!s || typeof s !== 'object') return undefined;
  const o = s as Record<string, unknown>;
  const optString = (v: unknown): boolean => v === undefined || typeof v === 'string';
  if (
    o['format'] !== STATE_FORMAT ||
    typeof o['url'] !== 'string' ||
    !Number.isSafeInteger(o['length']) ||
    (o['length'] as number) < 0 ||
    !optString(o['etag']) ||
    !optString(o['lastModified']) ||
    !(o['algorithm'] === undefined || o['algorithm'] === 'sha256' || o['algorithm'] === 'sha512') ||
    !optString(o['hashState'])
  ) {
    return undefined;
  }
  return o as unknown as SavedState;
}

/** Re-hashes the first `length` bytes of the .part. */
async function rehashPart(part: string, length: number, algo: HashAlgorithm): Promise<StreamHasher | undefined> {
  const created = createStreamHasher(algo);
  if (created.isErr()) throw new Failure(created.error);
  const h = created.value;
  const buf = Buffer.allocUnsafe(1 << 20);
  let fh: FileHandle | undefined;
  try {
    fh = await open(part, 'r');
    for (let pos = 0; pos < length;) {
      const { bytesRead } = await fh.read(buf, 0, Math.min(buf.length, length - pos), pos);
      if (bytesRead === 0) return undefined;
      h.update(buf.subarray(0, bytesRead));
      pos += bytesRead;
    }
    return h;
  } catch {
    return undefined;
  } finally {
    await fh?.close();
  }
}

/** The partial download a later call can continue, or undefined to start from zero. */
async function loadPartial(url: string, part: string, stateFile: string, algo: HashAlgorithm | undefined): Promise<PartialDownload | undefined> {
  let raw: string;
  try {
    raw = await readFile(stateFile, 'utf8');
  } catch {
    return undefined;
  }
  const s = parseState(raw);
  if (!s || s.url !== url || s.length === 0 || !validatorOf(s.etag, s.lastModified)) return undefined;
  let size: number;
  try {
    size = (await stat(part)).size;
  } catch {
    return undefined;
  }
  if (size < s.length) return undefined;
  const base = { length: s.length, ...(s.etag ? { etag: s.etag } : {}), ...(s.lastModified ? { lastModified: s.lastModified } : {}) };
  if (!algo) return { ...base, rehashed: 0 };
  if (s.algorithm === algo && s.hashState) {
    const state = Buffer.from(s.hashState, 'base64');
    // The state must describe exactly the bytes the sidecar says are good.
    const resumed = stateTotal(state) === s.length ? resumeStreamHasher(algo, state) : undefined;
    if (resumed) return { ...base, hasher: resumed, rehashed: 0 };
  }
  // No usable saved hash (another algorithm, none asked for then, or an engine that keeps none): reading the local bytes
  // again is still far cheaper than downloading them again.
  const hasher = await rehashPart(part, s.length, algo);
  return hasher ? { ...base, hasher, rehashed: s.length } : undefined;
}

// ---------------------------------------------------------------------------------------------
// The download

async function sizeOf(path: string): Promise<number> {
  try {
    return (await stat(path)).size;
  } catch {
    return 0;
  }
}

function labelOf(url: URL): string {
  const last = url.pathname.split('/').filter(Boolean).pop();
  if (!last) return url.hostname;
  try {
    return decodeURIComponent(last);
  } catch {
    return last;
  }
}

/** Bytes a response may queue ahead of the disk before it is paused (until the batch is taken). */
const QUEUE_HIGH = 4 << 20;

/**
 * The body's chunks, in batches of everything that arrived since the last one, with backpressure.
 * Batches, not single chunks: TLS hands over ~16 KiB at a time, and one async round trip, one
 * write(2) per chunk cost more than the network on a fast link. Unlike `for await (… of res)`, chunks that arrived before a
 * connection failure are all delivered before the error: Node destroys the response on a dropped
 * connection, and the bytes in its own buffer would be lost, though they arrived intact. Here they
 * are taken out of it at once (into a queue bounded by pausing the response), so a resume can
 * keep every byte that reached this machine.
 */
async function* bodyBatches(res: http.IncomingMessage, onIdle: () => void): AsyncGenerator<Buffer[]> {
  const queue: Buffer[] = [];
  let queued = 0;
  let ended = false;
  let failure: { error: unknown } | undefined;
  let wake: (() => void) | undefined;
  const onData = (chunk: Buffer): void => {
    queue.push(chunk);
    queued += chunk.length;
    if (queued >= QUEUE_HIGH) res.pause();
    wake?.();
  };
  const onEnd = (): void => {
    ended = true;
    wake?.();
  };
  const onError = (error: unknown): void => {
    failure ??= { error };
    wake?.();
  };
  res.on('data', onData);
  res.once('end', onEnd);
  res.on('error', onError);
  try {
    for (;;) {
      if (queue.length > 0) {
        const batch = queue.splice(0);
        queued = 0;
        if (res.isPaused()) res.resume();
        yield batch;
        continue;
      }
      if (failure) throw failure.error;
      if (ended) return;
      onIdle();
      await new Promise<void>((resolve) => (wake = resolve));
      wake = undefined;
    }
  } finally {
    res.off('data', onData);
    res.off('end', onEnd);
    // Keep an error listener: a late error must not become an uncaught exception.
    if (!ended) res.destroy();
  }
}

interface Receive {
  readonly url: string;
  readonly opened: OpenedResponse;
  readonly partial: PartialDownload | undefined;
  readonly part: string;
  readonly stateFile: string;
  readonly opts: DownloadOptions;
  readonly connect: ConnectOptions;
}

async function receive(r: Receive): Promise<DownloadResult> {
  const { res } = r.opened;
  const { opts, connect, partial, part, stateFile } = r;
  const what = connect.what;
  const statusCode = res.statusCode ?? 0;
  const offset = partial?.length ?? 0;
  let hasher = partial?.hasher;
  if (!hasher && opts.hash) {
    const created = createStreamHasher(opts.hash);
    if (created.isErr()) {
      res.destroy();
      throw new Failure(created.error);
    }
    hasher = created.value;
  }
  let hashed = partial?.rehashed ?? 0;
  const etag = header(res, 'etag') ?? partial?.etag;
  const lastModified = header(res, 'last-modified') ?? partial?.lastModified;
  const maxAge = parseMaxAge(header(res, 'cache-control'));
  const length = contentLength(res);
  const range = parseContentRange(header(res, 'content-range'));
  const expected = partial ? (range?.total ?? (length !== undefined ? offset + length : undefined)) : length;
  const resumable = validatorOf(etag, lastModified) !== undefined;

  let fh: FileHandle;
  try {
    if (!partial) await rm(stateFile, { force: true });
    fh = await open(part, partial ? 'r+' : 'w');
    // Bytes past the saved state were written after its last checkpoint: not covered by the hash.
    if (partial) await fh.truncate(offset);
  } catch (e) {
    res.destroy();
    throw ioFailure(what, part, e);
  }

  const writer = new BatchWriter(fh, offset);
  let pos = offset;
  let saved = offset;
  /** Records the bytes written so far; the hash state only when it covers exactly those. */
  const save = async (): Promise<void> => {
    if (!resumable) return;
    const length = writer.written;
    const hashFields = hashStateOf(hasher);
    await writeState(
      stateFile,
      {
        format: STATE_FORMAT,
        url: r.url,
        ...(etag ? { etag } : {}),
        ...(lastModified ? { lastModified } : {}),
        length,
        ...(length === pos ? hashFields : { ...(hashFields.algorithm && { algorithm: hashFields.algorithm }) }),
      },
      what,
    );
    saved = length;
  };

  const progress = createProgress({
    label: labelOf(r.opened.url),
    ...(expected !== undefined ? { total: expected } : {}),
    start: offset,
    output: opts.progress,
  });
  try {
    const written = async (step: Promise<void>): Promise<void> => {
      try {
        await step;
      } catch (e) {
        throw ioFailure(what, part, e);
      }
    };
    for await (const batch of bodyBatches(res, () => writer.idle())) {
      await written(writer.add(batch));
      let bytes = 0;
      for (const chunk of batch) {
        hasher?.update(chunk);
        bytes += chunk.length;
      }
      hashed += bytes;
      pos += bytes;
      progress.update(pos);
      if (pos - saved >= CHECKPOINT_BYTES) {
        await written(writer.drain());
        await save();
      }
    }
    await written(writer.drain());
    if (expected !== undefined && pos !== expected) {
      throw fail(
        ErrorCodes.FETCH,
        what,
        `the connection to ${hostPort(r.opened.url)} ended after ${pos} of ${expected} bytes`,
        resumable ? `run it again: it resumes after the ${pos} bytes already saved` : 'try again',
      );
    }
  } catch (e) {
    progress.done();
    // Keep what arrived for the next call (best effort: the original failure is what matters).
    await writer.drain().catch(() => undefined);
    await fh.close().catch(() => undefined);
    await save().catch(() => undefined);
    throw networkFailure(e, r.opened.url, connect, r.opened.timer, {
      received: pos,
      ...(expected !== undefined ? { total: expected } : {}),
      kept: resumable ? writer.written : 0,
    });
  }
  progress.done();
  try {
    await fh.sync();
    await fh.close();
    await rename(part, opts.dest);
    await rm(stateFile, { force: true });
  } catch (e) {
    await fh.close().catch(() => undefined);
    throw ioFailure(what, opts.dest, e);
  }
  return {
    status: 'downloaded',
    ...(etag ? { etag } : {}),
    ...(lastModified ? { lastModified } : {}),
    ...(maxAge !== undefined ? { maxAge } : {}),
    size: pos,
    ...(hasher ? { digest: hasher.digest().toString('hex') } : {}),
    statusCode,
    resumedFrom: offset,
    hashed,
  };
}

async function download(url: string, opts: DownloadOptions): Promise<DownloadResult> {
  const what = `download ${url}`;
  const connect: ConnectOptions = {
    what,
    insecure: opts.insecure,
    ...(opts.ca ? { ca: opts.ca } : {}),
    ...(opts.signal ? { signal: opts.signal } : {}),
    maxRedirects: opts.maxRedirects ?? DEFAULT_MAX_REDIRECTS,
    idleTimeoutMs: opts.idleTimeoutMs ?? DEFAULT_IDLE_TIMEOUT_MS,
  };
  const start = checkUrl(url, connect);
  const cached = opts.cached;
  if (cached?.maxAge !== undefined && cached.downloadedAt + cached.maxAge * 1000 > Date.now()) {
    return {
      status: 'fresh',
      ...(cached.etag ? { etag: cached.etag } : {}),
      ...(cached.lastModified ? { lastModified: cached.lastModified } : {}),
      maxAge: cached.maxAge,
      size: await sizeOf(opts.dest),
      statusCode: 0,
      resumedFrom: 0,
      hashed: 0,
    };
  }
  const part = `${opts.dest}.part`;
  const stateFile = `${part}.state`;
  let partial = await loadPartial(url, part, stateFile, opts.hash);
  const conditional = Boolean(cached?.etag || cached?.lastModified);

  // At most two rounds: a resume attempt, then (if the server refuses the range) from zero.
  for (;;) {
    const headers: Record<string, string> = { 'user-agent': 'tspod', 'accept-encoding': 'identity', ...opts.headers };
    if (cached?.etag) headers['if-none-match'] = cached.etag;
    if (cached?.lastModified) headers['if-modified-since'] = cached.lastModified;
    if (partial) {
      headers['range'] = `bytes=${partial.length}-`;
      headers['if-range'] = validatorOf(partial.etag, partial.lastModified)!;
    }
    const opened = await openResponse(start, headers, connect);
    const { res } = opened;
    const code = res.statusCode ?? 0;
    if (code === 304 && conditional) {
      res.destroy();
      const maxAge = parseMaxAge(header(res, 'cache-control')) ?? cached?.maxAge;
      const etag = header(res, 'etag') ?? cached?.etag;
      const lastModified = header(res, 'last-modified') ?? cached?.lastModified;
      return {
        status: 'not-modified',
        ...(etag ? { etag } : {}),
        ...(lastModified ? { lastModified } : {}),
        ...(maxAge !== undefined ? { maxAge } : {}),
        size: await sizeOf(opts.dest),
        statusCode: code,
        resumedFrom: 0,
        hashed: 0,
      };
    }
    if (partial && (code === 416 || (code === 206 && parseContentRange(header(res, 'content-range'))?.start !== partial.length))) {
      // The saved bytes cannot be continued (e.g. the .part was already complete): start over.
      res.destroy();
      await discardPartial(part, stateFile);
      partial = undefined;
      continue;
    }
    if (code === 200 || (code === 206 && partial)) {
      return receive({ url, opened, partial: code === 206 ? partial : undefined, part, stateFile, opts, connect });
    }
    res.destroy();
    throw new Failure(statusFailureError(code, opened.url, what));
  }
}

/**
 * Downloads `url` to `opts.dest` (via dest + '.part'), honouring the cache entry in `opts.cached`
 * and continuing an interrupted download left by an earlier call, in this process or another.
 */
export function downloadToFile(url: string, opts: DownloadOptions): ResultAsync<DownloadResult, TspodError> {
  return new ResultAsync(toResult(`download ${url}`, () => download(url, opts)));
}

// ---------------------------------------------------------------------------------------------
// Small text resources (discovery pages)

export interface FetchTextOptions {
  readonly insecure: InsecureFetch;
  readonly ca?: Buffer;
  readonly signal?: AbortSignal;
  readonly maxRedirects?: number;
  readonly headers?: Record<string, string>;
  /** The body is refused past this size; default 1 MiB. */
  readonly maxBytes?: number;
  readonly idleTimeoutMs?: number;
}

export interface TextResponse {
  /** The URL that answered, after redirects. */
  readonly url: string;
  /** Any final (non-redirect) status: the caller decides what a 404 means. */
  readonly statusCode: number;
  readonly body: string;
}

export const DEFAULT_MAX_TEXT_BYTES = 1 << 20;

async function fetchTextAsync(url: string, o: FetchTextOptions): Promise<TextResponse> {
  const what = `fetch ${url}`;
  const connect: ConnectOptions = {
    what,
    insecure: o.insecure,
    ...(o.ca ? { ca: o.ca } : {}),
    ...(o.signal ? { signal: o.signal } : {}),
    maxRedirects: o.maxRedirects ?? DEFAULT_MAX_REDIRECTS,
    idleTimeoutMs: o.idleTimeoutMs ?? DEFAULT_IDLE_TIMEOUT_MS,
  };
  const start = checkUrl(url, connect);
  const opened = await openResponse(start, { 'user-agent': 'tspod', 'accept-encoding': 'identity', ...o.headers }, connect);
  const { res } = opened;
  const limit = o.maxBytes ?? DEFAULT_MAX_TEXT_BYTES;
  const chunks: Buffer[] = [];
  let n = 0;
  try {
    for await (const chunk of res as AsyncIterable<Buffer>) {
      n += chunk.length;
      if (n > limit) {
        res.destroy();
        throw fail(ErrorCodes.FETCH, what, `the response is larger than ${limit} bytes`, 'check the URL: this should be a small page');
      }
      chunks.push(chunk);
    }
  } catch (e) {
    throw networkFailure(e, opened.url, connect, opened.timer);
  }
  return { url: opened.url.href, statusCode: res.statusCode ?? 0, body: Buffer.concat(chunks).toString('utf8') };
}

/** GETs a small text resource (redirects followed, same security rules as downloads). */
export function fetchText(url: string, opts: FetchTextOptions): ResultAsync<TextResponse, TspodError> {
  return new ResultAsync(toResult(`fetch ${url}`, () => fetchTextAsync(url, opts)));
}
