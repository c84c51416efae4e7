// A writer thread: creates the small files of each batch with sync fs calls. Sync calls on a
// thread of their own overlap Node's per-call overhead with kernel time (one fs.promises call
// per file was measured 4-5x slower).
import { parentPort, workerData } from 'node:worker_threads';
import { DirResolver, splitParent } from './dir-resolver.js';
import { writeWholeFile, type NodeMeta } from './file-write.js';
import { NUMS_PER_FILE, type WorkerReply, type WorkerRequest, type WriteBatch, type WriterInit } from './writer-protocol.js';

const init = workerData as WriterInit;
let resolver = new DirResolver(init.rootFd);
let generation = 0;
const NO_XATTRS: NodeMeta['xattrs'] = [];

function runBatch(batch: WriteBatch): WorkerReply {
  if (batch.generation !== generation) {
    resolver.close();
    resolver = new DirResolver(init.rootFd);
    generation = batch.generation;
  }
  const bytes = new Uint8Array(batch.data);
  const n = batch.nums;
  const xattrs = new Map(batch.xattrs);
  for (let i = 0; i < batch.paths.length; i++) {
    const path = batch.paths[i]!;
    const [parent, name] = splitParent(path);
    const dirFd = resolver.open(parent);
    if (dirFd < 0) return { kind: 'failed', seq: batch.seq, path, op: 'open parent', errno: dirFd };
    const k = i * NUMS_PER_FILE;
    const data = bytes.subarray(n[k]!, n[k]! + n[k + 1]!);
    const meta: NodeMeta = {
      mode: n[k + 2]!, uid: n[k + 3]!, gid: n[k + 4]!, mtimeSec: n[k + 5]!, mtimeNsec: n[k + 6]!,
      xattrs: xattrs.get(i) ?? NO_XATTRS,
    };
    const failure = writeWholeFile(dirFd, name, data, meta, init.policy);
    if (failure) return { kind: 'failed', seq: batch.seq, path, ...failure };
  }
  return { kind: 'done', seq: batch.seq, data: batch.data, nums: batch.nums };
}

parentPort!.on('message', (msg: WorkerRequest) => {
  if (msg.kind === 'close') {
    resolver.close();
    parentPort!.postMessage({ kind: 'closed' } satisfies WorkerReply);
    return;
  }
  const reply = runBatch(msg);
  parentPort!.postMessage(reply, reply.kind === 'done' ? [reply.data, reply.nums.buffer as ArrayBuffer] : []);
});
