// Where Docker/OCI images come from: an OCI image layout directory (`oci:DIR[:REF]`), a
// `docker save` archive (`docker-archive:PATH`), or a registry (`docker://...`). Each source is
// read into a staged image: the config and layer files on local disk, every one checked against
// its digest before tspod trusts a byte of it.
import { createHash } from 'node:crypto';
import { closeSync, existsSync, openSync, readFileSync, readSync, realpathSync, statSync } from 'node:fs';
import { basename, join, resolve } from 'node:path';
import { ok, err, type Result } from '../result.js';
import { ErrorCodes, tspodError, type TspodError } from '../errors.js';
import { blobPath, verifyBlobFile } from './digest.js';
import { manifestDescriptors, parseConfig, withDiffIds, type OciConfig, type OciLayer } from './image.js';
import { hostPlatform, resolvePlatform, type Platform, type RegistryClient } from './registry.js';
import type { ImageReference } from './reference.js';

export interface StagedOciImage {
  /** The repository it is known by, e.g. 127.0.0.1:5000/test/busybox or docker.io/library/alpine. */
  readonly name: string;
  readonly tag: string | undefined;
  readonly source: string;
  readonly manifestDigest: string | undefined;
  readonly config: OciConfig;
  readonly configPath: string;
  readonly configDigest: string;
  readonly layers: ReadonlyArray<OciLayer & { readonly path: string }>;
}

const INDEX_TYPES = new Set(['application/vnd.oci.image.index.v1+json', 'application/vnd.docker.distribution.manifest.list.v2+json']);
const MAX_JSON = 4 << 20;

function readJson(path: string, what: string): Result<unknown, TspodError> {
  try {
    const bytes = readFileSync(path);
    if (bytes.length > MAX_JSON) return err(tspodError(ErrorCodes.MANIFEST_INVALID, what, `${path} is over ${MAX_JSON} bytes`, 'the image is malformed'));
    return ok(JSON.parse(bytes.toString('utf8')));
  } catch (e) {
    return err(tspodError(ErrorCodes.MANIFEST_INVALID, what, `${path} is not readable JSON (${(e as Error).message})`, 'the image is malformed'));
  }
}

/** A blob of a layout, checked against its digest (and refused if it is a symlink). */
async function layoutBlob(dir: string, digest: string): Promise<Result<string, TspodError>> {
  const path = blobPath(dir, digest);
  if (path.isErr()) return err(path.error);
  const checked = await verifyBlobFile(path.value, digest);
  return checked.map(() => path.value);
}

// ---- OCI image layout ------------------------------------------------------------------------

interface IndexJson {
  manifests?: Array<{ digest?: string; mediaType?: string; annotations?: Record<string, string> }>;
}

function pickFromIndex(index: IndexJson, ref: string | undefined, what: string): Result<{ digest: string; mediaType: string }, TspodError> {
  const all = index.manifests ?? [];
  const named = ref === undefined ? all : all.filter((m) => m.annotations?.['org.opencontainers.image.ref.name'] === ref);
  if (named.length !== 1 || typeof named[0]!.digest !== 'string') {
    const refs = all.map((m) => m.annotations?.['org.opencontainers.image.ref.name']).filter(Boolean).join(', ') || 'none';
    return err(tspodError(ErrorCodes.NOT_FOUND, what, ref === undefined ? `the layout holds ${all.length} images` : `no image is named ${JSON.stringify(ref)}`,
      `name one with oci:DIR:REF (refs in this layout: ${refs})`));
  }
  return ok({ digest: named[0]!.digest!, mediaType: named[0]!.mediaType ?? '' });
}

/** The platform asked for (fetch --platform), else the host's. */
function platformOr(asked: Platform | undefined): Result<Platform, TspodError> {
  return asked ? ok(asked) : hostPlatform();
}

export async function readOciLayout(spec: string, asked?: Platform): Promise<Result<StagedOciImage, TspodError>> {
  const colon = spec.indexOf(':', spec.lastIndexOf('/') + 1);
  const [dir, ref] = colon > 0 ? [spec.slice(0, colon), spec.slice(colon + 1)] : [spec, undefined];
  const what = `read the OCI layout ${dir}`;
  if (!existsSync(join(dir, 'oci-layout'))) return err(tspodError(ErrorCodes.IMAGE_INVALID, what, 'it has no oci-layout file', 'give the directory of an OCI image layout'));
  const index = readJson(join(dir, 'index.json'), what);
  if (index.isErr()) return err(index.error);
  let desc = pickFromIndex(index.value as IndexJson, ref, what);
  if (desc.isErr()) return err(desc.error);
  if (INDEX_TYPES.has(desc.value.mediaType)) {
    const inner = await layoutJson(dir, desc.value.digest, what);
    if (inner.isErr()) return err(inner.error);
    const platform = platformOr(asked).andThen((p) => resolvePlatform(inner.value, p));
    if (platform.isErr()) return err(platform.error);
    desc = ok({ digest: platform.value.digest, mediaType: platform.value.mediaType });
  }
  const manifest = await layoutJson(dir, desc.value.digest, what);
  if (manifest.isErr()) return err(manifest.error);
  const descriptors = manifestDescriptors(manifest.value, what);
  if (descriptors.isErr()) return err(descriptors.error);
  const configPath = await layoutBlob(dir, descriptors.value.config);
  if (configPath.isErr()) return err(configPath.error);
  const config = parseConfig(readFileSync(configPath.value), what);
  if (config.isErr()) return err(config.error);
  const layers = withDiffIds(descriptors.value.layers, config.value, what);
  if (layers.isErr()) return err(layers.error);
  const located: Array<OciLayer & { path: string }> = [];
  for (const l of layers.value) {
    const path = await layoutBlob(dir, l.digest);
    if (path.isErr()) return err(path.error);
    located.push({ ...l, path: path.value });
  }
  return ok({
    name: `localhost/${basename(resolve(dir))}`, tag: ref, source: `oci:${resolve(dir)}${ref ? `:${ref}` : ''}`,
    manifestDigest: desc.value.digest, config: config.value, configPath: configPath.value,
    configDigest: descriptors.value.config, layers: located,
  });
}

async function layoutJson(dir: string, digest: string, what: string): Promise<Result<unknown, TspodError>> {
  const path = await layoutBlob(dir, digest);
  return path.isErr() ? err(path.error) : readJson(path.value, what);
}

// ---- registry --------------------------------------------------------------------------------

export async function pullFromRegistry(
  client: RegistryClient, ref: ImageReference, work: string, asked?: Platform,
): Promise<Result<StagedOciImage, TspodError>> {
  const what = `pull ${ref.domain}/${ref.repository}`;
  const platform = platformOr(asked);
  if (platform.isErr()) return err(platform.error);
  const manifest = await client.getImageManifest(ref, platform.value);
  if (manifest.isErr()) return err(manifest.error);
  const descriptors = manifestDescriptors(manifest.value.json, what);
  if (descriptors.isErr()) return err(descriptors.error);
  const configPath = join(work, 'config');
  const got = await client.getBlobToFile(ref, descriptors.value.config, configPath);
  if (got.isErr()) return err(got.error);
  const config = parseConfig(readFileSync(configPath), what);
  if (config.isErr()) return err(config.error);
  const layers = withDiffIds(descriptors.value.layers, config.value, what);
  if (layers.isErr()) return err(layers.error);
  const located: Array<OciLayer & { path: string }> = [];
  for (const [i, l] of layers.value.entries()) {
    const path = join(work, `layer-${i}`);
    const blob = await client.getBlobToFile(ref, l.digest, path, { progress: true });
    if (blob.isErr()) return err(blob.error);
    located.push({ ...l, path });
  }
  return ok({
    name: `${ref.domain}/${ref.repository}`, tag: ref.tag, source: `docker://${ref.domain}/${ref.repository}${ref.tag ? `:${ref.tag}` : ''}`,
    manifestDigest: manifest.value.digest, config: config.value, configPath, configDigest: descriptors.value.config, layers: located,
  });
}

// ---- docker save archives --------------------------------------------------------------------

interface DockerArchiveEntry {
  Config?: string;
  RepoTags?: string[] | null;
  Layers?: string[];
}

/** Streams a file through SHA-256 (layers can be large). */
function sha256File(path: string): string {
  const hash = createHash('sha256');
  const fd = openSync(path, 'r');
  const buf = Buffer.allocUnsafe(1 << 20);
  try {
    for (let n = readSync(fd, buf); n > 0; n = readSync(fd, buf)) hash.update(buf.subarray(0, n));
  } finally {
    closeSync(fd);
  }
  return `sha256:${hash.digest('hex')}`;
}

/** A `docker save` archive already extracted (safely) into dir. */
export function readDockerArchiveDir(dir: string, source: string): Result<StagedOciImage, TspodError> {
  const what = `read the docker archive ${source}`;
  const list = readJson(join(dir, 'manifest.json'), what);
  if (list.isErr()) return err(list.error);
  const entries = list.value as DockerArchiveEntry[];
  if (!Array.isArray(entries) || entries.length !== 1 || typeof entries[0]!.Config !== 'string' || !Array.isArray(entries[0]!.Layers)) {
    return err(tspodError(ErrorCodes.IMAGE_INVALID, what, 'its manifest.json must describe exactly one image with Config and Layers', 'save one image per archive'));
  }
  const e = entries[0]!;
  // docker save links layer.tar files to each other: follow them, but never out of the archive.
  const root = realpathSync(dir);
  const inside = (p: string): string | undefined => {
    try {
      const real = realpathSync(join(dir, p));
      return real.startsWith(`${root}/`) ? real : undefined;
    } catch {
      return undefined;
    }
  };
  const configPath = inside(e.Config!);
  if (!configPath || !existsSync(configPath)) return err(tspodError(ErrorCodes.IMAGE_INVALID, what, `its config ${e.Config} is missing`, 'the archive is incomplete'));
  const config = parseConfig(readFileSync(configPath), what);
  if (config.isErr()) return err(config.error);
  const layerPaths = e.Layers!.map(inside);
  if (layerPaths.some((p) => !p || !existsSync(p))) return err(tspodError(ErrorCodes.IMAGE_INVALID, what, 'a layer it lists is missing', 'the archive is incomplete'));
  // docker save writes uncompressed layers: their digest is their DiffID, checked when applied.
  const descriptors = layerPaths.map((p) => ({ digest: sha256File(p!), mediaType: 'application/vnd.oci.image.layer.v1.tar', size: statSync(p!).size }));
  const layers = withDiffIds(descriptors, config.value, what);
  if (layers.isErr()) return err(layers.error);
  const [name, tag] = splitRepoTag(e.RepoTags?.[0]);
  return ok({
    name, tag, source: `docker-archive:${source}`, manifestDigest: undefined, config: config.value, configPath,
    configDigest: sha256File(configPath), layers: layers.value.map((l, i) => ({ ...l, path: layerPaths[i]! })),
  });
}

function splitRepoTag(repoTag: string | undefined): [string, string | undefined] {
  if (!repoTag) return ['localhost/docker-archive', undefined];
  const colon = repoTag.lastIndexOf(':');
  const slash = repoTag.lastIndexOf('/');
  return colon > slash ? [repoTag.slice(0, colon), repoTag.slice(colon + 1)] : [repoTag, undefined];
}
