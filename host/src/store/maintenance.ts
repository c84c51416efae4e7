// Keeping the store healthy without a daemon: gc (unused images, orphaned trees and blobs, stale
// temporary files) and fsck (every blob against its image ID, every record against its files).
import { existsSync, readdirSync, rmSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { ok, err, type Result } from '../result.js';
import type { TspodError } from '../errors.js';
import { scanArchive } from '../extract/extract.js';
import { blobPath, ociBlobPath, treePath } from './layout.js';
import { verifyBlobFile } from '../oci/digest.js';
import { listDir } from './records.js';
import type { ImageRecord, ImageStore } from './images.js';

export interface GcReport {
  readonly removedImages: string[];
  readonly removedTrees: string[];
  readonly removedBlobs: string[];
  readonly removedTemp: string[];
}

/** Temporary files younger than this may belong to a running import. */
const TEMP_GRACE_MS = 60 * 60 * 1000;

function ageMs(path: string, now: number): number {
  try {
    return now - statSync(path).mtimeMs;
  } catch {
    return 0;
  }
}

export async function gcStore(store: ImageStore, graceMs: number): Promise<Result<GcReport, TspodError>> {
  const images = await store.list();
  if (images.isErr()) return err(images.error);
  const now = Date.now();
  const report: GcReport = { removedImages: [], removedTrees: [], removedBlobs: [], removedTemp: [] };
  for (const image of images.value.filter((i) => now - i.lastUsed > graceMs)) {
    const r = await store.remove(image.id);
    if (r.isErr()) return err(r.error);
    report.removedImages.push(image.id);
  }
  const kept = images.value.filter((i) => !report.removedImages.includes(i.id));
  for (const o of orphans(store, kept)) {
    rmSync(o.path, { recursive: true, force: true });
    (o.kind === 'tree' ? report.removedTrees : report.removedBlobs).push(o.path);
  }
  for (const name of readdirSafe(store.paths.tmp)) {
    const p = join(store.paths.tmp, name);
    if (ageMs(p, now) > TEMP_GRACE_MS) {
      rmSync(p, { recursive: true, force: true });
      report.removedTemp.push(p);
    }
  }
  return ok(report);
}

function readdirSafe(dir: string): string[] {
  try {
    return readdirSync(dir);
  } catch {
    return [];
  }
}

interface Orphan {
  readonly kind: 'tree' | 'blob';
  readonly path: string;
}

/** Trees and blobs no record points at: left by a crash between placing them and the record. */
export function orphans(store: ImageStore, records: readonly ImageRecord[]): Orphan[] {
  const ids = new Set(records.map((r) => r.id));
  const referenced = new Set(records.flatMap((r) => store.blobsOf(r)));
  const out: Orphan[] = [];
  for (const t of listDir(store.paths.trees)) {
    if (t !== 'layers' && !ids.has(t)) out.push({ kind: 'tree', path: join(store.paths.trees, t) });
  }
  // Layer dirs are shared by chain ID: one is an orphan when no image has that chain.
  const layerDirs = new Set(records.flatMap((r) => store.layerDirs(r)));
  for (const d of listDir(join(store.paths.trees, 'layers'))) {
    const path = join(store.paths.trees, 'layers', d);
    if (!layerDirs.has(path)) out.push({ kind: 'tree', path });
  }
  for (const dir of [store.paths.blobs, store.paths.ociBlobs]) {
    for (const fan of listDir(dir)) {
      for (const hex of listDir(join(dir, fan))) {
        const path = join(dir, fan, hex);
        if (!referenced.has(path)) out.push({ kind: 'blob', path });
      }
    }
  }
  return out;
}

export interface FsckProblem {
  readonly what: string;
  readonly path: string;
  /** What --repair does about it. */
  readonly repair: 'remove-image' | 'remove-path';
  readonly id?: string;
}

/** Re-hashes every blob and checks every record's files; nothing is changed. */
export async function fsckStore(store: ImageStore): Promise<Result<FsckProblem[], TspodError>> {
  const images = await store.list();
  if (images.isErr()) return err(images.error);
  const problems: FsckProblem[] = [];
  for (const image of images.value) problems.push(...(await checkImage(store, image)));
  for (const o of orphans(store, images.value)) {
    problems.push({ what: `${o.kind} without an image record`, path: o.path, repair: 'remove-path' });
  }
  return ok(problems);
}

async function checkImage(store: ImageStore, image: ImageRecord): Promise<FsckProblem[]> {
  const bad = (what: string, path: string): FsckProblem[] => [{ what, path, repair: 'remove-image', id: image.id }];
  if (image.kind === 'oci') {
    for (const digest of [image.configDigest!, ...image.layers!.map((l) => l.digest)]) {
      const path = ociBlobPath(store.paths, digest);
      const v = await verifyBlobFile(path, digest);
      if (v.isErr()) return bad(`image ${image.id}: blob ${digest.slice(0, 19)}...: ${v.error.why}`, path);
    }
    return [];
  }
  const blob = blobPath(store.paths, image.id);
  if (!existsSync(blob)) return bad(`image ${image.id}: its blob is missing`, blob);
  const scan = await scanArchive(blob, { digest: 'sha512' });
  if (scan.isErr()) return bad(`image ${image.id}: its blob cannot be read: ${scan.error.why}`, blob);
  if (`sha512-${scan.value.digest}` !== image.id) return bad(`image ${image.id}: its blob hashes to sha512-${scan.value.digest!.slice(0, 32)}...`, blob);
  const tree = treePath(store.paths, image.id);
  if (image.rendered && !existsSync(join(tree, 'rootfs'))) return bad(`image ${image.id}: its rendered tree is missing`, tree);
  return [];
}
