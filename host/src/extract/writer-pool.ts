// Small files go to writer threads in batches; the batch's buffer is transferred, not cloned, and
// handed back for reuse. Two ways to fill it: a donated input chunk (a plain tar read straight
// into a pool buffer) is sent whole, with the offsets of its files, so file bytes are never
// copied in user space; otherwise (gzip output) the bytes are copied in. The main thread keeps
// walking the archive and creating directories, links and nodes meanwhile.
import { Worker } from 'node:worker_threads';
import type { NodeMeta } from './file-write.js';
import { NUMS_PER_FILE, type WorkerReply, type WriteBatch, type WriterInit, type WorkerRequest } from './writer-protocol.js';

const BATCH_FILES = 256;
/** Copy batches and donated chunks have one size, so every returned buffer can serve either. */
export const BATCH_BYTES = 4 << 20;
const MAX_IN_FLIGHT_PER_WORKER = 3;

export interface PoolFailure {
  readonly path: string;
  readonly op: string;
  readonly errno: number;
}

interface Pending {
  /** The donated chunk's buffer, referenced in place, or a buffer the bytes are copied into. */
  readonly byRef: boolean;
  data: Uint8Array;
  nums: Float64Array;
  paths: string[];
  xattrs: Array<readonly [number, NodeMeta['xattrs']]>;
  used: number;
}

function grow(nums: Float64Array): Float64Array {
  const bigger = new Float64Array(nums.length * 2);
  bigger.set(nums);
  return bigger;
}

export class WriterPool {
  private readonly workers: Worker[];
  private next = 0;
  private seq = 0;
  private inFlight = 0;
  private waiters: Array<() => void> = [];
  private pending: Pending | undefined;
  private failure: PoolFailure | undefined;
  /** Buffers returned by the workers, reused so no batch allocates or zero-fills. */
  private spareData: ArrayBuffer[] = [];
  private spareNums: Float64Array[] = [];
  private donated: ArrayBuffer | undefined;
  /** Buffers handed out by takeBuffer: only those may be donated (transferring detaches them). */
  private readonly lent = new WeakSet<ArrayBuffer>();
  private crashed = false;
  private closing = false;
  generation = 0;

  constructor(count: number, init: WriterInit) {
    const url = new URL('./writer-worker.js', import.meta.url);
    this.workers = Array.from({ length: count }, () => {
      const w = new Worker(url, { workerData: init });
      w.on('message', (m: WorkerReply) => this.onReply(m));
      w.on('error', (e) => this.onCrash(`writer thread failed: ${e.message}`));
      w.on('exit', () => this.closing || this.onCrash('writer thread exited'));
      return w;
    });
  }

  get failed(): PoolFailure | undefined {
    return this.failure;
  }

  /** A thread died: its batches will never be answered, so stop waiting for any. */
  private onCrash(op: string): void {
    this.failure ??= { path: '', op, errno: -5 };
    this.crashed = true;
    this.wakeWaiters();
  }

  private wakeWaiters(): void {
    const ws = this.waiters;
    this.waiters = [];
    for (const w of ws) w();
  }

  private onReply(m: WorkerReply): void {
    if (m.kind === 'closed') return;
    if (m.kind === 'failed' && !this.failure) this.failure = { path: m.path, op: m.op, errno: m.errno };
    if (m.kind === 'done') {
      // A mid-chunk copy of a donated chunk is smaller than BATCH_BYTES: let it go.
      if (m.data.byteLength === BATCH_BYTES) this.spareData.push(m.data);
      this.spareNums.push(m.nums);
    }
    this.inFlight--;
    this.wakeWaiters();
  }

  /** A buffer for the next input chunk: one the workers gave back, or a new one. */
  takeBuffer(): ArrayBuffer {
    const b = this.spareData.pop() ?? new ArrayBuffer(BATCH_BYTES);
    this.lent.add(b);
    return b;
  }

  /** If the chunk about to be walked lives in a buffer from takeBuffer, its files go by reference. */
  beginChunk(buffer: ArrayBuffer): void {
    this.send();
    if (this.lent.delete(buffer)) this.donated = buffer;
  }

  /** The chunk is done: send it with its files, or take its buffer back if none went to the pool. */
  endChunk(): void {
    const buffer = this.donated;
    if (!buffer) return;
    this.donated = undefined;
    if (this.pending?.byRef) this.send();
    else this.spareData.push(buffer);
  }

  private newPending(byRef: boolean, minBytes: number): Pending {
    const data = byRef
      ? new Uint8Array(this.donated!)
      : new Uint8Array((minBytes <= BATCH_BYTES && this.spareData.pop()) || new ArrayBuffer(Math.max(BATCH_BYTES, minBytes)));
    const nums = this.spareNums.pop() ?? new Float64Array(BATCH_FILES * NUMS_PER_FILE);
    return { byRef, data, nums, paths: [], xattrs: [], used: 0 };
  }

  /** Queues a small file. Its bytes are referenced if they lie in the donated chunk, else copied now. */
  add(path: string, bytes: Uint8Array, meta: NodeMeta): void {
    const byRef = this.donated !== undefined && bytes.buffer === this.donated;
    let p = this.pending;
    if (p && (p.byRef !== byRef || (!byRef && p.used + bytes.length > p.data.length))) {
      this.send();
      p = undefined;
    }
    p ??= this.pending = this.newPending(byRef, bytes.length);
    const offset = byRef ? bytes.byteOffset : p.used;
    if (!byRef) {
      p.data.set(bytes, p.used);
      p.used += bytes.length;
    }
    const i = p.paths.length;
    const k = i * NUMS_PER_FILE;
    if (k + NUMS_PER_FILE > p.nums.length) p.nums = grow(p.nums);
    const n = p.nums;
    n[k] = offset; n[k + 1] = bytes.length; n[k + 2] = meta.mode; n[k + 3] = meta.uid;
    n[k + 4] = meta.gid; n[k + 5] = meta.mtimeSec; n[k + 6] = meta.mtimeNsec;
    p.paths.push(path);
    if (meta.xattrs.length > 0) p.xattrs.push([i, meta.xattrs]);
    if (!byRef && (p.paths.length >= BATCH_FILES || p.used >= BATCH_BYTES)) this.send();
  }

  private send(): void {
    const p = this.pending;
    this.pending = undefined;
    if (!p || p.paths.length === 0) return;
    // Sent before its chunk ends (a drain mid-chunk), a donated buffer is still being walked: copy it.
    const midChunk = p.byRef && this.donated !== undefined;
    const data = midChunk ? (p.data.buffer as ArrayBuffer).slice(0) : (p.data.buffer as ArrayBuffer);
    const batch: WriteBatch = {
      kind: 'batch', seq: this.seq++, generation: this.generation,
      data, nums: p.nums, paths: p.paths, xattrs: p.xattrs,
    };
    const w = this.workers[this.next]!;
    this.next = (this.next + 1) % this.workers.length;
    this.inFlight++;
    w.postMessage(batch satisfies WorkerRequest, [batch.data, batch.nums.buffer as ArrayBuffer]);
  }

  private waitReply(): Promise<void> {
    return new Promise((resolve) => this.waiters.push(resolve));
  }

  /** Back-pressure: keeps memory bounded when the disk is slower than the walk. */
  async waitForCapacity(): Promise<void> {
    while (!this.crashed && this.inFlight >= MAX_IN_FLIGHT_PER_WORKER * this.workers.length) await this.waitReply();
  }

  /** Sends what is queued and waits until every file sent so far is written. */
  async drain(): Promise<PoolFailure | undefined> {
    if (!this.crashed) this.send();
    while (!this.crashed && this.inFlight > 0) await this.waitReply();
    return this.failure;
  }

  /** Drains, lets each worker close its fds, and ends the threads. */
  async close(): Promise<PoolFailure | undefined> {
    const failure = await this.drain();
    this.closing = true;
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
