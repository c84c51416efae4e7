// BatchWriter: the .part writer that batches a download's chunks onto libuv's threadpool.
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync, statSync } from 'node:fs';
import { open } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { BatchWriter, FLUSH_BYTES, IDLE_FLUSH_MS } from '../host/src/fetch/batch-writer.js';

describe('BatchWriter', () => {
  let dir: string;
  before(() => {
    dir = mkdtempSync(join(tmpdir(), 'tspod-batch-'));
  });
  after(() => rmSync(dir, { recursive: true, force: true }));

  it('writes chunks of any size in order from the start position, and counts only what is written', async () => {
    const path = join(dir, 'ordered');
    const head = randomBytes(1000);
    const fh = await open(path, 'w');
    await fh.write(head, 0, head.length, 0);
    const w = new BatchWriter(fh, head.length);
    const chunks = Array.from({ length: 300 }, (_, i) => randomBytes(1 + ((i * 7919) % 40_000)));
    for (let i = 0; i < chunks.length; i += 3) await w.add(chunks.slice(i, i + 3));
    assert.ok(w.written < head.length + chunks.reduce((n, c) => n + c.length, 0), 'the last partial MiB is still queued');
    await w.drain();
    await fh.close();
    const expected = Buffer.concat([head, ...chunks]);
    assert.equal(w.written, expected.length);
    assert.ok(readFileSync(path).equals(expected));
  });

  it('writes what is queued when the network goes idle, without a drain', async () => {
    const path = join(dir, 'idle');
    const fh = await open(path, 'w');
    try {
      const w = new BatchWriter(fh, 0);
      const small = randomBytes(FLUSH_BYTES / 4);
      await w.add([small]);
      w.idle();
      // `written` moves when the write's promise settles, just after the bytes reach the file.
      for (let i = 0; i < 100 && w.written < small.length; i++) await sleep(IDLE_FLUSH_MS);
      assert.equal(w.written, small.length);
      assert.equal(statSync(path).size, small.length);
      await w.drain();
    } finally {
      await fh.close();
    }
  });

  it('a failed write (ENOSPC on /dev/full) is thrown by the next add or drain, and nothing counts as written', async () => {
    const fh = await open('/dev/full', 'w');
    try {
      const w = new BatchWriter(fh, 0);
      await w.add([randomBytes(FLUSH_BYTES)]); // issues the write
      await assert.rejects(w.drain(), (e: NodeJS.ErrnoException) => e.code === 'ENOSPC');
      assert.equal(w.written, 0);
      await assert.rejects(w.add([randomBytes(10)]), (e: NodeJS.ErrnoException) => e.code === 'ENOSPC');
    } finally {
      await fh.close();
    }
  });
});
