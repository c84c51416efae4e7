// Rendering an image with its appc dependencies: each dependency depth-first and in order, the
// image last, every layer extracted over the ones before it (A→[B,C], C→[D] gives B, D, C, A),
// then the image's pathWhitelist applied. The same safe extractor writes every layer.
import { lstatSync, readdirSync, rmdirSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { ok, err, type Result } from '../result.js';
import { ErrorCodes, tspodError, type TspodError } from '../errors.js';
import { extractOver } from '../extract/extract.js';
import type { Dependency, ImageManifest } from '../appc/manifest.js';
import { aciLayout } from './aci-route.js';
import { ociBlobPath } from './layout.js';
import type { ImageRecord, ImageStore } from './images.js';

const MAX_DEPTH = 16;

export function manifestOf(r: ImageRecord): ImageManifest {
  return JSON.parse(Buffer.from(r.manifest).toString('utf8')) as ImageManifest;
}

function labelsMatch(r: ImageRecord, want: Dependency['labels']): boolean {
  return (want ?? []).every((l) => r.labels[l.name] === l.value);
}

/** The stored image a dependency names: by image ID when given, else by name and labels. */
export async function findDependency(store: ImageStore, dep: Dependency, of: string): Promise<Result<ImageRecord, TspodError>> {
  if (dep.imageID) return store.resolve(dep.imageID);
  const all = await store.list();
  if (all.isErr()) return err(all.error);
  const found = all.value.filter((r) => r.name === dep.imageName && labelsMatch(r, dep.labels)).sort((a, b) => b.importedAt - a.importedAt);
  if (found[0]) return ok(found[0]);
  return err(tspodError(ErrorCodes.NOT_FOUND, `render ${of}`, `its dependency ${dep.imageName} is not in the store`,
    `fetch it: tspod fetch ${dep.imageName}${dep.labels?.find((l) => l.name === 'version') ? `:${dep.labels.find((l) => l.name === 'version')!.value}` : ''}`));
}

/** The layers of an image in render order, the image itself last. */
export async function renderChain(store: ImageStore, image: ImageRecord, depth = 0, seen = new Set<string>()): Promise<Result<ImageRecord[], TspodError>> {
  if (depth > MAX_DEPTH || seen.has(image.id)) {
    return err(tspodError(ErrorCodes.MANIFEST_INVALID, `render ${image.name}`, 'its dependencies form a cycle or nest too deep', 'fix the image manifests'));
  }
  seen.add(image.id);
  const chain: ImageRecord[] = [];
  for (const dep of manifestOf(image).dependencies ?? []) {
    const found = await findDependency(store, dep, image.name);
    if (found.isErr()) return err(found.error);
    const sub = await renderChain(store, found.value, depth + 1, seen);
    if (sub.isErr()) return err(sub.error);
    chain.push(...sub.value);
  }
  chain.push(image);
  return ok(chain);
}

/** Extracts the chain's layers over each other into `rootfs` (an empty, existing directory). */
export async function renderLayers(store: ImageStore, chain: readonly ImageRecord[], rootfs: string): Promise<Result<void, TspodError>> {
  for (const layer of chain) {
    const r = await extractOver(store.blobOf(layer), rootfs, { route: aciLayout().route });
    if (r.isErr()) return err(r.error);
  }
  const whitelist = manifestOf(chain[chain.length - 1]!).pathWhitelist ?? [];
  if (whitelist.length > 0) applyWhitelist(rootfs, whitelist);
  return ok(undefined);
}

/** Keeps only whitelisted paths and the directories leading to them (appc pathWhitelist). */
function applyWhitelist(rootfs: string, whitelist: readonly string[]): void {
  const keep = new Set(whitelist.map((p) => p.replace(/^\/+/, '').replace(/\/+$/, '')));
  const ancestors = new Set<string>();
  for (const p of keep) for (let i = p.indexOf('/'); i > 0; i = p.indexOf('/', i + 1)) ancestors.add(p.slice(0, i));
  const prune = (rel: string): void => {
    for (const name of readdirSync(join(rootfs, rel))) {
      const child = rel ? `${rel}/${name}` : name;
      if (keep.has(child)) continue;
      const full = join(rootfs, child);
      if (lstatSync(full).isDirectory() && ancestors.has(child)) prune(child);
      else if (lstatSync(full).isDirectory()) rmSync(full, { recursive: true, force: true });
      else rmSync(full, { force: true });
    }
    if (rel && !ancestors.has(rel) && !keep.has(rel) && readdirSync(join(rootfs, rel)).length === 0) rmdirSync(join(rootfs, rel));
  };
  prune('');
}

/** A Docker/OCI image: its layers applied in order over `rootfs`, whiteouts and DiffIDs checked. */
export async function renderOciLayers(store: ImageStore, image: ImageRecord, rootfs: string): Promise<Result<void, TspodError>> {
  const { applyLayer } = await import('../oci/layer.js');
  for (const l of image.layers ?? []) {
    const r = await applyLayer(ociBlobPath(store.paths, l.digest), rootfs, { diffId: l.diffId, mediaType: l.mediaType });
    if (r.isErr()) return err(r.error);
  }
  return ok(undefined);
}
