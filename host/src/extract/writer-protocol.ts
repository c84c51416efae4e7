// Messages between the extractor (main thread) and its writer workers, defined once for both sides.
// A batch is cheap to post: file bytes in one transferred buffer, numbers in one transferred
// Float64Array, paths as strings; buffers come back with the reply to be reused.
import type { NodeMeta, OwnerPolicy } from './file-write.js';

export interface WriterInit {
  readonly rootFd: number;
  readonly policy: OwnerPolicy;
}

/** Per file in `nums`: offset, length, mode, uid, gid, mtimeSec, mtimeNsec. */
export const NUMS_PER_FILE = 7;

export interface WriteBatch {
  readonly kind: 'batch';
  readonly seq: number;
  /** Bumped by the main thread after it removed anything: cached directory fds may be stale. */
  readonly generation: number;
  readonly data: ArrayBuffer;
  readonly nums: Float64Array;
  /** Relative paths; each parent directory exists when the batch is sent. */
  readonly paths: readonly string[];
  /** xattrs of the few files that have them, by index in the batch. */
  readonly xattrs: ReadonlyArray<readonly [number, NodeMeta['xattrs']]>;
}

/** Sent last: the worker closes its cached directory fds (fds are process-wide) and says 'closed'. */
export interface CloseRequest {
  readonly kind: 'close';
}

export type WorkerRequest = WriteBatch | CloseRequest;

export type WorkerReply =
  | { readonly kind: 'done'; readonly seq: number; readonly data: ArrayBuffer; readonly nums: Float64Array }
  | { readonly kind: 'closed' }
  | { readonly kind: 'failed'; readonly seq: number; readonly path: string; readonly op: string; readonly errno: number };
