// Safe extraction of a tar stream (plain or gzip) into a new directory: one pass over the
// decompressed bytes feeds the optional digest and the WASM tar walker; entries go to the
// TreeWriter; limits stop bombs early; the tree appears at its final path only when complete.
import { closeSync, openSync, constants as fsConstants } from 'node:fs';
import { createHash, type Hash } from 'node:crypto';
import { ResultAsync, ok, err, type Result } from '../result.js';
import { describeErrno, ErrorCodes, tspodError, type TspodError } from '../errors.js';
import { TarWalker, tarWalkErrorToTspod, type TarEntry } from '../core/tar.js';
import { openArchive, type ArchiveInput } from './input.js';
import { withDefaults, RATIO_GRACE_BYTES, type ExtractLimits } from './limits.js';
import { commitTarget, discardTarget, stageTarget, type StagedTarget } from './target.js';
import { TreeWriter, type EntryFailure, type TreeCounts } from './tree-writer.js';

export interface ExtractOptions {
  readonly limits?: Partial<ExtractLimits>;
  /** Digest of the decompressed tar stream, computed in the same pass (e.g. an ACI's image ID). */
  readonly digest?: 'sha256' | 'sha512';
  /** Writer threads for small files; 0 writes everything on the calling thread. */
  readonly writers?: number;
}

export interface ExtractSummary extends TreeCounts {
  readonly entries: number;
  readonly bytes: number;
  readonly compression: 'none' | 'gzip';
  readonly digest?: string;
}

const EAGER_POOL_BYTES = 16 << 20;

interface RunState {
  entries: number;
  bytes: number;
  streamed: number;
}

export function extractArchive(archive: string, target: string, options: ExtractOptions = {}): ResultAsync<ExtractSummary, TspodError> {
  return new ResultAsync(extract(archive, target, options));
}

async function extract(archive: string, target: string, options: ExtractOptions): Promise<Result<ExtractSummary, TspodError>> {
  const walker = TarWalker.create();
  if (walker.isErr()) return err(walker.error);
  let input: ArchiveInput;
  try {
    input = await openArchive(archive);
  } catch (e) {
    return err(tspodError(ErrorCodes.IO, `read archive ${archive}`, describeErrno(e), 'check that the file exists and is readable', e));
  }
  const staged = stageTarget(target);
  if (staged.isErr()) {
    input.destroy();
    return err(staged.error);
  }
  const result = await extractStaged(archive, input, walker.value, staged.value, options);
  input.destroy();
  if (result.isErr()) {
    discardTarget(staged.value);
    return result;
  }
  return commitTarget(staged.value).map(() => result.value);
}

async function extractStaged(
  archive: string, input: ArchiveInput, walker: TarWalker, staged: StagedTarget, options: ExtractOptions,
): Promise<Result<ExtractSummary, TspodError>> {
  const rootFd = openSync(staged.temp, fsConstants.O_RDONLY | fsConstants.O_DIRECTORY);
  const writers = options.writers ?? 2;
  const tree = new TreeWriter(rootFd, staged.temp, writers);
  // Threads take tens of ms to boot: for a big input, boot them while the first entries go by.
  if (writers > 0 && (input.size ?? 0) >= EAGER_POOL_BYTES) tree.startPool();
  const source = tree.chunkBufferSource();
  if (source && input.useBuffers) input.useBuffers(source);
  const hash = options.digest ? createHash(options.digest) : undefined;
  const state: RunState = { entries: 0, bytes: 0, streamed: 0 };
  try {
    const run = await pump(archive, input, walker, tree, hash, withDefaults(options.limits), state);
    if (run.isErr()) return err(run.error);
    const fin = await tree.finish();
    if (fin) return err(entryError(archive, fin));
    const summary: ExtractSummary = { ...tree.counts, entries: state.entries, bytes: state.streamed, compression: input.compression };
    return ok(hash ? { ...summary, digest: hash.digest('hex') } : summary);
  } finally {
    await tree.close();
    closeSync(rootFd);
  }
}

async function pump(
  archive: string, input: ArchiveInput, walker: TarWalker, tree: TreeWriter, hash: Hash | undefined,
  limits: ExtractLimits, state: RunState,
): Promise<Result<void, TspodError>> {
  try {
    for await (const chunk of input.chunks) {
      hash?.update(chunk);
      const base = state.streamed;
      state.streamed += chunk.length;
      const bomb = checkRatio(archive, input, state, limits);
      if (bomb) return err(bomb);
      tree.beginChunk(chunk);
      const r = await feedChunk(archive, walker, tree, chunk, base, limits, state);
      tree.endChunk();
      if (r) return err(r);
      const slow = await tree.throttle();
      if (slow) return err(entryError(archive, slow));
    }
  } catch (e) {
    return err(readError(archive, input, e));
  }
  // A clean EOF between entries without the zero blocks is accepted, as GNU tar accepts it.
  return walker.end({ allowMissingEndMarker: true }).mapErr((e) => tarWalkErrorToTspod(e, archive)).andThen(() =>
    tree.pendingBytes > 0 ? err(truncated(archive)) : ok(undefined));
}

async function feedChunk(
  archive: string, walker: TarWalker, tree: TreeWriter, chunk: Buffer, base: number, limits: ExtractLimits, state: RunState,
): Promise<TspodError | undefined> {
  // The file being streamed from an earlier chunk owns the first bytes of this one.
  const owed = Math.min(tree.pendingBytes, chunk.length);
  if (owed > 0) {
    const f = tree.continueFile(chunk.subarray(0, owed));
    if (f) return entryError(archive, f);
  }
  const entries = walker.feed(chunk);
  if (entries.isErr()) return tarWalkErrorToTspod(entries.error, archive);
  for (const e of entries.value) {
    const bad = checkEntry(archive, e, limits, state);
    if (bad) return bad;
    const start = e.dataOffset - base;
    const data = e.type === 'file' ? chunk.subarray(start, Math.min(chunk.length, start + e.size)) : chunk.subarray(0, 0);
    const f = await tree.add(e, data);
    if (f) return entryError(archive, f);
  }
  return undefined;
}

function checkEntry(archive: string, e: TarEntry, limits: ExtractLimits, state: RunState): TspodError | undefined {
  if (e.reject) {
    return tspodError(ErrorCodes.TAR_UNSAFE, `extract ${archive}`, `entry ${JSON.stringify(e.rawPath)} is refused: ${rejectText(e.reject)}`,
      'the archive is malformed or hostile; do not use it');
  }
  const limit = (why: string, flag: string): TspodError =>
    tspodError(ErrorCodes.TAR_LIMIT, `extract ${archive}`, why, `if the archive is trusted, raise the limit with ${flag}`);
  if (++state.entries > limits.maxEntries) return limit(`more than ${limits.maxEntries} entries`, '--max-entries');
  if (Buffer.byteLength(e.rawPath) > limits.maxPathLength) {
    return limit(`entry path of ${Buffer.byteLength(e.rawPath)} bytes exceeds ${limits.maxPathLength}`, '--max-path');
  }
  state.bytes += e.size;
  if (state.bytes > limits.maxTotalBytes) return limit(`file data exceeds ${limits.maxTotalBytes} bytes`, '--max-bytes');
  return undefined;
}

function rejectText(reason: NonNullable<TarEntry['reject']>): string {
  switch (reason) {
    case 'nul': return 'its name contains a NUL byte';
    case 'dotdot': return 'its path leads outside the target through ..';
    case 'absolute': return 'its path is absolute';
    case 'empty': return 'its path is empty';
    case 'link-dotdot': return 'its hard link target leads outside the target through ..';
    case 'link-absolute': return 'its hard link target is absolute';
    default: return String(reason);
  }
}

function checkRatio(archive: string, input: ArchiveInput, state: RunState, limits: ExtractLimits): TspodError | undefined {
  if (input.compression === 'none' || state.streamed <= RATIO_GRACE_BYTES) return undefined;
  const ratio = state.streamed / Math.max(1, input.rawBytes());
  if (ratio <= limits.maxExpansionRatio) return undefined;
  return tspodError(ErrorCodes.TAR_LIMIT, `extract ${archive}`,
    `it expands ${ratio.toFixed(0)}x (more than ${limits.maxExpansionRatio}x): a decompression bomb?`,
    'if the archive is trusted, raise the limit with --max-ratio');
}

function entryError(archive: string, f: EntryFailure): TspodError {
  const code = f.kind === 'unsafe' ? ErrorCodes.TAR_UNSAFE : ErrorCodes.IO;
  const hint = f.kind === 'unsafe' ? 'the archive is malformed or hostile; do not use it' : 'check free space and permissions on the target filesystem';
  return tspodError(code, `extract ${archive}`, `entry ${JSON.stringify(f.path)}: ${f.why}`, hint);
}

function truncated(archive: string): TspodError {
  return tspodError(ErrorCodes.TAR_CORRUPT, `extract ${archive}`, 'the archive ends in the middle of a file', 'the archive is truncated; fetch it again');
}

function readError(archive: string, input: ArchiveInput, e: unknown): TspodError {
  const code = (e as NodeJS.ErrnoException).code ?? '';
  if (input.compression === 'gzip' && code.startsWith('Z_')) {
    return tspodError(ErrorCodes.DECOMPRESS, `extract ${archive}`, `gzip data is damaged (${(e as Error).message})`, 'the archive is corrupt or truncated; fetch it again', e);
  }
  return tspodError(ErrorCodes.IO, `read archive ${archive}`, describeErrno(e), 'check that the file is readable', e);
}
