// Safe extraction of a tar stream (plain or gzip) into a new directory: one pass over the
// decompressed bytes feeds the optional digest and the WASM tar walker; entries go to the
// TreeWriter; limits stop bombs early; the tree appears at its final path only when complete.
import { closeSync, openSync, constants as fsConstants } from 'node:fs';
import { createHash, type Hash } from 'node:crypto';
import { ResultAsync, ok, err, type Result } from '../result.js';
import { describeErrno, ErrorCodes, tspodError, type TspodError } from '../errors.js';
import { TarWalker, tarWalkErrorToTspod, type TarEntry } from '../core/tar.js';
import { openArchive, type ArchiveInput, type Compression } from './input.js';
import { withDefaults, RATIO_GRACE_BYTES, type ExtractLimits } from './limits.js';
import { commitTarget, discardTarget, stageTarget } from './target.js';
import { TreeWriter, type EntryFailure, type TreeCounts } from './tree-writer.js';
import type { NodeMeta } from './file-write.js';

/** What to do with one entry: write it (maybe renamed), keep its bytes, skip it, or fail. */
export type EntryRoute =
  | { readonly kind: 'write'; readonly entry: TarEntry }
  | { readonly kind: 'capture' }
  | { readonly kind: 'skip' }
  | { readonly kind: 'refuse'; readonly why: string }
  /** An OCI whiteout: remove what earlier layers put at path (opaque: inside the directory path). */
  | { readonly kind: 'whiteout'; readonly path: string; readonly opaque: boolean }
  /** An extended attribute on a directory (made if missing), e.g. overlayfs' opaque marker. */
  | { readonly kind: 'dir-xattr'; readonly path: string; readonly name: string; readonly value: Uint8Array };

/** Captured files (e.g. an ACI's manifest) are small by nature; bigger ones are refused. */
export const MAX_CAPTURE_BYTES = 1 << 20;

export interface ExtractOptions {
  readonly limits?: Partial<ExtractLimits>;
  /** Routes each entry; by default every entry is written as it is. */
  readonly route?: (e: TarEntry) => EntryRoute;
  /** Digest of the decompressed tar stream, computed in the same pass (e.g. an ACI's image ID). */
  readonly digest?: 'sha256' | 'sha512';
  /** Writer threads for small files; 0 writes everything on the calling thread. */
  readonly writers?: number;
  /** Metadata for directories the archive needs but does not list, and for the root (TreeWriter). */
  readonly implicitDirMeta?: (rel: string) => NodeMeta | undefined;
}

export interface ExtractSummary extends TreeCounts {
  readonly entries: number;
  readonly bytes: number;
  readonly compression: Compression;
  readonly digest?: string;
  /** Bytes of the entries routed to 'capture', by path. */
  readonly captured: ReadonlyMap<string, Buffer>;
}

const EAGER_POOL_BYTES = 16 << 20;

interface Capture {
  readonly path: string;
  readonly parts: Buffer[];
  remaining: number;
}

interface RunState {
  entries: number;
  bytes: number;
  streamed: number;
  capture: Capture | undefined;
  readonly captured: Map<string, Buffer>;
  readonly route: ((e: TarEntry) => EntryRoute) | undefined;
}

const NO_COUNTS: TreeCounts = { files: 0, dirs: 0, symlinks: 0, hardlinks: 0, nodes: 0 };

export function extractArchive(archive: string, target: string, options: ExtractOptions = {}): ResultAsync<ExtractSummary, TspodError> {
  return new ResultAsync(extract(archive, target, options));
}

/** The same pass with nothing written: walk, check, hash and capture (e.g. an unprivileged fetch). */
export function scanArchive(archive: string, options: ExtractOptions = {}): ResultAsync<ExtractSummary, TspodError> {
  return new ResultAsync(scan(archive, options));
}

async function scan(archive: string, options: ExtractOptions): Promise<Result<ExtractSummary, TspodError>> {
  const walker = TarWalker.create();
  if (walker.isErr()) return err(walker.error);
  const input = await openInput(archive);
  if (input.isErr()) return err(input.error);
  const hash = options.digest ? createHash(options.digest) : undefined;
  const state = newState(options);
  try {
    const run = await pump(archive, input.value, walker.value, undefined, hash, withDefaults(options.limits), state);
    return run.map(() => summarize(NO_COUNTS, state, input.value, hash));
  } finally {
    input.value.destroy();
  }
}

function newState(options: ExtractOptions): RunState {
  return { entries: 0, bytes: 0, streamed: 0, capture: undefined, captured: new Map(), route: options.route };
}

function summarize(counts: TreeCounts, state: RunState, input: ArchiveInput, hash: Hash | undefined): ExtractSummary {
  const summary: ExtractSummary = { ...counts, entries: state.entries, bytes: state.streamed, compression: input.compression, captured: state.captured };
  return hash ? { ...summary, digest: hash.digest('hex') } : summary;
}

async function openInput(archive: string): Promise<Result<ArchiveInput, TspodError>> {
  try {
    return ok(await openArchive(archive));
  } catch (e) {
    return err(tspodError(ErrorCodes.IO, `read archive ${archive}`, describeErrno(e), 'check that the file exists and is readable', e));
  }
}

async function extract(archive: string, target: string, options: ExtractOptions): Promise<Result<ExtractSummary, TspodError>> {
  const walker = TarWalker.create();
  if (walker.isErr()) return err(walker.error);
  const opened = await openInput(archive);
  if (opened.isErr()) return err(opened.error);
  const input = opened.value;
  const staged = stageTarget(target);
  if (staged.isErr()) {
    input.destroy();
    return err(staged.error);
  }
  const result = await extractInto(archive, input, walker.value, staged.value.temp, false, options);
  input.destroy();
  if (result.isErr()) {
    discardTarget(staged.value);
    return result;
  }
  return commitTarget(staged.value).map(() => result.value);
}

/**
 * Extracts over a tree that is already there (an earlier layer), replacing its nodes entry by entry
 * with the same safety. The caller owns the directory and its atomicity (e.g. a store temp dir).
 */
export function extractOver(archive: string, dir: string, options: ExtractOptions = {}): ResultAsync<ExtractSummary, TspodError> {
  return new ResultAsync((async (): Promise<Result<ExtractSummary, TspodError>> => {
    const walker = TarWalker.create();
    if (walker.isErr()) return err(walker.error);
    const opened = await openInput(archive);
    if (opened.isErr()) return err(opened.error);
    try {
      return await extractInto(archive, opened.value, walker.value, dir, true, options);
    } finally {
      opened.value.destroy();
    }
  })());
}

async function extractInto(
  archive: string, input: ArchiveInput, walker: TarWalker, root: string, overlay: boolean, options: ExtractOptions,
): Promise<Result<ExtractSummary, TspodError>> {
  const rootFd = openSync(root, fsConstants.O_RDONLY | fsConstants.O_DIRECTORY);
  const writers = options.writers ?? 2;
  const tree = new TreeWriter(rootFd, root, writers, overlay, options.implicitDirMeta);
  // Threads take tens of ms to boot: for a big input, boot them while the first entries go by.
  if (writers > 0 && (input.size ?? 0) >= EAGER_POOL_BYTES) tree.startPool();
  const source = tree.chunkBufferSource();
  if (source && input.useBuffers) input.useBuffers(source);
  const hash = options.digest ? createHash(options.digest) : undefined;
  const state = newState(options);
  try {
    const run = await pump(archive, input, walker, tree, hash, withDefaults(options.limits), state);
    if (run.isErr()) return err(run.error);
    const fin = await tree.finish();
    if (fin) return err(entryError(archive, fin));
    return ok(summarize(tree.counts, state, input, hash));
  } finally {
    await tree.close();
    closeSync(rootFd);
  }
}

async function pump(
  archive: string, input: ArchiveInput, walker: TarWalker, tree: TreeWriter | undefined, hash: Hash | undefined,
  limits: ExtractLimits, state: RunState,
): Promise<Result<void, TspodError>> {
  try {
    for await (const chunk of input.chunks) {
      hash?.update(chunk);
      const base = state.streamed;
      state.streamed += chunk.length;
      const bomb = checkRatio(archive, input, state, limits);
      if (bomb) return err(bomb);
      tree?.beginChunk(chunk);
      const r = await feedChunk(archive, walker, tree, chunk, base, limits, state);
      tree?.endChunk();
      if (r) return err(r);
      const slow = await tree?.throttle();
      if (slow) return err(entryError(archive, slow));
    }
  } catch (e) {
    return err(readError(archive, input, e));
  }
  // A clean EOF between entries without the zero blocks is accepted, as GNU tar accepts it.
  return walker.end({ allowMissingEndMarker: true }).mapErr((e) => tarWalkErrorToTspod(e, archive)).andThen(() =>
    (tree?.pendingBytes ?? 0) > 0 || state.capture ? err(truncated(archive)) : ok(undefined));
}

/** The entry still owed bytes from an earlier chunk gets the first bytes of this one. */
function payOwed(archive: string, tree: TreeWriter | undefined, chunk: Buffer, state: RunState): TspodError | undefined {
  const c = state.capture;
  if (c) {
    const take = Math.min(c.remaining, chunk.length);
    c.parts.push(Buffer.from(chunk.subarray(0, take)));
    c.remaining -= take;
    if (c.remaining === 0) finishCapture(state);
    return undefined;
  }
  const owed = Math.min(tree?.pendingBytes ?? 0, chunk.length);
  const f = owed > 0 ? tree!.continueFile(chunk.subarray(0, owed)) : undefined;
  return f ? entryError(archive, f) : undefined;
}

function finishCapture(state: RunState): void {
  const c = state.capture!;
  state.captured.set(c.path, Buffer.concat(c.parts));
  state.capture = undefined;
}

function startCapture(archive: string, e: TarEntry, data: Uint8Array, state: RunState): TspodError | undefined {
  if (e.type !== 'file' || e.size > MAX_CAPTURE_BYTES) {
    return tspodError(ErrorCodes.TAR_LIMIT, `read ${archive}`, `entry ${JSON.stringify(e.rawPath)} must be a file of at most ${MAX_CAPTURE_BYTES} bytes`,
      'the archive is malformed; rebuild it');
  }
  // Copied: the chunk's buffer is reused or handed to a writer thread after this chunk.
  state.capture = { path: e.path, parts: [Buffer.from(data)], remaining: e.size - data.length };
  if (state.capture.remaining === 0) finishCapture(state);
  return undefined;
}

async function feedChunk(
  archive: string, walker: TarWalker, tree: TreeWriter | undefined, chunk: Buffer, base: number, limits: ExtractLimits, state: RunState,
): Promise<TspodError | undefined> {
  const owedFail = payOwed(archive, tree, chunk, state);
  if (owedFail) return owedFail;
  const entries = walker.feed(chunk);
  if (entries.isErr()) return tarWalkErrorToTspod(entries.error, archive);
  for (const e of entries.value) {
    const bad = checkEntry(archive, e, limits, state);
    if (bad) return bad;
    const start = e.dataOffset - base;
    const data = e.type === 'file' ? chunk.subarray(start, Math.min(chunk.length, start + e.size)) : chunk.subarray(0, 0);
    const route: EntryRoute = state.route ? state.route(e) : { kind: 'write', entry: e };
    if (route.kind === 'refuse') {
      return tspodError(ErrorCodes.TAR_UNSAFE, `read ${archive}`, `entry ${JSON.stringify(e.rawPath)}: ${route.why}`, 'the archive is malformed; rebuild it');
    }
    if (route.kind === 'capture') {
      const c = startCapture(archive, e, data, state);
      if (c) return c;
      continue;
    }
    if (route.kind === 'skip' || !tree) continue;
    if (route.kind === 'whiteout') {
      const w = await tree.whiteout(route.path, route.opaque, e.path);
      if (w) return entryError(archive, w);
      continue;
    }
    if (route.kind === 'dir-xattr') {
      const x = tree.setDirXattr(route.path, route.name, route.value, e.path);
      if (x) return entryError(archive, x);
      continue;
    }
    const f = await tree.add(route.entry, data);
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
  if (input.compression !== 'none' && code.startsWith('Z_')) {
    return tspodError(ErrorCodes.DECOMPRESS, `extract ${archive}`, `${input.compression} data is damaged (${(e as Error).message})`,
      'the archive is corrupt or truncated; fetch it again', e);
  }
  return tspodError(ErrorCodes.IO, `read archive ${archive}`, describeErrno(e), 'check that the file is readable', e);
}
