// Small files go to writer threads in batches: their bytes are copied into one buffer per batch
// and the buffer is transferred, not cloned. The main thread keeps walking the archive and
// creating directories, links and nodes meanwhile.
import { Worker } from 'node:worker_threads';
import type { NodeMeta } from './file-write.js';
import type { FileJob, WorkerReply, WriteBatch, WriterInit, WorkerRequest } from './writer-protocol.js';

const BATCH_FILES = 256;
const BATCH_BYTES = 4 << 20;
const MAX_IN_FLIGHT_PER_WORKER = 3;

export interface PoolFailure {
  readonly path: string;
  readonly op: string;
  readonly errno: number;
}

interface Pending {
  files: FileJob[];
  buffer: Uint8Array;
  used: number;
}

export class WriterPool {
  private readonly workers: Worker[];
  private next = 0;
  private seq = 0;
  private inFlight = 0;
  private waiters: Array<() => void> = [];
  private pending: Pending | undefined;
  private failure: PoolFailure | undefined;
  generation = 0;

  constructor(count: number, init: WriterInit) {
    const url = new URL('./writer-worker.js', import.meta.url);
    this.workers = Array.from({ length: count }, () => {
      const w = new Worker(url, { workerData: init });
      w.on('message', (m: WorkerReply) => this.onReply(m));
      w.on('error', (e) => this.onReply({ kind: 'failed', seq: -1, path: '', op: `writer thread: ${e.message}`, errno: -5 }));
      return w;
    });
  }

  get failed(): PoolFailure | undefined {
    return this.failure;
  }

  private onReply(m: WorkerReply): void {
    if (m.kind === 'closed') return;
    if (m.kind === 'failed' && !this.failure) this.failure = { path: m.path, op: m.op, errno: m.errno };
    this.inFlight--;
    const ws = this.waiters;
    this.waiters = [];
    for (const w of ws) w();
  }

  /** Queues a small file; its bytes are copied now, so the caller may reuse its buffers. */
  add(parent: string, name: string, data: Uint8Array, meta: NodeMeta): void {
    let p = this.pending;
    if (p && p.used + data.length > p.buffer.length) {
      this.send();
      p = undefined;
    }
    if (!p) {
      p = { files: [], buffer: new Uint8Array(Math.max(BATCH_BYTES, data.length)), used: 0 };
      this.pending = p;
    }
    p.buffer.set(data, p.used);
    p.files.push({ parent, name, offset: p.used, length: data.length, meta });
    p.used += data.length;
    if (p.files.length >= BATCH_FILES || p.used >= BATCH_BYTES) this.send();
  }

  private send(): void {
    const p = this.pending;
    this.pending = undefined;
    if (!p || p.files.length === 0) return;
    const batch: WriteBatch = { kind: 'batch', seq: this.seq++, generation: this.generation, data: p.buffer.buffer as ArrayBuffer, files: p.files };
    const w = this.workers[this.next]!;
    this.next = (this.next + 1) % this.workers.length;
    this.inFlight++;
    w.postMessage(batch satisfies WorkerRequest, [batch.data]);
  }

  private waitReply(): Promise<void> {
    return new Promise((resolve) => this.waiters.push(resolve));
  }

  /** Back-pressure: keeps memory bounded when the disk is slower than the walk. */
  async waitForCapacity(): Promise<void> {
    while (this.inFlight >= MAX_IN_FLIGHT_PER_WORKER * this.workers.length) await this.waitReply();
  }

  /** Sends what is queued and waits until every file sent so far is written. */
  async drain(): Promise<PoolFailure | undefined> {
    this.send();
    while (this.inFlight > 0) await this.waitReply();
    return this.failure;
  }

  /** Drains, lets each worker close its fds, and ends the threads. */
  async close(): Promise<PoolFailure | undefined> {
    const failure = await this.drain();
    await Promise.all(
      this.workers.map(async (w) => {
        const closed = new Promise<void>((resolve) => {
          w.on('message', (m: WorkerReply) => m.kind === 'closed' && resolve());
          w.once('exit', () => resolve());
        });
        w.postMessage({ kind: 'close' } satisfies WorkerRequest);
        await closed;
        await w.terminate();
      }),
    );
    return failure;
  }
}
