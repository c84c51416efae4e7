// HTTP(S) downloads and appc meta discovery against real servers on 127.0.0.1 with a throwaway
// PKI from the openssl CLI: digests against node:crypto, HTTP caching (fresh → no request, stale →
// 304), interrupted downloads resumed with Range/If-Range without re-hashing the saved bytes (also
// across a SIGKILLed process), restarts when the resource changed or the range is refused, the
// http / TLS refusals, redirects, errors, the progress bar, and discovery (templates, labels,
// walking up the name, redirects, http fallback, no match).
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import { spawn } from 'node:child_process';
import { existsSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import { setTimeout as sleep } from 'node:timers/promises';
import { ErrorCodes } from '../host/src/errors.js';
import { createCoreHasher } from '../host/src/core/hash.js';
import { CHECKPOINT_BYTES, downloadToFile, httpStatusOf, parseMaxAge, type DownloadOptions } from '../host/src/fetch/http.js';
import { discover, endpointsFromPage, parseMetaTags, renderTemplate } from '../host/src/fetch/discovery.js';
import { createProgress, REDRAW_INTERVAL_MS } from '../host/src/fetch/progress.js';
import { removeDir, tempDir } from './helpers/cli.js';
import { makeTestPki, startServer, type FileRoute, type TestPki, type TestServer } from './helpers/https-server.js';
import { unwrapErr, unwrapOk } from './helpers/result.js';

const MiB = 1 << 20;
const SECURE = { http: false, tls: false } as const;

function sha(algo: 'sha256' | 'sha512', data: Uint8Array): string {
  return createHash(algo).update(data).digest('hex');
}



interface SavedState {
  url: string;
  etag?: string;
  length: number;
  algorithm?: string;
  hashState?: string;
}

function readState(dest: string): SavedState {
  return JSON.parse(readFileSync(`${dest}.part.state`, 'utf8')) as SavedState;
}

/** Total bytes the exported core hash state covers (u64 LE at offset 12, core/assembly/sha/state.ts). */
function hashedByState(s: SavedState): number {
  return Number(Buffer.from(s.hashState ?? '', 'base64').readBigUInt64LE(12));
}

function fileRoute(body: Buffer, extra: Partial<FileRoute> = {}): FileRoute {
  return { kind: 'file', body, ...extra };
}

describe('downloadToFile and discover over real servers', () => {
  let dir = '';
  let pki: TestPki;
  let server: TestServer | undefined;
  let plain: TestServer | undefined;
  let selfSigned: TestServer | undefined;
  let expired: TestServer | undefined;
  let counter = 0;
  const dest = (): string => join(dir, `out-${++counter}.bin`);
  const opts = (d: string, extra: Partial<DownloadOptions> = {}): DownloadOptions => ({ dest: d, insecure: SECURE, ca: pki.ca, ...extra });
  const srv = (): TestServer => server!;

  before(async () => {
    dir = tempDir('fetch-http');
    pki = makeTestPki(join(dir, 'pki'));
    server = await startServer(pki.server);
    plain = await startServer();
    selfSigned = await startServer(pki.selfSigned);
    expired = await startServer(pki.expired);
  });

  after(async () => {
    for (const s of [server, plain, selfSigned, expired]) await s?.close();
    if (dir) removeDir(dir);
  });

  describe('downloads', () => {
    for (const algo of ['sha256', 'sha512'] as const) {
      it(`downloads over https trusting the test CA; the ${algo} digest equals node:crypto's`, async () => {
        const body = randomBytes(3 * MiB + 12345);
        srv().routes.set(`/full-${algo}.aci`, fileRoute(body, { etag: `"full-${algo}"`, cacheControl: 'public, max-age=3600' }));
        const d = dest();
        const r = unwrapOk(await downloadToFile(srv().url(`/full-${algo}.aci`), opts(d, { hash: algo })));
        assert.equal(r.status, 'downloaded');
        assert.equal(r.statusCode, 200);
        assert.equal(r.size, body.length);
        assert.equal(r.digest, sha(algo, body));
        assert.equal(r.etag, `"full-${algo}"`);
        assert.equal(r.maxAge, 3600);
        assert.equal(r.resumedFrom, 0);
        assert.equal(r.hashed, body.length);
        assert.ok(readFileSync(d).equals(body));
        assert.ok(!existsSync(`${d}.part`) && !existsSync(`${d}.part.state`), 'no .part or state left behind');
        const req = srv().requestsFor(`/full-${algo}.aci`).at(-1)!;
        assert.equal(req.headers['range'], undefined);
        assert.equal(req.headers['accept-encoding'], 'identity');
      });
    }

    it('a fresh cache entry makes no request at all', async () => {
      srv().routes.set('/cached.aci', fileRoute(randomBytes(1000), { etag: '"c1"', cacheControl: 'max-age=600' }));
      const d = dest();
      const first = unwrapOk(await downloadToFile(srv().url('/cached.aci'), opts(d)));
      const before = srv().requests.length;
      const r = unwrapOk(
        await downloadToFile(srv().url('/cached.aci'), opts(d, { cached: { etag: first.etag!, maxAge: first.maxAge!, downloadedAt: Date.now() - 1000 } })),
      );
      assert.equal(r.status, 'fresh');
      assert.equal(r.statusCode, 0);
      assert.equal(r.size, 1000);
      assert.equal(srv().requests.length, before, 'the server saw no request');
    });

    it('a stale cache entry sends a conditional GET and takes the 304', async () => {
      const body = randomBytes(2000);
      srv().routes.set('/stale.aci', fileRoute(body, { etag: '"s1"', lastModified: 'Wed, 01 Jan 2025 00:00:00 GMT', cacheControl: 'max-age=60' }));
      const d = dest();
      writeFileSync(d, body);
      const r = unwrapOk(
        await downloadToFile(
          srv().url('/stale.aci'),
          opts(d, { cached: { etag: '"s1"', lastModified: 'Wed, 01 Jan 2025 00:00:00 GMT', maxAge: 60, downloadedAt: Date.now() - 120_000 } }),
        ),
      );
      assert.equal(r.status, 'not-modified');
      assert.equal(r.statusCode, 304);
      assert.equal(r.etag, '"s1"');
      assert.equal(r.maxAge, 60);
      const req = srv().requestsFor('/stale.aci').at(-1)!;
      assert.equal(req.headers['if-none-match'], '"s1"');
      assert.equal(req.headers['if-modified-since'], 'Wed, 01 Jan 2025 00:00:00 GMT');
      assert.ok(!existsSync(`${d}.part`));
    });

    it('a stale cache entry whose ETag changed downloads the new bytes; no-cache gives maxAge 0', async () => {
      const body = randomBytes(5000);
      srv().routes.set('/changed.aci', fileRoute(body, { etag: '"new"', cacheControl: 'no-cache' }));
      const d = dest();
      const r = unwrapOk(await downloadToFile(srv().url('/changed.aci'), opts(d, { hash: 'sha256', cached: { etag: '"old"', maxAge: 0, downloadedAt: 0 } })));
      assert.equal(r.status, 'downloaded');
      assert.equal(r.etag, '"new"');
      assert.equal(r.maxAge, 0);
      assert.equal(r.digest, sha('sha256', body));
      assert.equal(srv().requestsFor('/changed.aci').at(-1)!.headers['if-none-match'], '"old"');
    });

    it('a dropped connection fails, leaves .part and state; the next call resumes with Range and does not re-hash the saved bytes', async () => {
      const body = randomBytes(4 * MiB + 777);
      const cut = MiB + 77; // not on a block boundary: the saved state holds a partial block
      const route = fileRoute(body, { etag: '"r1"', dropAfter: cut });
      srv().routes.set('/resume.aci', route);
      const d = dest();
      const failed = unwrapErr(await downloadToFile(srv().url('/resume.aci'), opts(d, { hash: 'sha512' })));
      assert.equal(failed.code, ErrorCodes.FETCH);
      assert.equal(failed.what, `download ${srv().url('/resume.aci')}`);
      assert.match(failed.why, /dropped|ended|reset/);
      assert.match(failed.hint, /resumes/);
      assert.ok(!existsSync(d), 'dest is not created by a failed download');
      const state = readState(d);
      assert.equal(state.length, cut);
      assert.equal(statSync(`${d}.part`).size, cut);
      assert.equal(state.etag, '"r1"');
      assert.equal(state.algorithm, 'sha512');
      assert.equal(hashedByState(state), cut, 'the saved hash state covers exactly the saved bytes');

      route.dropAfter = undefined;
      const r = unwrapOk(await downloadToFile(srv().url('/resume.aci'), opts(d, { hash: 'sha512' })));
      assert.equal(r.status, 'downloaded');
      assert.equal(r.statusCode, 206);
      assert.equal(r.resumedFrom, cut);
      assert.equal(r.hashed, body.length - cut, 'only the bytes after the partial length were hashed');
      assert.equal(r.digest, sha('sha512', body));
      assert.ok(readFileSync(d).equals(body));
      const req = srv().requestsFor('/resume.aci').at(-1)!;
      assert.equal(req.headers['range'], `bytes=${cut}-`);
      assert.equal(req.headers['if-range'], '"r1"');
      assert.ok(!existsSync(`${d}.part`) && !existsSync(`${d}.part.state`));
    });

    it('a partial download resumes without a hash too, and a new algorithm re-reads only the local bytes', async () => {
      const body = randomBytes(2 * MiB + 5);
      const cut = 300_001;
      const route = fileRoute(body, { lastModified: 'Thu, 02 Jan 2025 10:00:00 GMT', dropAfter: cut });
      srv().routes.set('/lm.aci', route);
      const d = dest();
      unwrapErr(await downloadToFile(srv().url('/lm.aci'), opts(d)));
      const state = readState(d);
      assert.equal(state.length, cut);
      assert.equal(state.hashState, undefined);
      route.dropAfter = undefined;
      // The state has no sha256 state: the .part is re-hashed from disk, not downloaded again.
      const r = unwrapOk(await downloadToFile(srv().url('/lm.aci'), opts(d, { hash: 'sha256' })));
      assert.equal(r.resumedFrom, cut);
      assert.equal(r.hashed, body.length, `${cut} bytes re-read from disk plus ${body.length - cut} from the network`);
      assert.equal(r.digest, sha('sha256', body));
      const req = srv().requestsFor('/lm.aci').at(-1)!;
      assert.equal(req.headers['range'], `bytes=${cut}-`);
      assert.equal(req.headers['if-range'], 'Thu, 02 Jan 2025 10:00:00 GMT');
    });

    it('restarts from zero when the resource changed between attempts (If-Range fails → 200)', async () => {
      const v1 = randomBytes(2 * MiB);
      const v2 = randomBytes(2 * MiB + 999);
      srv().routes.set('/moving.aci', fileRoute(v1, { etag: '"v1"', dropAfter: 500_000 }));
      const d = dest();
      unwrapErr(await downloadToFile(srv().url('/moving.aci'), opts(d, { hash: 'sha256' })));
      assert.equal(readState(d).etag, '"v1"');
      srv().routes.set('/moving.aci', fileRoute(v2, { etag: '"v2"' }));
      const r = unwrapOk(await downloadToFile(srv().url('/moving.aci'), opts(d, { hash: 'sha256' })));
      assert.equal(r.statusCode, 200);
      assert.equal(r.resumedFrom, 0);
      assert.equal(r.hashed, v2.length);
      assert.equal(r.etag, '"v2"');
      assert.equal(r.digest, sha('sha256', v2));
      assert.ok(readFileSync(d).equals(v2));
      const req = srv().requestsFor('/moving.aci').at(-1)!;
      assert.equal(req.headers['range'], 'bytes=500000-');
      assert.equal(req.headers['if-range'], '"v1"');
    });

    it('restarts from zero when the server ignores Range', async () => {
      const body = randomBytes(MiB + 3);
      const route = fileRoute(body, { etag: '"ir"', dropAfter: 200_000 });
      srv().routes.set('/norange.aci', route);
      const d = dest();
      unwrapErr(await downloadToFile(srv().url('/norange.aci'), opts(d, { hash: 'sha256' })));
      route.dropAfter = undefined;
      route.ignoreRange = true;
      const r = unwrapOk(await downloadToFile(srv().url('/norange.aci'), opts(d, { hash: 'sha256' })));
      assert.equal(r.statusCode, 200);
      assert.equal(r.resumedFrom, 0);
      assert.equal(r.digest, sha('sha256', body));
      assert.ok(readFileSync(d).equals(body), 'the old partial bytes are not kept in front');
    });

    it('416 (the .part was already complete) restarts from zero', async () => {
      const body = randomBytes(70_000);
      srv().routes.set('/done.aci', fileRoute(body, { etag: '"d"' }));
      const d = dest();
      // A complete .part whose rename never happened (killed at the last moment).
      const h = createCoreHasher('sha512')._unsafeUnwrap();
      h.update(body);
      writeFileSync(`${d}.part`, body);
      writeFileSync(
        `${d}.part.state`,
        JSON.stringify({ format: 'tspod-partial-download/1', url: srv().url('/done.aci'), etag: '"d"', length: body.length, algorithm: 'sha512', hashState: h.exportState().toString('base64') }),
      );
      const n = srv().requestsFor('/done.aci').length;
      const r = unwrapOk(await downloadToFile(srv().url('/done.aci'), opts(d, { hash: 'sha512' })));
      assert.equal(r.statusCode, 200);
      assert.equal(r.digest, sha('sha512', body));
      const reqs = srv().requestsFor('/done.aci').slice(n);
      assert.deepEqual(
        reqs.map((q) => q.headers['range']),
        [`bytes=${body.length}-`, undefined],
      );
    });

    // sha512 runs on the core, whose state is saved: only new bytes are hashed after a resume.
    // sha256 runs on OpenSSL, whose state cannot be saved: the kept prefix is re-read from disk.
    for (const algo of ['sha512', 'sha256'] as const) {
      it(`a process killed mid-download leaves a checkpoint another process resumes from (${algo})`, async () => {
        // The stall is further past the checkpoint than one batch can reach (QUEUE_HIGH, 4 MiB), so
        // bytes past the checkpoint are written before the kill however the network batches.
        const stallAt = CHECKPOINT_BYTES + 6 * MiB;
        const body = randomBytes(stallAt + MiB + 11);
        const route = fileRoute(body, { etag: '"big"', stallAfter: stallAt });
        const path = `/big-${algo}.aci`;
        srv().routes.set(path, route);
        const d = dest();
        const script = join(dir, 'child-download.mjs');
        writeFileSync(
          script,
          [
            "import { readFileSync } from 'node:fs';",
            'const [mod, url, dest, ca, hash] = process.argv.slice(2);',
            'const { downloadToFile } = await import(mod);',
            'const r = await downloadToFile(url, { dest, insecure: { http: false, tls: false }, ca: readFileSync(ca), hash });',
            'console.log(JSON.stringify(r.isOk() ? r.value : r.error));',
          ].join('\n'),
        );
        const mod = new URL('../host/src/fetch/http.js', import.meta.url).href;
        const child = spawn(process.execPath, [script, mod, srv().url(path), d, pki.caPath, algo], { stdio: ['ignore', 'pipe', 'pipe'] });
        const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
        let checkpoint: SavedState | undefined;
        try {
          for (let i = 0; i < 1500 && !checkpoint; i++) {
            if (existsSync(`${d}.part.state`)) checkpoint = readState(d);
            else await sleep(20);
          }
          assert.ok(checkpoint, 'the child saved a checkpoint while downloading');
          // Let the child write past the checkpoint before killing it: those bytes must be dropped.
          for (let i = 0; i < 500 && statSync(`${d}.part`).size < stallAt; i++) await sleep(20);
        } finally {
          child.kill('SIGKILL');
          await exited;
        }
        const state = readState(d);
        assert.ok(state.length >= CHECKPOINT_BYTES && state.length < stallAt, `checkpoint at ${state.length}`);
        assert.equal(state.algorithm, algo);
        if (algo === 'sha512') assert.equal(hashedByState(state), state.length);
        else assert.equal(state.hashState, undefined, 'OpenSSL keeps no exportable state');
        assert.ok(statSync(`${d}.part`).size > state.length, 'the .part holds bytes past the checkpoint');

        route.stallAfter = undefined;
        const r = unwrapOk(await downloadToFile(srv().url(path), opts(d, { hash: algo })));
        assert.equal(r.statusCode, 206);
        assert.equal(r.resumedFrom, state.length);
        assert.equal(r.hashed, algo === 'sha512' ? body.length - state.length : body.length);
        assert.equal(r.digest, sha(algo, body));
        assert.ok(readFileSync(d).equals(body));
        assert.equal(srv().requestsFor(path).at(-1)!.headers['range'], `bytes=${state.length}-`);
      });
    }

    it('plain http is refused without insecure.http (no request made) and works with it', async () => {
      const body = randomBytes(10_000);
      plain!.routes.set('/plain.aci', fileRoute(body));
      const before = plain!.requests.length;
      const e = unwrapErr(await downloadToFile(plain!.url('/plain.aci'), opts(dest())));
      assert.equal(e.code, ErrorCodes.INSECURE);
      assert.match(e.why, /plain http/);
      assert.match(e.hint, /--insecure-options=http/);
      assert.equal(plain!.requests.length, before);
      const r = unwrapOk(await downloadToFile(plain!.url('/plain.aci'), opts(dest(), { insecure: { http: true, tls: false }, hash: 'sha256' })));
      assert.equal(r.digest, sha('sha256', body));
    });

    it('follows redirects (relative and absolute), bounded; refuses https → http unless insecure.http', async () => {
      const body = randomBytes(4096);
      srv().routes.set('/target.aci', fileRoute(body));
      srv().routes.set('/hop1', { kind: 'redirect', status: 301, location: '/hop2' });
      srv().routes.set('/hop2', { kind: 'redirect', status: 307, location: srv().url('/target.aci') });
      const r = unwrapOk(await downloadToFile(srv().url('/hop1'), opts(dest(), { hash: 'sha256' })));
      assert.equal(r.digest, sha('sha256', body));
      assert.equal(srv().requestsFor('/hop2').length, 1);

      srv().routes.set('/loop', { kind: 'redirect', status: 302, location: '/loop' });
      const loop = unwrapErr(await downloadToFile(srv().url('/loop'), opts(dest(), { maxRedirects: 3 })));
      assert.equal(loop.code, ErrorCodes.FETCH);
      assert.match(loop.why, /more than 3 redirects/);
      assert.equal(srv().requestsFor('/loop').length, 4);

      plain!.routes.set('/down.aci', fileRoute(body));
      srv().routes.set('/downgrade', { kind: 'redirect', status: 302, location: plain!.url('/down.aci') });
      const down = unwrapErr(await downloadToFile(srv().url('/downgrade'), opts(dest())));
      assert.equal(down.code, ErrorCodes.INSECURE);
      assert.match(down.why, /redirected to plain http/);
      assert.equal(plain!.requestsFor('/down.aci').length, 0);
      const ok = unwrapOk(await downloadToFile(srv().url('/downgrade'), opts(dest(), { insecure: { http: true, tls: false }, hash: 'sha256' })));
      assert.equal(ok.digest, sha('sha256', body));
    });

    it('credentials headers are not sent to another origin after a redirect', async () => {
      const body = randomBytes(100);
      plain!.routes.set('/cred.aci', fileRoute(body));
      srv().routes.set('/cred', { kind: 'redirect', status: 302, location: plain!.url('/cred.aci') });
      unwrapOk(
        await downloadToFile(srv().url('/cred'), opts(dest(), { insecure: { http: true, tls: false }, headers: { Authorization: 'Bearer secret', 'X-Other': '1' } })),
      );
      assert.equal(srv().requestsFor('/cred').at(-1)!.headers['authorization'], 'Bearer secret');
      const moved = plain!.requestsFor('/cred.aci').at(-1)!;
      assert.equal(moved.headers['authorization'], undefined);
      assert.equal(moved.headers['x-other'], '1');
    });

    it('HTTP errors name the status; 404 and 202 are visible to callers', async () => {
      const e = unwrapErr(await downloadToFile(srv().url('/missing.aci'), opts(dest())));
      assert.equal(e.code, ErrorCodes.FETCH);
      assert.equal(e.what, `download ${srv().url('/missing.aci')}`);
      assert.match(e.why, /answered 404 Not Found/);
      assert.match(e.hint, /check the URL/);
      assert.equal(httpStatusOf(e), 404);
      srv().routes.set('/later.asc', { kind: 'page', status: 202, body: 'not yet' });
      const d = dest();
      const deferred = unwrapErr(await downloadToFile(srv().url('/later.asc'), opts(d)));
      assert.equal(httpStatusOf(deferred), 202);
      assert.ok(!existsSync(d) && !existsSync(`${d}.part`));
    });

    it('refuses an untrusted CA, a self-signed and an expired certificate; insecure.tls accepts any', async () => {
      srv().routes.set('/tls.aci', fileRoute(randomBytes(100)));
      const unknown = unwrapErr(await downloadToFile(srv().url('/tls.aci'), { dest: dest(), insecure: SECURE }));
      assert.equal(unknown.code, ErrorCodes.INSECURE);
      assert.match(unknown.why, /unknown authority/);
      assert.match(unknown.hint, /--insecure-options=tls/);

      const body = randomBytes(3000);
      selfSigned!.routes.set('/s.aci', fileRoute(body));
      const self = unwrapErr(await downloadToFile(selfSigned!.url('/s.aci'), opts(dest())));
      assert.equal(self.code, ErrorCodes.INSECURE);
      assert.match(self.why, /self-signed/);
      assert.equal(selfSigned!.requests.length, 0, 'no request went over the refused connection');
      const r = unwrapOk(await downloadToFile(selfSigned!.url('/s.aci'), { dest: dest(), insecure: { http: false, tls: true }, hash: 'sha256' }));
      assert.equal(r.digest, sha('sha256', body));

      expired!.routes.set('/e.aci', fileRoute(body));
      const old = unwrapErr(await downloadToFile(expired!.url('/e.aci'), opts(dest())));
      assert.equal(old.code, ErrorCodes.INSECURE);
      assert.match(old.why, /expired/);
    });

    it('a refused connection and a cancelled download are explained', async () => {
      const gone = await startServer();
      const port = gone.port;
      await gone.close();
      const refused = unwrapErr(await downloadToFile(`http://127.0.0.1:${port}/x.aci`, opts(dest(), { insecure: { http: true, tls: false } })));
      assert.equal(refused.code, ErrorCodes.FETCH);
      assert.match(refused.why, /refused the connection/);

      const body = randomBytes(2 * MiB);
      srv().routes.set('/slow.aci', fileRoute(body, { etag: '"slow"', stallAfter: 100_000 }));
      const ac = new AbortController();
      const d = dest();
      const pending = downloadToFile(srv().url('/slow.aci'), opts(d, { signal: ac.signal, hash: 'sha256' }));
      for (let i = 0; i < 500 && !(existsSync(`${d}.part`) && statSync(`${d}.part`).size >= 100_000); i++) await sleep(10);
      ac.abort();
      const cancelled = unwrapErr(await pending);
      assert.equal(cancelled.code, ErrorCodes.FETCH);
      assert.match(cancelled.why, /cancelled/);
      assert.equal(readState(d).length, 100_000, 'what arrived is kept for a resume');
    });

    it('an idle connection times out and can be resumed', async () => {
      const body = randomBytes(300_000);
      const route = fileRoute(body, { etag: '"idle"', stallAfter: 65_536 });
      srv().routes.set('/idle.aci', route);
      const d = dest();
      const e = unwrapErr(await downloadToFile(srv().url('/idle.aci'), opts(d, { idleTimeoutMs: 300, hash: 'sha256' })));
      assert.match(e.why, /sent nothing for 0.3 s/);
      route.stallAfter = undefined;
      const r = unwrapOk(await downloadToFile(srv().url('/idle.aci'), opts(d, { hash: 'sha256' })));
      assert.equal(r.resumedFrom, 65_536);
      assert.equal(r.digest, sha('sha256', body));
    });

    it('draws progress on a TTY stream only', async () => {
      class Sink extends Writable {
        readonly chunks: string[] = [];
        constructor(readonly isTTY: boolean) {
          super();
        }
        readonly columns = 100;
        override _write(chunk: Buffer, _enc: BufferEncoding, cb: () => void): void {
          this.chunks.push(chunk.toString());
          cb();
        }
      }
      const tty = new Sink(true);
      const pipe = new Sink(false);
      const body = randomBytes(2 * MiB);
      srv().routes.set('/progress.aci', fileRoute(body, { etag: '"p"' }));
      unwrapOk(await downloadToFile(srv().url('/progress.aci'), opts(dest(), { progress: tty })));
      unwrapOk(await downloadToFile(srv().url('/progress.aci'), opts(dest(), { progress: pipe })));
      assert.equal(pipe.chunks.length, 0, 'nothing is written to a non-TTY stream');
      assert.ok(tty.chunks.length >= 2, 'at least one redraw and the final clear');
      assert.match(tty.chunks[0]!, /^\rprogress\.aci .*%.* \/ 2\.0 MiB/);
      assert.equal(tty.chunks.at(-1), '\r\x1b[K', 'the line is cleared at the end');
    });
  });

  describe('discovery', () => {
    const name = (path: string): string => `127.0.0.1${path}`;
    const dopts = () => ({ insecure: SECURE, ca: pki.ca, port: srv().port });

    it('renders the templates of matching tags, longest prefix first, with labels; skips unrendered ones', async () => {
      const origin = srv().origin;
      srv().routes.set('/acme/app', {
        kind: 'page',
        status: 200,
        body: `<!DOCTYPE html>
<html><HEAD>
<!-- <meta name="ac-discovery" content="127.0.0.1 https://commented.out/{name}.{ext}"> -->
<meta content="127.0.0.1/acme ${origin}/dl/{name}-{version}-{os}-{arch}.{ext}" name="ac-discovery">
<META NAME='ac-discovery' CONTENT='127.0.0.1/acme/app https://mirror.example/{name}/{version}/{flavor}.{ext}?os={os}&amp;arch={arch}' />
<meta name="ac-discovery" content="127.0.0.1/acme/app https://needs.example/{channel}/{name}.{ext}">
<meta name="ac-discovery" content="127.0.0.1/other https://other.example/{name}.{ext}">
<meta name=ac-discovery-pubkeys content="127.0.0.1/acme ${origin}/pubkeys.gpg">
<meta name="ac-discovery-pubkeys" content="example.com https://elsewhere/keys.gpg"/>
<script>var s = '<meta name="ac-discovery" content="127.0.0.1 https://script/{name}.{ext}">';</script>
</HEAD><body></body></html>`,
      });
      const r = unwrapOk(await discover(name('/acme/app'), { os: 'linux', arch: 'amd64', flavor: 'slim' }, dopts()));
      assert.deepEqual(r.aci, [
        'https://mirror.example/127.0.0.1/acme/app/latest/slim.aci?os=linux&arch=amd64',
        `${origin}/dl/127.0.0.1/acme/app-latest-linux-amd64.aci`,
      ]);
      assert.deepEqual(r.asc, [
        'https://mirror.example/127.0.0.1/acme/app/latest/slim.aci.asc?os=linux&arch=amd64',
        `${origin}/dl/127.0.0.1/acme/app-latest-linux-amd64.aci.asc`,
      ]);
      assert.deepEqual(r.pubkeys, [`${origin}/pubkeys.gpg`]);
      const req = srv().requestsFor('/acme/app').at(-1)!;
      assert.equal(req.query, 'ac-discovery=1');

      const v = unwrapOk(await discover(name('/acme/app'), { os: 'linux', arch: 'aarch64', version: '1.2.0' }, dopts()));
      // Without a flavor label the mirror template stays unrendered and is skipped.
      assert.deepEqual(v.aci, [`${origin}/dl/127.0.0.1/acme/app-1.2.0-linux-aarch64.aci`]);
    });

    it('walks up the name on 4xx and on pages without a matching tag', async () => {
      srv().routes.set('/acme/tools', { kind: 'page', status: 200, body: '<meta name="ac-discovery" content="127.0.0.1/elsewhere https://x/{name}.{ext}">' });
      srv().routes.set('/acme', { kind: 'page', status: 200, body: '<meta name="ac-discovery" content="127.0.0.1/acme/tools https://cdn.example/{name}-{version}.{ext}">' });
      const n = srv().requests.length;
      const r = unwrapOk(await discover(name('/acme/tools/deep'), {}, dopts()));
      assert.deepEqual(r.aci, ['https://cdn.example/127.0.0.1/acme/tools/deep-latest.aci']);
      assert.deepEqual(r.asc, ['https://cdn.example/127.0.0.1/acme/tools/deep-latest.aci.asc']);
      assert.deepEqual(
        srv().requests.slice(n).map((q) => q.url),
        ['/acme/tools/deep?ac-discovery=1', '/acme/tools?ac-discovery=1', '/acme?ac-discovery=1'],
      );
    });

    it('follows redirects', async () => {
      srv().routes.set('/moved/app', { kind: 'redirect', status: 301, location: '/new/app?ac-discovery=1' });
      srv().routes.set('/new/app', { kind: 'page', status: 200, body: '<meta name="ac-discovery" content="127.0.0.1/moved https://new.example/{name}.{ext}">' });
      const r = unwrapOk(await discover(name('/moved/app'), {}, dopts()));
      assert.deepEqual(r.aci, ['https://new.example/127.0.0.1/moved/app.aci']);
    });

    it('no match anywhere is a DISCOVERY error naming what was tried', async () => {
      const n = srv().requests.length;
      const e = unwrapErr(await discover(name('/nowhere/x'), { os: 'linux', arch: 'amd64' }, dopts()));
      assert.equal(e.code, ErrorCodes.DISCOVERY);
      assert.equal(e.what, 'discover 127.0.0.1/nowhere/x');
      assert.match(e.why, /no discovery endpoint matched/);
      assert.match(e.why, /nowhere\/x\?ac-discovery=1 answered 404/);
      assert.match(e.hint, /ac-discovery/);
      assert.deepEqual(
        srv().requests.slice(n).map((q) => q.url),
        ['/nowhere/x?ac-discovery=1', '/nowhere?ac-discovery=1', '/?ac-discovery=1'],
      );
    });

    it('a non-4xx failure stops the walk with its own error; TLS refusals are INSECURE', async () => {
      srv().routes.set('/broken/app', { kind: 'page', status: 500, body: 'oops' });
      const e = unwrapErr(await discover(name('/broken/app'), {}, dopts()));
      assert.equal(e.code, ErrorCodes.FETCH);
      assert.match(e.why, /answered 500/);
      assert.equal(srv().requestsFor('/broken').length, 0, 'the walk stopped');
      const t = unwrapErr(await discover(name('/acme/app'), {}, { insecure: SECURE, port: srv().port }));
      assert.equal(t.code, ErrorCodes.INSECURE);
      assert.equal(t.what, 'discover 127.0.0.1/acme/app');
    });

    it('falls back to plain http only with insecure.http', async () => {
      plain!.routes.set('/plain/app', { kind: 'page', status: 200, body: '<meta name="ac-discovery" content="127.0.0.1/plain http://plain.example/{name}.{ext}">' });
      const refused = unwrapErr(await discover(name('/plain/app'), {}, { insecure: SECURE, port: plain!.port }));
      assert.notEqual(refused.code, ErrorCodes.DISCOVERY);
      assert.equal(plain!.requestsFor('/plain/app').length, 0);
      const r = unwrapOk(await discover(name('/plain/app'), {}, { insecure: { http: true, tls: false }, port: plain!.port }));
      assert.deepEqual(r.aci, ['http://plain.example/127.0.0.1/plain/app.aci']);
      assert.equal(plain!.requestsFor('/plain/app').length, 1);
    });

    it('want: pubkeys walks until keys are found', async () => {
      srv().routes.set('/keys/app', { kind: 'page', status: 200, body: '<meta name="ac-discovery" content="127.0.0.1/keys https://k/{name}.{ext}">' });
      srv().routes.set('/keys', { kind: 'page', status: 200, body: '<meta name="ac-discovery-pubkeys" content="127.0.0.1/keys https://k/pubkeys.gpg">' });
      const r = unwrapOk(await discover(name('/keys/app'), {}, { ...dopts(), want: 'pubkeys' }));
      assert.deepEqual(r.pubkeys, ['https://k/pubkeys.gpg']);
      const bad = unwrapErr(await discover('Not A Name', {}, dopts()));
      assert.equal(bad.code, ErrorCodes.DISCOVERY);
    });
  });
});

describe('fetch units', () => {
  it('parseMaxAge', () => {
    assert.equal(parseMaxAge(undefined), undefined);
    assert.equal(parseMaxAge('public'), undefined);
    assert.equal(parseMaxAge('public, max-age=300'), 300);
    assert.equal(parseMaxAge('Max-Age="42"'), 42);
    assert.equal(parseMaxAge('max-age=300, no-cache'), 0);
    assert.equal(parseMaxAge('no-store'), 0);
  });

  it('renderTemplate skips templates left with {...}', () => {
    assert.equal(renderTemplate('https://x/{name}-{version}.{ext}', { name: 'a/b', version: '1', ext: 'aci' }), 'https://x/a/b-1.aci');
    assert.equal(renderTemplate('https://x/{name}-{os}.{ext}', { name: 'a', ext: 'aci' }), undefined);
  });

  it('parseMetaTags tolerates real HTML', () => {
    const tags = parseMetaTags(
      `<meta charset=utf-8><meta\nname="a"\ncontent='x &quot;y&quot; &#x41;&#66;'/><meta content=z name=b><meta name="c" content="1" content="2"><metadata name="d" content="no">`,
    );
    assert.deepEqual(
      tags.map((t) => Object.fromEntries(t)),
      [{ charset: 'utf-8' }, { name: 'a', content: 'x "y" AB' }, { content: 'z', name: 'b' }, { name: 'c', content: '1' }],
    );
    const e = endpointsFromPage('<meta name="ac-discovery" content="a.com/b https://h/{name}.{ext} extra">', 'a.com/b/c', {});
    assert.deepEqual(e.aci, [], 'content with more than two fields is ignored');
  });

  it('progress redraws at most every REDRAW_INTERVAL_MS and clears at the end', () => {
    let t = 0;
    const writes: string[] = [];
    const out = Object.assign(new Writable({ write: (c: Buffer, _e, cb) => (writes.push(c.toString()), cb()) }), { isTTY: true, columns: 80 });
    const p = createProgress({ label: 'x.aci', total: 1000, output: out, now: () => t });
    for (t = 0; t <= 1000; t += 10) p.update(t);
    p.done();
    p.done();
    const draws = writes.filter((w) => w !== '\r\x1b[K');
    const expected = Math.floor(1000 / REDRAW_INTERVAL_MS) + 1;
    assert.ok(draws.length >= expected - 1 && draws.length <= expected, `${draws.length} redraws over 1 s`);
    assert.ok(draws.every((w) => w.length <= 80 + 4), 'fits the terminal width');
    assert.match(draws.at(-1)!, /100%.*ETA 0:00/);
    assert.equal(writes.filter((w) => w === '\r\x1b[K').length, 1);
    const silent = createProgress({ label: 'x', output: Object.assign(new Writable({ write: (_c, _e, cb) => cb() }), { isTTY: false }) });
    silent.update(1);
    silent.done();
  });
});
