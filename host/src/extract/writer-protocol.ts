// Messages between the extractor (main thread) and its writer workers, defined once for both sides.
import type { NodeMeta, OwnerPolicy } from './file-write.js';

export interface WriterInit {
  readonly rootFd: number;
  readonly policy: OwnerPolicy;
}

export interface FileJob {
  /** Parent directory relative to the root ('.' for the root); it exists when the job is sent. */
  readonly parent: string;
  readonly name: string;
  /** Offset and length of the file's bytes in the batch buffer. */
  readonly offset: number;
  readonly length: number;
  readonly meta: NodeMeta;
}

export interface WriteBatch {
  readonly kind: 'batch';
  readonly seq: number;
  /** Bumped by the main thread after it removed anything: cached directory fds may be stale. */
  readonly generation: number;
  readonly data: ArrayBuffer;
  readonly files: readonly FileJob[];
}

/** Sent last: the worker closes its cached directory fds (fds are process-wide) and says 'closed'. */
export interface CloseRequest {
  readonly kind: 'close';
}

export type WorkerRequest = WriteBatch | CloseRequest;

export type WorkerReply =
  | { readonly kind: 'done'; readonly seq: number }
  | { readonly kind: 'closed' }
  | { readonly kind: 'failed'; readonly seq: number; readonly path: string; readonly op: string; readonly errno: number };
