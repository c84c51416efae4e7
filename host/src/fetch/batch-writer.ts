// Writes a download's batches to its .part on libuv's threadpool, about a MiB per writev(2), one
// write in flight at a time: the copy into the page cache then overlaps the next TLS reads on the
// main thread instead of stalling them (measured: a 60 MB layer spent 40% of its body time in
// synchronous writes). Order is kept because a write is issued only after the previous one ended.
import type { FileHandle } from 'node:fs/promises';

export const FLUSH_BYTES = 1 << 20;
/**
 * How long queued bytes may wait for more when the network pauses. Not zero: under load the
 * queue empties after nearly every batch, and writing each then undoes the batching (measured 1.5x
 * slower); a stalled connection still gets its bytes onto the disk within this time.
 */
export const IDLE_FLUSH_MS = 50;

export class BatchWriter {
  private pending: Buffer[] = [];
  private pendingBytes = 0;
  /** The writes issued so far, chained: each starts when the one before it has ended. */
  private tail: Promise<void> = Promise.resolve();
  private failure: { error: unknown } | undefined;
  private idleTimer: NodeJS.Timeout | undefined;
  /** Bytes of the file known written (the kernel has them), from its start. */
  private writtenTo: number;

  constructor(
    private readonly fh: FileHandle,
    position: number,
  ) {
    this.writtenTo = position;
  }

  get written(): number {
    return this.writtenTo;
  }

  /**
   * Queues a batch. At a MiB queued it waits for the write before (so at most one MiB is in
   * flight and one queued) and issues the next. Throws an earlier write's failure.
   */
  async add(batch: readonly Buffer[]): Promise<void> {
    this.throwIfFailed();
    for (const b of batch) {
      this.pending.push(b);
      this.pendingBytes += b.length;
    }
    if (this.pendingBytes < FLUSH_BYTES) return;
    await this.tail;
    this.throwIfFailed();
    this.issue();
  }

  /** The network is idle: what is queued is written soon even if no MiB follows. */
  idle(): void {
    this.idleTimer ??= setTimeout(() => {
      this.idleTimer = undefined;
      this.issue();
    }, IDLE_FLUSH_MS).unref();
  }

  /** Writes everything queued and waits for it: afterwards `written` counts every byte added. */
  async drain(): Promise<void> {
    clearTimeout(this.idleTimer);
    this.idleTimer = undefined;
    this.issue();
    await this.tail;
    this.throwIfFailed();
  }

  private issue(): void {
    if (this.pendingBytes === 0) return;
    const buffers = this.pending;
    const bytes = this.pendingBytes;
    this.pending = [];
    this.pendingBytes = 0;
    // Failures are kept, never left as an unhandled rejection: add/drain throw them.
    this.tail = this.tail.then(async () => {
      if (this.failure) return;
      const at = this.writtenTo;
      try {
        await writeAllAt(this.fh, buffers, at);
        this.writtenTo = at + bytes;
      } catch (error) {
        this.failure = { error };
      }
    });
  }

  private throwIfFailed(): void {
    if (this.failure) throw this.failure.error;
  }
}
async function writeAllAt(fh: FileHandle, buffers: Buffer[], position: number): Promise<void> {
  let rest = buffers;
  let at = position;
  while (rest.length > 0) {
    const { bytesWritten } = await fh.writev(rest, at);
    // A regular file writes everything or fails; a short write is retried, a zero one is a full disk.
    if (bytesWritten === 0) throw Object.assign(new Error('no space left on device'), { code: 'ENOSPC' });
    at += bytesWritten;
    rest = afterBytes(rest, bytesWritten);
  }
}

function afterBytes(buffers: Buffer[], n: number): Buffer[] {
  let i = 0;
  while (i < buffers.length && n >= buffers[i]!.length) n -= buffers[i++]!.length;
  return i < buffers.length ? [buffers[i]!.subarray(n), ...buffers.slice(i + 1)] : [];
}
