// The image store: ACIs kept as fetched (blobs keyed by image ID), a CBOR record per image, and
// rendered trees reused read-only. Import is one pass over the decompressed stream: SHA-512 (the
// image ID), the layout check, the manifest, and, as root, the rendered tree. Records are
// written last, so an image is visible only when its blob and tree are in place.
import { copyFile } from 'node:fs/promises';
import { mkdirSync, mkdtempSync, renameSync, rmSync, statSync, existsSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { ok, err, type Result } from '../result.js';
import { describeErrno, ErrorCodes, tspodError, type TspodError } from '../errors.js';
// The extractor (tar core, writer threads, koffi) is loaded when an ACI is read, not to pull an OCI image.
import type { extractArchive, ExtractSummary } from '../extract/extract.js';
import { parseImageManifest, type ImageManifest } from '../appc/manifest.js';
import { aciLayout } from './aci-route.js';
import { withLock } from './lock.js';
import { blobPath, chainIds, ensureStore, imageLockPath, imageRecordPath, layerDirPath, ociBlobPath, storePaths, treePath, type StorePaths } from './layout.js';
import type { StagedOciImage } from '../oci/sources.js';
import { appManifestOf } from '../oci/app.js';
import { listDir, readRecord, writeRecord, fsyncDir } from './records.js';

export interface Signer {
  readonly fingerprint: string;
  readonly userIds: readonly string[];
}

export interface ImageRecord {
  readonly id: string;
  readonly name: string;
  readonly labels: Readonly<Record<string, string>>;
  readonly importedAt: number;
  readonly lastUsed: number;
  /** Bytes of the blob as fetched (maybe compressed). */
  readonly size: number;
  readonly compression: ExtractSummary['compression'];
  /** The manifest exactly as in the ACI. */
  readonly manifest: Uint8Array;
  readonly source: string;
  readonly signers: readonly Signer[];
  /** Fetched without a version: preferred when a name is asked for without one. */
  readonly latest: boolean;
  /** Rendered tree (trees/<id>), absent until rendered by root. */
  readonly rendered: boolean;
  /** 'oci' for Docker/OCI images (absent for ACIs, the original kind). */
  readonly kind?: 'aci' | 'oci';
  /** Docker/OCI: layers in order, kept once by digest in blobs/sha256 and shared between images. */
  readonly layers?: ReadonlyArray<{ readonly digest: string; readonly mediaType: string; readonly size: number; readonly diffId: string }>;
  readonly configDigest?: string;
  readonly manifestDigest?: string;
}

export interface ImportOptions {
  readonly source: string;
  readonly signers?: readonly Signer[];
  readonly latest?: boolean;
  /** Render the tree in the same pass (root only: it restores owners and devices). */
  readonly render: boolean;
  /** Checked before the image becomes visible, e.g. that the signature is trusted for its name. */
  readonly accept?: (manifest: ImageManifest, id: string) => Promise<Result<readonly Signer[], TspodError>>;
}

interface Imported {
  readonly id: string;
  readonly manifest: ImageManifest;
  readonly manifestBytes: Buffer;
  readonly summary: ExtractSummary;
}

function labelsOf(m: ImageManifest): Record<string, string> {
  return Object.fromEntries((m.labels ?? []).map((l: { name: string; value: string }) => [l.name, l.value]));
}

export class ImageStore {
  private constructor(readonly paths: StorePaths) {}

  static open(dir: string): Result<ImageStore, TspodError> {
    const paths = storePaths(dir);
    return ensureStore(paths).map(() => new ImageStore(paths));
  }

  /** Runs fn while holding the store-wide shared lock (exclusive only for repair). */
  locked<T>(fn: () => Promise<Result<T, TspodError>>, mode: 'shared' | 'exclusive' = 'shared'): Promise<Result<T, TspodError>> {
    return withLock(this.paths.lock, mode, fn);
  }

  async list(): Promise<Result<ImageRecord[], TspodError>> {
    const out: ImageRecord[] = [];
    for (const name of listDir(this.paths.images).filter((n) => n.endsWith('.cbor'))) {
      const r = await readRecord<ImageRecord>(join(this.paths.images, name));
      if (r.isErr()) return err(r.error);
      if (r.value) out.push(r.value);
    }
    return ok(out.sort((a, b) => a.name.localeCompare(b.name) || a.importedAt - b.importedAt));
  }

  /** An image by ID prefix (`sha512-` + at least 2 hex) or by name[:version]; exactly one must match. */
  async resolve(ref: string): Promise<Result<ImageRecord, TspodError>> {
    const all = await this.list();
    if (all.isErr()) return err(all.error);
    const byId = ref.startsWith('sha512-') || ref.startsWith('sha256-');
    const matches = byId ? all.value.filter((i) => i.id.startsWith(ref)) : byName(all.value, ref);
    if (matches.length === 1) return ok(matches[0]!);
    const why = matches.length === 0 ? 'no image in the store matches it'
      : `${matches.length} images match it: ${matches.map((m) => m.id.slice(0, 19)).join(', ')}`;
    const hint = matches.length === 0 ? 'see `tspod image list`, or fetch it with `tspod fetch`' : 'give a longer image ID';
    return err(tspodError(ErrorCodes.NOT_FOUND, `find image ${ref}`, why, hint));
  }

  /** Imports the ACI file at `file`; returns its record (the existing one if already stored). */
  async importAci(file: string, opts: ImportOptions): Promise<Result<ImageRecord, TspodError>> {
    let work: string;
    try {
      work = mkdtempSync(join(this.paths.tmp, 'import-'));
    } catch (e) {
      return err(tspodError(ErrorCodes.PERMISSION, `import ${opts.source}`, `cannot write to ${this.paths.tmp} (${describeErrno(e)})`,
        'run as root or as a member of the tspod group'));
    }
    try {
      return await this.importInto(work, file, opts);
    } finally {
      rmSync(work, { recursive: true, force: true });
    }
  }

  private async importInto(work: string, file: string, opts: ImportOptions): Promise<Result<ImageRecord, TspodError>> {
    // The kernel copies the blob (copy_file_range) on a libuv thread while this thread imports.
    const blob = join(work, 'blob');
    const copying = copyFile(file, blob).then(() => undefined, (e: unknown) => e);
    const imported = await this.readAci(file, join(work, 'tree'), opts);
    const copyFailure = await copying;
    if (imported.isErr()) return err(imported.error);
    if (copyFailure) {
      return err(tspodError(ErrorCodes.IO, `import ${opts.source}`, `copying it into the store failed (${describeErrno(copyFailure)})`, 'check free space in the data directory'));
    }
    const signers = opts.accept ? await opts.accept(imported.value.manifest, imported.value.id) : ok(opts.signers ?? []);
    if (signers.isErr()) return err(signers.error);
    const record = this.recordFor(imported.value, blob, { ...opts, signers: signers.value });
    return withLock(imageLockPath(this.paths, record.id), 'exclusive', () => this.commit(record, blob, join(work, 'tree')));
  }

  private async readAci(file: string, tree: string, opts: ImportOptions): Promise<Result<Imported, TspodError>> {
    const layout = aciLayout();
    const options = { digest: 'sha512' as const, route: layout.route };
    const { scanArchive } = await import('../extract/extract.js');
    const pass = opts.render ? await this.renderPass(file, tree, options) : await scanArchive(file, options);
    if (pass.isErr()) return err(pass.error);
    const missing = layout.missing();
    if (missing) return err(tspodError(ErrorCodes.IMAGE_INVALID, `import ${opts.source}`, missing, 'an ACI holds exactly a manifest file and a rootfs directory'));
    const bytes = pass.value.captured.get('manifest')!;
    return parseImageManifest(bytes, opts.source).map((manifest) => ({
      id: `sha512-${pass.value.digest!}`, manifest, manifestBytes: bytes, summary: pass.value,
    }));
  }

  private async renderPass(file: string, tree: string, options: Parameters<typeof extractArchive>[2]): Promise<Result<ExtractSummary, TspodError>> {
    mkdirSync(tree);
    const { extractArchive } = await import('../extract/extract.js');
    return await extractArchive(file, join(tree, 'rootfs'), options);
  }

  private recordFor(i: Imported, blob: string, opts: ImportOptions): ImageRecord {
    const now = Date.now();
    return {
      id: i.id, name: i.manifest.name, labels: labelsOf(i.manifest), importedAt: now, lastUsed: now,
      size: statSync(blob).size, compression: i.summary.compression, manifest: i.manifestBytes,
      source: opts.source, signers: opts.signers ?? [], latest: opts.latest ?? false, rendered: opts.render,
    };
  }

  /** Blob, then tree, then the record that makes them visible; an existing image is kept as is. */
  private async commit(record: ImageRecord, blob: string, tree: string): Promise<Result<ImageRecord, TspodError>> {
    const existing = await readRecord<ImageRecord>(imageRecordPath(this.paths, record.id));
    if (existing.isErr()) return err(existing.error);
    const old = existing.value;
    try {
      placeIfMissing(blob, blobPath(this.paths, record.id));
      if (record.rendered) placeIfMissing(tree, treePath(this.paths, record.id));
    } catch (e) {
      return err(tspodError(ErrorCodes.IO, `store image ${record.id}`, describeErrno(e), 'check free space and permissions of the data directory', e));
    }
    const merged: ImageRecord = old
      ? { ...old, lastUsed: record.lastUsed, rendered: old.rendered || record.rendered, latest: old.latest || record.latest,
          signers: record.signers.length > 0 ? record.signers : old.signers }
      : record;
    return (await writeRecord(imageRecordPath(this.paths, record.id), merged)).map(() => merged);
  }

  /**
   * Removes an image: the record first (the image disappears at once), then its tree and the
   * blobs no other image shares (Docker/OCI layers are shared by digest).
   */
  async remove(id: string): Promise<Result<void, TspodError>> {
    const record = await readRecord<ImageRecord>(imageRecordPath(this.paths, id));
    if (record.isErr()) return err(record.error);
    return withLock(imageLockPath(this.paths, id), 'exclusive', async () => {
      try {
        rmSync(imageRecordPath(this.paths, id), { force: true });
        fsyncDir(this.paths.images);
        rmSync(treePath(this.paths, id), { recursive: true, force: true });
        const others = await this.list();
        const shared = new Set((others.isOk() ? others.value : []).flatMap((r) => this.blobsOf(r)));
        for (const blob of record.value ? this.blobsOf(record.value) : [blobPath(this.paths, id)]) {
          if (!shared.has(blob)) rmSync(blob, { force: true });
        }
        const sharedLayers = new Set((others.isOk() ? others.value : []).flatMap((r) => this.layerDirs(r)));
        for (const dir of record.value ? this.layerDirs(record.value) : []) {
          if (!sharedLayers.has(dir)) rmSync(dir, { recursive: true, force: true });
        }
        rmSync(imageLockPath(this.paths, id), { force: true });
        return ok(undefined);
      } catch (e) {
        return err(tspodError(ErrorCodes.IO, `remove image ${id}`, describeErrno(e), 'check permissions; `tspod fsck --repair` cleans leftovers'));
      }
    });
  }

  /** Stores a staged Docker/OCI image: blobs shared by digest, then the record (written last). */
  async importOci(staged: StagedOciImage, signers: readonly Signer[]): Promise<Result<ImageRecord, TspodError>> {
    const id = `sha256-${staged.configDigest.slice('sha256:'.length)}`;
    const app = Buffer.from(JSON.stringify(appManifestOf(staged.config, staged.name, staged.tag)));
    const now = Date.now();
    const record: ImageRecord = {
      id, name: staged.name, labels: staged.tag ? { version: staged.tag } : {}, importedAt: now, lastUsed: now,
      size: staged.layers.reduce((n, l) => n + l.size, 0), compression: 'none', manifest: app, source: staged.source,
      signers, latest: staged.tag === undefined || staged.tag === 'latest', rendered: false, kind: 'oci',
      layers: staged.layers.map(({ digest, mediaType, size, diffId }) => ({ digest, mediaType, size, diffId })),
      configDigest: staged.configDigest, ...(staged.manifestDigest && { manifestDigest: staged.manifestDigest }),
    };
    return withLock(imageLockPath(this.paths, id), 'exclusive', async () => {
      try {
        for (const [digest, path] of [[staged.configDigest, staged.configPath], ...staged.layers.map((l) => [l.digest, l.path])] as Array<[string, string]>) {
          await copyIfMissing(path, ociBlobPath(this.paths, digest), this.paths.tmp);
        }
      } catch (e) {
        return err(tspodError(ErrorCodes.IO, `store image ${staged.source}`, describeErrno(e), 'check free space and permissions of the data directory', e));
      }
      return (await writeRecord(imageRecordPath(this.paths, id), record)).map(() => record);
    });
  }

  /**
   * Renders each layer of a Docker/OCI image not rendered yet into its own lower dir (root only),
   * and marks the image rendered: an image that adds one layer to another renders one layer.
   */
  async renderLayerDirs(record: ImageRecord): Promise<Result<ImageRecord, TspodError>> {
    const { renderLayerDir } = await import('../oci/layer.js');
    mkdirSync(join(this.paths.trees, 'layers'), { recursive: true });
    const layers = record.layers ?? [];
    const dirs = this.layerDirs(record);
    for (const [i, l] of layers.entries()) {
      if (existsSync(dirs[i]!)) continue;
      const lowerDirs = dirs.slice(0, i).reverse();
      const r = await renderLayerDir(ociBlobPath(this.paths, l.digest), dirs[i]!, { diffId: l.diffId, mediaType: l.mediaType, lowerDirs });
      if (r.isErr()) return err(r.error);
    }
    const rendered: ImageRecord = { ...record, rendered: true };
    return withLock(imageLockPath(this.paths, record.id), 'exclusive', async () =>
      (await writeRecord(imageRecordPath(this.paths, record.id), rendered)).map(() => rendered));
  }

  /** The rendered layer dirs of a Docker/OCI image, bottom layer first (by chain ID). */
  layerDirs(record: ImageRecord): string[] {
    return chainIds((record.layers ?? []).map((l) => l.diffId)).map((c) => layerDirPath(this.paths, c));
  }

  /** overlayfs lowerdir order (top layer first) of a rendered Docker/OCI image. */
  lowerDirs(record: ImageRecord): string[] {
    return this.layerDirs(record).reverse();
  }

  /** The blob files an image's record points at. */
  blobsOf(record: ImageRecord): string[] {
    if (record.kind !== 'oci') return [blobPath(this.paths, record.id)];
    return [record.configDigest!, ...record.layers!.map((l) => l.digest)].map((d) => ociBlobPath(this.paths, d));
  }

  blobOf(record: ImageRecord): string {
    return blobPath(this.paths, record.id);
  }
}

function byName(images: ImageRecord[], ref: string): ImageRecord[] {
  const colon = ref.lastIndexOf(':');
  const [name, version] = colon > 0 ? [ref.slice(0, colon), ref.slice(colon + 1)] : [ref, undefined];
  const same = images.filter((i) => i.name === name && (version === undefined || i.labels['version'] === version));
  if (version !== undefined || same.length <= 1) return same;
  // No version asked: prefer the one fetched as latest, then the newest (as rkt).
  const latest = same.filter((i) => i.latest);
  const pool = latest.length > 0 ? latest : same;
  return [pool.reduce((a, b) => (b.importedAt > a.importedAt ? b : a))];
}

/**
 * Puts a blob into place unless an image already shares it: a file already in the store's tmp/
 * (a download) is renamed, anything else (a user's layout) copied via a temp file and renamed.
 */
async function copyIfMissing(from: string, to: string, tmp: string): Promise<void> {
  if (existsSync(to)) return;
  mkdirSync(dirname(to), { recursive: true });
  let part = from;
  if (!from.startsWith(`${tmp}/`)) {
    part = join(tmp, `blob-${process.pid}-${Date.now()}-${Math.random().toString(36).slice(2)}`);
    await copyFile(from, part);
  }
  renameSync(part, to);
  fsyncDir(dirname(to));
}

function placeIfMissing(from: string, to: string): void {
  if (existsSync(to)) return;
  mkdirSync(dirname(to), { recursive: true });
  renameSync(from, to);
  fsyncDir(dirname(to));
}
