// A real HTTP(S) server on 127.0.0.1 for the fetch suites, with a throwaway PKI made by the
// openssl CLI: a test CA, a server certificate it signs for localhost/127.0.0.1, a self-signed
// certificate and an expired one. Routes serve files (ETag, Last-Modified, Cache-Control, 304 on
// If-None-Match, Range/If-Range → 206/416), redirects and plain pages; a file can drop the
// connection or stall after N body bytes. Every request is recorded for the tests to assert on.
import * as http from 'node:http';
import * as https from 'node:https';
import type { AddressInfo } from 'node:net';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { sh } from './cli.js';

export interface TestPki {
  /** PEM of the test CA: pass as `ca` to trust the server certificate. */
  readonly ca: Buffer;
  readonly caPath: string;
  /** Signed by the test CA, for DNS:localhost and IP:127.0.0.1, valid now. */
  readonly server: { readonly key: Buffer; readonly cert: Buffer };
  /** Self-signed leaf (no CA), for localhost/127.0.0.1. */
  readonly selfSigned: { readonly key: Buffer; readonly cert: Buffer };
  /** Signed by the test CA, valid 2020-01-01 to 2020-01-02. */
  readonly expired: { readonly key: Buffer; readonly cert: Buffer };
}

const SAN = 'subjectAltName=DNS:localhost,IP:127.0.0.1';

/** Makes the PKI in `dir` with the openssl CLI (P-256 keys: fast to generate). */
export function makeTestPki(dir: string): TestPki {
  mkdirSync(dir, { recursive: true });
  const p = (f: string): string => join(dir, f);
  const ecKey = (f: string): void => void sh('openssl', ['genpkey', '-algorithm', 'EC', '-pkeyopt', 'ec_paramgen_curve:P-256', '-out', p(f)]);
  ecKey('ca.key');
  sh('openssl', [
    'req', '-x509', '-new', '-key', p('ca.key'), '-out', p('ca.pem'), '-days', '2', '-subj', '/CN=tspod throwaway test CA',
    '-addext', 'basicConstraints=critical,CA:true', '-addext', 'keyUsage=critical,keyCertSign,cRLSign',
  ]);
  ecKey('server.key');
  sh('openssl', ['req', '-new', '-key', p('server.key'), '-out', p('server.csr'), '-subj', '/CN=localhost']);
  writeFileSync(p('server.ext'), `${SAN}\nbasicConstraints=CA:false\n`);
  sh('openssl', [
    'x509', '-req', '-in', p('server.csr'), '-CA', p('ca.pem'), '-CAkey', p('ca.key'), '-CAcreateserial',
    '-out', p('server.pem'), '-days', '2', '-extfile', p('server.ext'),
  ]);
  ecKey('self.key');
  sh('openssl', [
    'req', '-x509', '-new', '-key', p('self.key'), '-out', p('self.pem'), '-days', '2', '-subj', '/CN=localhost',
    '-addext', SAN, '-addext', 'basicConstraints=critical,CA:false',
  ]);
  // `openssl ca` is the CLI way to set validity dates in the past.
  mkdirSync(p('cadb'), { recursive: true });
  writeFileSync(p('cadb/index.txt'), '');
  writeFileSync(p('cadb/serial'), '1000\n');
  writeFileSync(
    p('ca.cnf'),
    [
      '[ ca ]', 'default_ca = test_ca', '[ test_ca ]', `dir = ${p('cadb')}`, 'database = $dir/index.txt', 'new_certs_dir = $dir',
      'serial = $dir/serial', 'default_md = sha256', 'policy = any', 'unique_subject = no', '[ any ]', 'commonName = supplied',
      '[ leaf ]', SAN.replace('=', ' = '), 'basicConstraints = CA:false', '',
    ].join('\n'),
  );
  sh('openssl', [
    'ca', '-batch', '-config', p('ca.cnf'), '-cert', p('ca.pem'), '-keyfile', p('ca.key'), '-in', p('server.csr'),
    '-out', p('expired.pem'), '-startdate', '20200101000000Z', '-enddate', '20200102000000Z', '-extensions', 'leaf', '-notext',
  ]);
  const read = (f: string): Buffer => readFileSync(p(f));
  return {
    ca: read('ca.pem'),
    caPath: p('ca.pem'),
    server: { key: read('server.key'), cert: read('server.pem') },
    selfSigned: { key: read('self.key'), cert: read('self.pem') },
    expired: { key: read('server.key'), cert: read('expired.pem') },
  };
}

export interface FileRoute {
  readonly kind: 'file';
  body: Buffer;
  etag?: string;
  lastModified?: string;
  cacheControl?: string;
  /** Send this many body bytes of a response, then close the connection (short of Content-Length). */
  dropAfter?: number;
  /** Send this many body bytes, then hold the connection open without sending more. */
  stallAfter?: number;
  /** Answer Range requests with the whole file (200), like a server without range support. */
  ignoreRange?: boolean;
}

export interface RedirectRoute {
  readonly kind: 'redirect';
  status: number;
  location: string;
}

export interface PageRoute {
  readonly kind: 'page';
  status: number;
  body: string;
}

export type Route = FileRoute | RedirectRoute | PageRoute;

export interface RecordedRequest {
  readonly method: string;
  /** Path and query as sent. */
  readonly url: string;
  readonly pathname: string;
  readonly query: string;
  readonly headers: http.IncomingHttpHeaders;
}

export interface TestServer {
  readonly port: number;
  readonly origin: string;
  /** Routes by pathname (query ignored); unknown paths answer 404. */
  readonly routes: Map<string, Route>;
  readonly requests: RecordedRequest[];
  url(path: string): string;
  /** Requests whose pathname is `path`. */
  requestsFor(path: string): RecordedRequest[];
  close(): Promise<void>;
}

function serveFile(route: FileRoute, req: http.IncomingMessage, res: http.ServerResponse): void {
  const size = route.body.length;
  const headers: http.OutgoingHttpHeaders = { 'content-type': 'application/octet-stream', 'accept-ranges': 'bytes' };
  if (route.etag) headers['etag'] = route.etag;
  if (route.lastModified) headers['last-modified'] = route.lastModified;
  if (route.cacheControl) headers['cache-control'] = route.cacheControl;
  const inm = req.headers['if-none-match'];
  if (route.etag && inm !== undefined && inm.split(',').map((s) => s.trim()).some((t) => t === route.etag || t === '*')) {
    res.writeHead(304, headers).end();
    return;
  }
  let status = 200;
  let start = 0;
  let end = size - 1;
  const range = req.headers.range;
  if (range && !route.ignoreRange) {
    const ifRange = req.headers['if-range'];
    const validatorOk = ifRange === undefined || (route.etag !== undefined && ifRange === route.etag) || (route.lastModified !== undefined && ifRange === route.lastModified);
    const m = /^bytes=(\d+)-(\d*)$/.exec(range);
    if (validatorOk && m) {
      const s = Number(m[1]);
      const e = m[2] ? Math.min(Number(m[2]), size - 1) : size - 1;
      if (s >= size || s > e) {
        res.writeHead(416, { ...headers, 'content-range': `bytes */${size}` }).end();
        return;
      }
      status = 206;
      start = s;
      end = e;
      headers['content-range'] = `bytes ${s}-${e}/${size}`;
    }
  }
  const body = route.body.subarray(start, end + 1);
  headers['content-length'] = body.length;
  res.writeHead(status, headers);
  if (route.dropAfter !== undefined && route.dropAfter < body.length) {
    // A graceful close (FIN, TLS close_notify) after exactly dropAfter bytes: destroying the socket
    // could reset it before the last bytes leave, and the test needs to know the exact cut.
    res.write(body.subarray(0, route.dropAfter), () => res.socket?.end());
    return;
  }
  if (route.stallAfter !== undefined && route.stallAfter < body.length) {
    res.write(body.subarray(0, route.stallAfter));
    return;
  }
  res.end(body);
}

/** Starts a server on 127.0.0.1, an ephemeral port; https when `tls` is given. */
export async function startServer(tls?: { key: Buffer; cert: Buffer }): Promise<TestServer> {
  const routes = new Map<string, Route>();
  const requests: RecordedRequest[] = [];
  const handler = (req: http.IncomingMessage, res: http.ServerResponse): void => {
    const raw = req.url ?? '/';
    const q = raw.indexOf('?');
    const pathname = q < 0 ? raw : raw.slice(0, q);
    requests.push({ method: req.method ?? '', url: raw, pathname, query: q < 0 ? '' : raw.slice(q + 1), headers: { ...req.headers } });
    const route = routes.get(pathname);
    if (!route) {
      res.writeHead(404, { 'content-type': 'text/plain' }).end('not found\n');
    } else if (route.kind === 'redirect') {
      res.writeHead(route.status, { location: route.location, 'content-length': 0 }).end();
    } else if (route.kind === 'page') {
      const body = Buffer.from(route.body);
      res.writeHead(route.status, { 'content-type': 'text/html; charset=utf-8', 'content-length': body.length }).end(body);
    } else {
      serveFile(route, req, res);
    }
  };
  const server: http.Server = tls ? https.createServer({ key: tls.key, cert: tls.cert }, handler) : http.createServer(handler);
  // TLS handshake failures (a client refusing our certificate) are expected in these tests.
  server.on('tlsClientError', () => undefined);
  server.on('clientError', (_e, socket) => socket.destroy());
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => resolve());
  });
  const port = (server.address() as AddressInfo).port;
  const origin = `${tls ? 'https' : 'http'}://127.0.0.1:${port}`;
  return {
    port,
    origin,
    routes,
    requests,
    url: (path) => `${origin}${path}`,
    requestsFor: (path) => requests.filter((r) => r.pathname === path),
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
}
