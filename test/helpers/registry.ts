// A real Docker registry for the OCI suites: Debian's `docker-registry` (distribution 2.8) on
// 127.0.0.1, a free port, a private YAML config, filesystem storage in a temp dir; optionally TLS
// (a certificate from the test PKI) and htpasswd (bcrypt) basic auth. Images are made with
// `umoci` from the host's static busybox and pushed with `skopeo copy`; skopeo is also the oracle
// for digests. Plus a small HTTPS front that demands a Bearer token, serves it from /token, and
// proxies authorized /v2/ requests to a real registry: the token-auth path against real content.
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import * as http from 'node:http';
import * as https from 'node:https';
import { createServer, type AddressInfo } from 'node:net';
import { copyFileSync, existsSync, mkdirSync, openSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { sh } from './cli.js';
import type { TestPki } from './https-server.js';

export const BUSYBOX = '/bin/busybox';

/** A port that was free a moment ago (the registry binds it itself). */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.once('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const { port } = s.address() as AddressInfo;
      s.close(() => resolve(port));
    });
  });
}

/** A bcrypt hash (the only kind docker-registry's htpasswd accepts): htpasswd if present, else libcrypt via Python. */
export function bcryptHash(password: string): string {
  const htpasswd = spawnSync('htpasswd', ['-nbB', '-C', '4', 'u', password], { encoding: 'utf8' });
  if (htpasswd.status === 0) return htpasswd.stdout.trim().slice(2);
  const py = spawnSync(
    '/usr/bin/python3',
    ['-W', 'ignore', '-c', 'import crypt,sys; print(crypt.crypt(sys.argv[1], crypt.mksalt(crypt.METHOD_BLOWFISH, rounds=16)))', password],
    { encoding: 'utf8' },
  );
  const out = py.stdout?.trim() ?? '';
  if (py.status !== 0 || !out.startsWith('$2')) throw new Error(`cannot make a bcrypt hash (no htpasswd, and python3's crypt failed: ${py.stderr})`);
  return out;
}

export interface RegistryOptions {
  /** A private directory: config, storage, log. */
  readonly dir: string;
  /** Serve https with the test PKI's server certificate. */
  readonly pki?: TestPki;
  /** htpasswd basic auth with this one user. */
  readonly user?: { readonly username: string; readonly password: string };
}

export interface TestRegistry {
  readonly port: number;
  /** host:port, as in an image reference. */
  readonly host: string;
  readonly tls: boolean;
  readonly storage: string;
  readonly log: string;
  /** skopeo flags to reach it (certificates or --tls-verify=false, credentials). */
  readonly skopeoArgs: (side: 'src' | 'dest' | 'inspect') => string[];
  /** The file in storage holding blob `digest`. */
  blobPath(digest: string): string;
  stop(): Promise<void>;
}

async function answers(url: string, ca: Buffer | undefined): Promise<boolean> {
  return new Promise((resolve) => {
    const done = (ok: boolean): void => resolve(ok);
    const req = url.startsWith('https:') ? https.get(url, { ca, timeout: 500 }) : http.get(url, { timeout: 500 });
    req.on('response', (res) => {
      res.resume();
      done(res.statusCode === 200 || res.statusCode === 401);
    });
    req.on('error', () => done(false));
    req.on('timeout', () => req.destroy());
  });
}

/** Starts docker-registry; resolves once it answers /v2/ (200, or 401 with auth). */
export async function startRegistry(o: RegistryOptions): Promise<TestRegistry> {
  const port = await freePort();
  const storage = join(o.dir, 'storage');
  mkdirSync(storage, { recursive: true });
  const lines = [
    'version: 0.1',
    'log:',
    '  level: error',
    '  accesslog:',
    '    disabled: true',
    'storage:',
    '  filesystem:',
    `    rootdirectory: ${storage}`,
    '  maintenance:',
    '    uploadpurging:',
    '      enabled: false',
    'http:',
    `  addr: 127.0.0.1:${port}`,
    `  secret: ${randomBytes(16).toString('hex')}`,
  ];
  const certDir = join(o.dir, 'certs');
  if (o.pki) {
    mkdirSync(certDir, { recursive: true });
    writeFileSync(join(o.dir, 'server.pem'), o.pki.server.cert);
    writeFileSync(join(o.dir, 'server.key'), o.pki.server.key);
    // skopeo's --cert-dir: *.crt files are CAs.
    copyFileSync(o.pki.caPath, join(certDir, 'ca.crt'));
    lines.push('  tls:', `    certificate: ${join(o.dir, 'server.pem')}`, `    key: ${join(o.dir, 'server.key')}`);
  }
  if (o.user) {
    writeFileSync(join(o.dir, 'htpasswd'), `${o.user.username}:${bcryptHash(o.user.password)}\n`);
    lines.push('auth:', '  htpasswd:', '    realm: tspod-test', `    path: ${join(o.dir, 'htpasswd')}`);
  }
  const config = join(o.dir, 'config.yml');
  writeFileSync(config, `${lines.join('\n')}\n`);
  const log = join(o.dir, 'registry.log');
  const fd = openSync(log, 'a');
  const child: ChildProcess = spawn('/usr/bin/docker-registry', ['serve', config], { stdio: ['ignore', fd, fd] });
  let exited = false;
  child.once('exit', () => (exited = true));
  const stop = async (): Promise<void> => {
    if (exited) return;
    const gone = new Promise<void>((resolve) => child.once('exit', () => resolve()));
    child.kill('SIGTERM');
    const t = setTimeout(() => child.kill('SIGKILL'), 2000);
    await gone;
    clearTimeout(t);
  };
  const url = `${o.pki ? 'https' : 'http'}://127.0.0.1:${port}/v2/`;
  for (let i = 0; ; i++) {
    if (exited) throw new Error(`docker-registry exited at start: ${readFileSync(log, 'utf8').slice(-2000)}`);
    if (await answers(url, o.pki?.ca)) break;
    if (i > 100) {
      await stop();
      throw new Error(`docker-registry did not answer ${url} within 10 s: ${readFileSync(log, 'utf8').slice(-2000)}`);
    }
    await sleep(100);
  }
  const host = `127.0.0.1:${port}`;
  return {
    port,
    host,
    tls: Boolean(o.pki),
    storage,
    log,
    skopeoArgs: (side) => {
      const pre = side === 'inspect' ? '--' : `--${side}-`;
      return [
        ...(o.pki ? [`${pre}cert-dir`, certDir] : [`${pre}tls-verify=false`]),
        ...(o.user ? [`${pre}creds`, `${o.user.username}:${o.user.password}`] : []),
      ];
    },
    blobPath: (digest) => {
      const hex = digest.replace(/^sha256:/, '');
      return join(storage, 'docker', 'registry', 'v2', 'blobs', 'sha256', hex.slice(0, 2), hex, 'data');
    },
    stop,
  };
}

/**
 * An OCI layout at `layout` with tag `tag`: one layer holding the host's static busybox and
 * `extra` (a file whose content makes the layer unique), config for `arch`.
 */
export function buildBusyboxLayout(layout: string, tag: string, opts: { extra?: string; arch?: string } = {}): void {
  const bundle = `${layout}.bundle-${tag}`;
  if (!existsSync(layout)) sh('umoci', ['init', '--layout', layout]);
  sh('umoci', ['new', '--image', `${layout}:${tag}-base`]);
  sh('umoci', ['unpack', '--image', `${layout}:${tag}-base`, bundle]);
  mkdirSync(join(bundle, 'rootfs', 'bin'), { recursive: true });
  copyFileSync(BUSYBOX, join(bundle, 'rootfs', 'bin', 'busybox'));
  if (opts.extra !== undefined) writeFileSync(join(bundle, 'rootfs', 'extra.txt'), opts.extra);
  sh('umoci', ['repack', '--image', `${layout}:${tag}`, bundle]);
  sh('umoci', ['config', '--image', `${layout}:${tag}`, '--config.entrypoint', '/bin/busybox', '--config.cmd', 'sh', ...(opts.arch ? ['--architecture', opts.arch] : []), '--tag', tag]);
}

/** `skopeo copy` of an OCI layout tag into the registry, as Docker schema 2 or OCI. */
export function skopeoPush(reg: TestRegistry, layout: string, tag: string, dest: string, format: 'v2s2' | 'oci'): void {
  sh('skopeo', ['copy', '--insecure-policy', '--quiet', ...reg.skopeoArgs('dest'), '--format', format, `oci:${layout}:${tag}`, `docker://${reg.host}/${dest}`]);
}

/** skopeo's view: the manifest's raw bytes and the digest it reports. */
export function skopeoInspect(reg: TestRegistry, ref: string): { raw: Buffer; digest: string } {
  const rawRun = spawnSync('skopeo', ['inspect', '--raw', ...reg.skopeoArgs('inspect'), `docker://${reg.host}/${ref}`], { maxBuffer: 64 << 20 });
  if (rawRun.status !== 0) throw new Error(`skopeo inspect --raw ${ref} failed: ${rawRun.stderr.toString()}`);
  const digest = sh('skopeo', ['inspect', '--format', '{{.Digest}}', ...reg.skopeoArgs('inspect'), `docker://${reg.host}/${ref}`]).trim();
  return { raw: rawRun.stdout, digest };
}

export function sha256(data: Uint8Array): string {
  return `sha256:${createHash('sha256').update(data).digest('hex')}`;
}

/** PUTs a manifest (e.g. a hand-made index over manifests already pushed) as a client would. */
export function putManifest(reg: TestRegistry, ca: Buffer | undefined, repo: string, tag: string, mediaType: string, body: Buffer): Promise<void> {
  return new Promise((resolve, reject) => {
    const url = `${reg.tls ? 'https' : 'http'}://${reg.host}/v2/${repo}/manifests/${tag}`;
    const opts = { method: 'PUT', headers: { 'content-type': mediaType, 'content-length': body.length } };
    const req = reg.tls ? https.request(url, { ...opts, ca }) : http.request(url, opts);
    req.on('error', reject);
    req.on('response', (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => (res.statusCode === 201 ? resolve() : reject(new Error(`PUT ${url} answered ${res.statusCode}: ${Buffer.concat(chunks).toString()}`))));
    });
    req.end(body);
  });
}

export interface TokenFront {
  readonly host: string;
  /** What /token serves: a JSON token, or an HTML page (a broken token service). */
  mode: 'json' | 'garbage';
  /** When set, /token demands these basic-auth credentials. */
  user?: { username: string; password: string };
  readonly token: string;
  /** When set, authorized blob GETs without Range are cut (connection closed) after this many bytes. */
  dropBlobAfter?: number;
  /** When set, authorized manifest GETs get this answer instead of the registry's (hostile-server tests). */
  manifestOverride?: { contentType: string; body: Buffer };
  /** Requests seen: `METHOD path authorization-scheme`. */
  readonly requests: string[];
  close(): Promise<void>;
}

/**
 * An HTTPS server on 127.0.0.1 that answers /v2/ requests lacking `Bearer <token>` with 401 and a
 * Bearer challenge (realm = its own /token), and proxies the others to `upstream` (a real TLS
 * registry without auth).
 */
export async function startTokenFront(pki: TestPki, upstream: TestRegistry): Promise<TokenFront> {
  const token = randomBytes(24).toString('base64url');
  let origin = '';
  const front: Pick<TokenFront, 'mode' | 'user' | 'dropBlobAfter' | 'manifestOverride'> = { mode: 'json' };
  const requests: string[] = [];
  const server = https.createServer({ key: pki.server.key, cert: pki.server.cert }, (req, res) => {
    const url = new URL(req.url ?? '/', 'https://x');
    const auth = req.headers.authorization ?? '';
    requests.push(`${req.method} ${url.pathname}${url.search} ${auth.split(' ')[0] || '-'}`);
    if (url.pathname === '/token') {
      if (front.user) {
        const want = `Basic ${Buffer.from(`${front.user.username}:${front.user.password}`).toString('base64')}`;
        if (auth !== want) {
          res.writeHead(401, { 'content-type': 'application/json' }).end('{"errors":[{"code":"UNAUTHORIZED"}]}');
          return;
        }
      }
      if (front.mode === 'garbage') {
        res.writeHead(200, { 'content-type': 'text/html' }).end('<html><body>Welcome to nginx!</body></html>');
        return;
      }
      res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({ token, expires_in: 300 }));
      return;
    }
    if (auth !== `Bearer ${token}`) {
      const repo = /^\/v2\/(.+)\/(?:manifests|blobs|tags)\//.exec(url.pathname)?.[1];
      const scope = repo ? `,scope="repository:${repo}:pull"` : '';
      res.writeHead(401, { 'www-authenticate': `Bearer realm="${origin}/token",service="tspod-test"${scope}`, 'content-type': 'application/json' });
      res.end('{"errors":[{"code":"UNAUTHORIZED","message":"authentication required"}]}');
      return;
    }
    if (front.manifestOverride && url.pathname.includes('/manifests/')) {
      const { contentType, body } = front.manifestOverride;
      res.writeHead(200, { 'content-type': contentType, 'content-length': body.length }).end(body);
      return;
    }
    const cut = url.pathname.includes('/blobs/') && !req.headers.range ? front.dropBlobAfter : undefined;
    const headers = { ...req.headers };
    delete headers.authorization;
    delete headers.host;
    const up = https.request(`https://${upstream.host}${url.pathname}${url.search}`, { method: req.method ?? 'GET', headers, ca: pki.ca }, (ur) => {
      res.writeHead(ur.statusCode ?? 502, ur.headers);
      if (cut === undefined) {
        ur.pipe(res);
        return;
      }
      // Exactly `cut` bytes, then a graceful close: the client sees a short body.
      const chunks: Buffer[] = [];
      ur.on('data', (c: Buffer) => chunks.push(c));
      ur.on('end', () => res.write(Buffer.concat(chunks).subarray(0, cut), () => res.socket?.end()));
    });
    up.on('error', () => res.destroy());
    up.end();
  });
  server.on('tlsClientError', () => undefined);
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => resolve());
  });
  const port = (server.address() as AddressInfo).port;
  origin = `https://127.0.0.1:${port}`;
  return Object.assign(front, {
    host: `127.0.0.1:${port}`,
    token,
    requests,
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  });
}
