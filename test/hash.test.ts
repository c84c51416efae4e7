// The WASM SHA-256/512 core against node:crypto and the FIPS 180 examples, its resumable state
// (export, import into a fresh instance, refusal of bad states) and `tspod util sha256|sha512`.
// Random data and split points come from a seeded PRNG, so a failure names a reproducible case.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ErrorCodes } from '../host/src/errors.js';
import { createCoreHasher, importHashState, type CoreHasher, type HashAlgorithm } from '../host/src/core/hash.js';
import { prng } from './helpers/prng.js';

const ALGOS: readonly HashAlgorithm[] = ['sha256', 'sha512'];
const MiB = 1 << 20;


function randomData(n: number, seed: number): Buffer {
  const next = prng(seed);
  const buf = Buffer.allocUnsafe(n);
  let i = 0;
  for (; i + 4 <= n; i += 4) buf.writeUInt32LE(Math.floor(next() * 4294967296), i);
  for (; i < n; i++) buf[i] = Math.floor(next() * 256);
  return buf;
}

function reference(algo: HashAlgorithm, data: Uint8Array): string {
  return createHash(algo).update(data).digest('hex');
}

function hasher(algo: HashAlgorithm): CoreHasher {
  return createCoreHasher(algo)._unsafeUnwrap();
}

function coreDigest(algo: HashAlgorithm, parts: Uint8Array[]): string {
  const h = hasher(algo);
  for (const p of parts) h.update(p);
  return h.digest().toString('hex');
}

/** Cuts data at `count` random points (duplicates allowed, so empty parts happen too). */
function randomSplit(data: Buffer, count: number, next: () => number): Buffer[] {
  const cuts = Array.from({ length: count }, () => Math.floor(next() * (data.length + 1))).sort((a, b) => a - b);
  const parts: Buffer[] = [];
  let prev = 0;
  for (const c of [...cuts, data.length]) {
    parts.push(data.subarray(prev, c));
    prev = c;
  }
  return parts;
}

/** Chunks of random size up to maxChunk, some larger than the core's 1 MiB input region. */
function randomChunks(data: Buffer, maxChunk: number, next: () => number): Buffer[] {
  const parts: Buffer[] = [];
  for (let off = 0; off < data.length;) {
    const n = 1 + Math.floor(next() * maxChunk);
    parts.push(data.subarray(off, off + n));
    off += n;
  }
  return parts;
}

describe('core SHA-2 digests', () => {
  for (const algo of ALGOS) {
    it(`${algo} matches node:crypto for every length 0..300, whole and split in three`, () => {
      const next = prng(300);
      const data = randomData(300, 1);
      for (let n = 0; n <= 300; n++) {
        const msg = data.subarray(0, n);
        const want = reference(algo, msg);
        assert.equal(coreDigest(algo, [msg]), want, `${algo} length ${n}, one update`);
        const parts = randomSplit(msg, 2, next);
        assert.equal(coreDigest(algo, parts), want, `${algo} length ${n}, split ${parts.map((p) => p.length).join('+')}`);
      }
    });
  }

  const fips: Record<string, { msg: string; sha256: string; sha512: string }> = {
    abc: {
      msg: 'abc',
      sha256: 'ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad',
      sha512: 'ddaf35a193617abacc417349ae20413112e6fa4e89a97ea20a9eeee64b55d39a' +
        '2192992a274fc1a836ba3c23a3feebbd454d4423643ce80e2a9ac94fa54ca49f',
    },
    '448-bit': {
      msg: 'abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq',
      sha256: '248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1',
      sha512: '204a8fc6dda82f0a0ced7beb8e08a41657c16ef468b228a8279be331a703c335' +
        '96fd15c13b1b07f9aa1d3bea57789ca031ad85c7a71dd70354ec631238ca3445',
    },
    '896-bit': {
      msg: 'abcdefghbcdefghicdefghijdefghijkefghijklfghijklmghijklmnhijklmnoijklmnopjklmnopqklmnopqrlmnopqrsmnopqrstnopqrstu',
      sha256: 'cf5b16a778af8380036ce59e7b0492370b249b11e8f07a51afac45037afee9d1',
      sha512: '8e959b75dae313da8cf4f72814fc143f8f7779c6eb9f7fa17299aeadb6889018' +
        '501d289e4900f7e4331b99dec4b5433ac7d329eeb6dd26545e96e55b874be909',
    },
    'one million a': {
      msg: 'a'.repeat(1_000_000),
      sha256: 'cdc76e5c9914fb9281a1c7e284d73e67f1809a48a497200e046d39ccc7112cd0',
      sha512: 'e718483d0ce769644e2e42c7bc15b4638e1f98b13b2044285632a803afa973eb' +
        'de0ff244877ea60a4cb0432ce577c31beb009c5c2c49aa2e4eadb217ad8cc09b',
    },
  };
  for (const [name, v] of Object.entries(fips)) {
    it(`FIPS 180 example: ${name}`, () => {
      for (const algo of ALGOS) assert.equal(coreDigest(algo, [Buffer.from(v.msg)]), v[algo], algo);
    });
  }

  for (const size of [MiB, MiB + 1, 3 * MiB - 7, 10_000_019]) {
    it(`multi-MiB input of ${size} bytes at random chunk boundaries`, () => {
      const data = randomData(size, size);
      const next = prng(size ^ 0x5eed);
      for (const algo of ALGOS) {
        const want = reference(algo, data);
        assert.equal(coreDigest(algo, [data]), want, `${algo}, one update`);
        assert.equal(coreDigest(algo, randomChunks(data, 65_537, next)), want, `${algo}, chunks up to 64 KiB`);
        assert.equal(coreDigest(algo, randomChunks(data, 3 * MiB, next)), want, `${algo}, chunks up to 3 MiB`);
      }
    });
  }

  it('hashes data written straight into the input region (updateInput)', () => {
    const data = randomData(2 * MiB + 333, 7);
    for (const algo of ALGOS) {
      const h = hasher(algo);
      for (let off = 0; off < data.length;) {
        const region = h.input();
        const n = data.copy(region, 0, off, Math.min(data.length, off + region.length));
        h.updateInput(n);
        off += n;
      }
      assert.equal(h.digest().toString('hex'), reference(algo, data), algo);
      assert.throws(() => h.updateInput(h.input().length + 1), RangeError);
    }
  });

  it('starts a new stream after digest()', () => {
    for (const algo of ALGOS) {
      const h = hasher(algo);
      h.update(Buffer.from('first stream'));
      h.digest();
      h.update(Buffer.from('abc'));
      assert.equal(h.digest().toString('hex'), reference(algo, Buffer.from('abc')), algo);
      assert.equal(h.digest().toString('hex'), reference(algo, Buffer.alloc(0)), `${algo}, empty`);
    }
  });

  it('keeps hashers independent of each other', () => {
    const a = hasher('sha256');
    const b = hasher('sha256');
    a.update(Buffer.from('one'));
    b.update(Buffer.from('two'));
    assert.equal(a.digest().toString('hex'), reference('sha256', Buffer.from('one')));
    assert.equal(b.digest().toString('hex'), reference('sha256', Buffer.from('two')));
  });
});

// FNV-1a 32 as in core/assembly/sha/state.ts, to forge states that pass the checksum.
function fnv1a(bytes: Uint8Array): number {
  let h = 0x811c9dc5;
  for (const b of bytes) h = Math.imul(h ^ b, 0x01000193) >>> 0;
  return h;
}

function reseal(state: Buffer): Buffer {
  const s = Buffer.from(state);
  s.writeUInt32LE(fnv1a(s.subarray(0, s.length - 4)), s.length - 4);
  return s;
}

function stateOf(algo: HashAlgorithm, data: Uint8Array): Buffer {
  const h = hasher(algo);
  h.update(data);
  return h.exportState();
}

function refusal(algo: HashAlgorithm, state: Uint8Array): string {
  const e = importHashState(algo, state)._unsafeUnwrapErr();
  assert.equal(e.code, ErrorCodes.HASH_STATE);
  assert.match(e.what, new RegExp(`resume a ${algo} hash`));
  assert.ok(e.hint.length > 0);
  return e.why;
}

describe('core SHA-2 state export and import', () => {
  for (const algo of ALGOS) {
    it(`${algo}: a state exported at random points finishes correctly in a new hasher`, () => {
      const data = randomData(3 * MiB + 77, 11);
      const want = reference(algo, data);
      const next = prng(algo === 'sha256' ? 256 : 512);
      const block = algo === 'sha256' ? 64 : 128;
      const points = [0, 1, block - 1, block, block + 1, MiB, data.length];
      for (let i = 0; i < 12; i++) points.push(Math.floor(next() * (data.length + 1)));
      for (const at of points) {
        const first = hasher(algo);
        for (const part of randomChunks(data.subarray(0, at), 200_000, next)) first.update(part);
        const state = first.exportState();
        const resumed = importHashState(algo, state)._unsafeUnwrap();
        resumed.update(data.subarray(at));
        assert.equal(resumed.digest().toString('hex'), want, `${algo} resumed at ${at}`);
        // Exporting does not disturb the original stream.
        first.update(data.subarray(at));
        assert.equal(first.digest().toString('hex'), want, `${algo} continued after export at ${at}`);
      }
    });

    it(`${algo}: a state survives several export/import hops`, () => {
      const data = randomData(500_000, 13);
      let h = hasher(algo);
      for (const part of randomSplit(data, 5, prng(5))) {
        h.update(part);
        h = importHashState(algo, h.exportState())._unsafeUnwrap();
      }
      assert.equal(h.digest().toString('hex'), reference(algo, data));
    });
  }

  it('writes a self-describing state: magic, format, algorithm, fill, core version, length', () => {
    for (const [algo, id, size, block] of [['sha256', 1, 120, 64], ['sha512', 2, 216, 128]] as const) {
      const s = stateOf(algo, randomData(1000, 3));
      assert.equal(s.length, size, `${algo} size`);
      assert.equal(s.subarray(0, 4).toString('latin1'), 'TSHS');
      assert.equal(s.readUInt16LE(4), 1, 'format version');
      assert.equal(s[6], id, 'algorithm id');
      assert.equal(s[7], 1000 % block, 'fill');
      assert.equal(s.readUInt32LE(8), 1, 'core version');
      assert.equal(s.readBigUInt64LE(12), 1000n, 'total length');
      assert.equal(s.readUInt32LE(size - 4), fnv1a(s.subarray(0, size - 4)), 'checksum');
    }
  });

  it('refuses a sha256 state as sha512 and the other way round', () => {
    assert.match(refusal('sha512', stateOf('sha256', Buffer.from('x'))), /sha256 state, not sha512/);
    assert.match(refusal('sha256', stateOf('sha512', Buffer.from('x'))), /sha512 state, not sha256/);
  });

  it('refuses truncated, padded and empty states', () => {
    const s = stateOf('sha256', Buffer.from('hello'));
    assert.match(refusal('sha256', s.subarray(0, s.length - 1)), /119 bytes long.*120 bytes/);
    assert.match(refusal('sha256', Buffer.concat([s, Buffer.alloc(1)])), /121 bytes long/);
    assert.match(refusal('sha256', s.subarray(0, 10)), /truncated/);
    assert.match(refusal('sha512', Buffer.alloc(0)), /0 bytes long/);
    assert.match(refusal('sha512', Buffer.alloc(2 * MiB)), /bytes long/);
  });

  it('refuses a state with corrupted magic, checksum or fields', () => {
    const s = stateOf('sha512', randomData(300, 5));
    const badMagic = Buffer.from(s);
    badMagic[0] ^= 0xff;
    assert.match(refusal('sha512', badMagic), /not a tspod hash state/);
    const flipped = Buffer.from(s);
    flipped[40] ^= 0x01;
    assert.match(refusal('sha512', flipped), /checksum/);
    const badFill = Buffer.from(s);
    badFill[7] = (badFill[7]! + 1) % 128;
    assert.match(refusal('sha512', reseal(badFill)), /disagree/);
    const badFormat = Buffer.from(s);
    badFormat.writeUInt16LE(9, 4);
    assert.match(refusal('sha512', reseal(badFormat)), /state format 9/);
  });

  it('refuses a state saved by another core version', () => {
    const s = Buffer.from(stateOf('sha256', Buffer.from('abc')));
    s.writeUInt32LE(s.readUInt32LE(8) + 1, 8);
    assert.match(refusal('sha256', reseal(s)), /core version 2; this is core version 1/);
  });
});

// ---- CLI: runs the real launcher, so it needs the whole host built (bin -> dist/host/src/cli/main.js).

const root = new URL('../../', import.meta.url).pathname;
const bin = join(root, 'bin', 'tspod.js');
const cliBuilt = existsSync(join(root, 'dist', 'host', 'src', 'cli', 'main.js'));

function tspod(args: string[], input?: Buffer) {
  const r = spawnSync(process.execPath, [bin, ...args], { cwd: root, input, maxBuffer: 16 * MiB });
  return { status: r.status, stdout: r.stdout.toString(), stderr: r.stderr.toString() };
}

function sh(script: string, env: Record<string, string>) {
  const r = spawnSync('sh', ['-c', script], { cwd: root, env: { ...process.env, ...env } });
  return { status: r.status, stdout: r.stdout.toString(), stderr: r.stderr.toString() };
}

describe('tspod util sha256|sha512', { skip: cliBuilt ? false : 'dist/host/src/cli/main.js is not built' }, () => {
  const data = randomData(3 * MiB + 12_345, 21);
  let dir = '';
  let file = '';
  before(() => {
    dir = mkdtempSync(join(tmpdir(), 'tspod-hash-'));
    file = join(dir, 'data.bin');
    writeFileSync(file, data);
  });
  after(() => rmSync(dir, { recursive: true, force: true }));

  it('prints `<hex>  <name>` for a file and for standard input', () => {
    for (const algo of ALGOS) {
      const want = reference(algo, data);
      assert.deepEqual(tspod(['util', algo, file]), { status: 0, stdout: `${want}  ${file}\n`, stderr: '' });
      assert.deepEqual(tspod(['util', algo, '-'], data), { status: 0, stdout: `${want}  -\n`, stderr: '' });
    }
  });

  it('resumes with head/tail and --state-out/--state-in', () => {
    const n = 1_234_567;
    const state = join(dir, 'state');
    const first = sh(`head -c ${n} "$F" | node "$BIN" util sha256 --state-out "$S" -`, { F: file, BIN: bin, S: state });
    assert.deepEqual(first, { status: 0, stdout: '', stderr: '' }, 'with --state-out nothing is printed');
    const second = sh(`tail -c +${n + 1} "$F" | node "$BIN" util sha256 --state-in "$S" -`, { F: file, BIN: bin, S: state });
    assert.deepEqual(second, { status: 0, stdout: `${reference('sha256', data)}  -\n`, stderr: '' });
  });

  it('resumes and saves again when both flags are given', () => {
    const a = join(dir, 'a');
    const b = join(dir, 'b');
    const parts = [data.subarray(0, 1000), data.subarray(1000, 2 * MiB), data.subarray(2 * MiB)];
    assert.equal(tspod(['util', 'sha512', '--state-out', a, '-'], parts[0]).status, 0);
    assert.equal(tspod(['util', 'sha512', '--state-in', a, '--state-out', b, '-'], parts[1]).status, 0);
    const last = tspod(['util', 'sha512', '--state-in', b, '-'], parts[2]);
    assert.equal(last.stdout, `${reference('sha512', data)}  -\n`);
  });

  it('exits 254 with TSPOD_E_IO for a missing file', () => {
    const r = tspod(['util', 'sha256', join(dir, 'missing')]);
    assert.equal(r.status, 254);
    assert.equal(r.stdout, '');
    assert.match(r.stderr, /TSPOD_E_IO/);
  });

  it('exits 254 with TSPOD_E_HASH_STATE for a state of the other algorithm', () => {
    const s = join(dir, 's256');
    assert.equal(tspod(['util', 'sha256', '--state-out', s, file]).status, 0);
    const r = tspod(['util', 'sha512', '--state-in', s, file]);
    assert.equal(r.status, 254);
    assert.match(r.stderr, /TSPOD_E_HASH_STATE/);
    assert.match(r.stderr, /sha256 state, not sha512/);
  });

  it('exits 2 for a bad flag or a missing operand, 0 with usage for --help', () => {
    assert.equal(tspod(['util', 'sha256', '--bogus', file]).status, 2);
    assert.equal(tspod(['util', 'sha512']).status, 2);
    assert.equal(tspod(['util', 'sha256', file, file]).status, 2);
    const help = tspod(['util', 'sha256', '--help']);
    assert.equal(help.status, 0);
    assert.match(help.stdout, /Usage: tspod util sha256/);
  });

  it('escapes names with a backslash or newline as sha256sum does', () => {
    const odd = join(dir, 'a\\b\nc');
    writeFileSync(odd, 'abc');
    const r = tspod(['util', 'sha256', odd]);
    assert.equal(r.stdout, `\\${reference('sha256', Buffer.from('abc'))}  ${join(dir, 'a\\\\b\\nc')}\n`);
  });

  it('writes the state file through a temp file and leaves none behind', () => {
    const s = join(dir, 'atomic');
    assert.equal(tspod(['util', 'sha256', '--state-out', s, file]).status, 0);
    assert.equal(readFileSync(s).length, 120);
    assert.deepEqual(readdirSync(dir).filter((n) => n.endsWith('.tmp')), []);
  });
});
