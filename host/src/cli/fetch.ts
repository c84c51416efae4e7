// `tspod fetch IMAGE...`: brings images into the store and prints their IDs. IMAGE is, in rkt's
// order: an image ID in the store, a local .aci (path or file://), an https:// (or, with
// --insecure-options=http, http://) URL, or an appc name[:version] found by meta discovery.
// Signatures are verified by default against the keys trusted for the image's name.
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { createHash } from 'node:crypto';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { fail, parseFlags, usageError, type CommandContext } from './command.js';
import { isRoot, openStore } from './store-cli.js';
import { ok, err, type Result } from '../result.js';
import { describeErrno, ErrorCodes, tspodError, type TspodError } from '../errors.js';
import type { ImageRecord, ImageStore, Signer } from '../store/images.js';
import type { ImageManifest } from '../appc/manifest.js';
import { readRecord, writeRecord } from '../store/records.js';
import type { StagedOciImage } from '../oci/sources.js';
import type { Platform } from '../oci/registry.js';

const HELP = `Usage: tspod fetch [--signature FILE] [--full] IMAGE...

Fetches each IMAGE into the store and prints its image ID. IMAGE is one of:
  sha512-..., sha256-...    an image already in the store (ID prefix)
  docker://[REGISTRY/]NAME[:TAG|@DIGEST]   a Docker/OCI image from a registry (v2 API)
  docker-archive:PATH       a \`docker save\` archive
  oci:DIR[:REF], oci-archive:PATH[:REF]    an OCI image layout (or a tar of one)
  ./file.aci, file:///...   a local ACI; its signature is file.aci.asc (or --signature)
  https://host/x.aci        an ACI over HTTPS; its signature is x.aci.asc beside it
  example.com/app[:1.0]     an appc name, found by meta discovery (?ac-discovery=1)

Signatures are verified against the keys trusted for the image name (see \`tspod trust\`).
Docker/OCI images need --insecure-options=image for now (their blobs' digests are always checked).
--insecure-options=image skips that; http allows plain HTTP; tls accepts any certificate.
  --signature FILE   the detached signature of a local ACI
  --platform OS/ARCH[/VARIANT]   which image of a Docker/OCI index (default: this host's)
  --full             (accepted for rkt compatibility; IDs are always printed whole)
`;

interface Located {
  /** A local file holding the ACI bytes. */
  readonly file: string;
  readonly source: string;
  /** Where the signature is, if any: a local file or a URL. */
  readonly signature: { file: string } | { url: string } | undefined;
  readonly expect?: { name: string; labels: Record<string, string> };
  readonly latest: boolean;
  /** The file is a download in the store's tmp/, removed after the import. */
  readonly downloaded?: boolean;
  /** Keys discovery offered for the name (ac-discovery-pubkeys). */
  readonly pubkeys?: readonly string[];
}

interface RemoteRecord {
  readonly url: string;
  readonly etag?: string;
  readonly lastModified?: string;
  readonly maxAge?: number;
  readonly downloadedAt: number;
  readonly imageId?: string;
}

export async function run(ctx: CommandContext, argv: string[]): Promise<number> {
  const parsed = parseFlags(ctx, 'fetch', argv, { signature: { type: 'string' }, full: { type: 'boolean' }, platform: { type: 'string' } }, HELP);
  if (typeof parsed === 'number') return parsed;
  if (parsed.positionals.length === 0) return fail(ctx, usageError('fetch', 'needs at least one IMAGE'));
  const platform = parsePlatform(parsed.values.platform);
  if (typeof platform === 'string') return fail(ctx, usageError('fetch', platform));
  const store = openStore(ctx);
  if (store.isErr()) return fail(ctx, store.error);
  warnInsecure(ctx);
  for (const image of parsed.positionals) {
    const id = await store.value.locked(() => fetchOne(ctx, store.value, image, parsed.values.signature, 0, platform));
    if (id.isErr()) return fail(ctx, id.error);
    ctx.stdout.write(`${id.value}\n`);
  }
  return 0;
}

function warnInsecure(ctx: CommandContext): void {
  const i = ctx.globals.insecure;
  if (i.has('image')) ctx.stderr.write('tspod: warning: image signature verification is disabled (--insecure-options=image)\n');
  if (i.has('tls')) ctx.stderr.write('tspod: warning: TLS certificates are not checked (--insecure-options=tls)\n');
  if (i.has('http')) ctx.stderr.write('tspod: warning: plain HTTP is allowed (--insecure-options=http)\n');
}

/** --platform os/arch[/variant] for Docker/OCI indexes; undefined means the host's. */
function parsePlatform(text: string | undefined): Platform | undefined | string {
  if (text === undefined) return undefined;
  const [os, architecture, variant, extra] = text.split('/');
  if (!os || !architecture || extra !== undefined) return `--platform must be OS/ARCH[/VARIANT] (e.g. linux/arm64/v8), not ${JSON.stringify(text)}`;
  return { os, architecture, ...(variant && { variant }) };
}

/** Fetches one image as `tspod fetch IMAGE` does (for run and prepare); its image ID. */
export async function fetchImage(ctx: CommandContext, store: ImageStore, image: string): Promise<Result<string, TspodError>> {
  warnInsecure(ctx);
  return fetchOne(ctx, store, image, undefined, 0);
}

async function fetchOne(
  ctx: CommandContext, store: ImageStore, image: string, signature: string | undefined, depth = 0, platform?: Platform,
): Promise<Result<string, TspodError>> {
  if (image.startsWith('sha512-') || image.startsWith('sha256-')) return (await store.resolve(image)).map((r) => r.id);
  if (OCI_SOURCE.test(image)) return fetchOci(ctx, store, image, platform);
  const located = await locate(ctx, store, image, signature);
  if (located.isErr()) return err(located.error);
  if (typeof located.value === 'string') return ok(located.value);
  const loc = located.value;
  const imported = await store.importAci(loc.file, {
    source: loc.source, latest: loc.latest, render: isRoot(),
    accept: (manifest, id) => acceptImage(ctx, store, loc, manifest, id),
  });
  // A finished download has served its purpose (an interrupted one stays as .part to resume).
  if (loc.downloaded) rmSync(loc.file, { force: true });
  if (imported.isErr()) return err(imported.error);
  await rememberImage(store, loc, imported.value);
  const deps = await fetchDependencies(ctx, store, imported.value, depth);
  return deps.map(() => imported.value.id);
}

const MAX_DEPENDENCY_DEPTH = 16;

/** appc dependencies not yet in the store are fetched by name (and version label), recursively. */
async function fetchDependencies(ctx: CommandContext, store: ImageStore, image: ImageRecord, depth: number): Promise<Result<void, TspodError>> {
  const { findDependency, manifestOf } = await import('../store/render.js');
  for (const dep of manifestOf(image).dependencies ?? []) {
    if ((await findDependency(store, dep, image.name)).isOk()) continue;
    if (depth >= MAX_DEPENDENCY_DEPTH) {
      return err(tspodError(ErrorCodes.MANIFEST_INVALID, `fetch the dependencies of ${image.name}`, 'they nest too deep (a cycle?)', 'fix the image manifests'));
    }
    const version = dep.labels.find((l) => l.name === 'version')?.value;
    const got = await fetchOne(ctx, store, version ? `${dep.imageName}:${version}` : dep.imageName, undefined, depth + 1);
    if (got.isErr()) return err(got.error);
    if (dep.imageID && !got.value.startsWith(dep.imageID)) {
      return err(tspodError(ErrorCodes.MANIFEST_INVALID, `fetch dependency ${dep.imageName} of ${image.name}`,
        `it was fetched as ${got.value.slice(0, 39)}..., but the manifest pins ${dep.imageID.slice(0, 39)}...`, 'the dependency changed; ask the image publisher'));
    }
  }
  return ok(undefined);
}

// ---- Docker/OCI images -------------------------------------------------------------------------

const OCI_SOURCE = /^(docker:\/\/|docker-archive:|oci:|oci-archive:)/;

/**
 * Docker/OCI sources: staged in a temp dir (every blob checked against its digest), the
 * simple-signing signature of a registry image verified, then stored.
 */
async function fetchOci(ctx: CommandContext, store: ImageStore, image: string, platform?: Platform): Promise<Result<string, TspodError>> {
  const verify = !ctx.globals.insecure.has('image');
  if (verify && !image.startsWith('docker://')) {
    return err(tspodError(ErrorCodes.SIG_INVALID, `fetch ${image}`,
      'image archives and layouts carry no signature tspod can check (simple signing covers registry images)',
      'fetch it from a registry with its signature, or pass --insecure-options=image (every blob digest is still checked)'));
  }
  const work = mkdtempSync(join(store.paths.tmp, 'oci-'));
  try {
    const staged = await stageOci(ctx, image, work, platform);
    if (staged.isErr()) return err(staged.error);
    const signers = verify ? await verifyOciSignature(ctx, image, staged.value) : ok([]);
    if (signers.isErr()) return err(signers.error);
    // Layers are rendered when first needed (image render, pods), not here: a fetch stays a download.
    return (await store.importOci(staged.value, signers.value)).map((r) => r.id);
  } finally {
    rmSync(work, { recursive: true, force: true });
  }
}

/** At least one simple-signing signature in the registry's lookaside dir must verify. */
async function verifyOciSignature(ctx: CommandContext, image: string, staged: StagedOciImage): Promise<Result<readonly Signer[], TspodError>> {
  const { parseDockerReference, formatReference } = await import('../oci/reference.js');
  const { loadRegistrySettings } = await import('../config/registries.js');
  const { readLookasideSignatures, verifySimpleSignature } = await import('../oci/simple-signing.js');
  const { Keystore } = await import('../trust/keystore.js');
  const ref = parseDockerReference(image);
  const settings = loadRegistrySettings(ctx.globals.systemConfig, ctx.globals.localConfig);
  if (ref.isErr() || settings.isErr()) return err(ref.isErr() ? ref.error : (settings as { error: TspodError }).error);
  const hint = 'sign it (skopeo copy --sign-by) and name the lookaside dir in auth.d, or pass --insecure-options=image (not recommended)';
  const dir = settings.value.lookaside.get(ref.value.registry);
  if (!dir) return err(tspodError(ErrorCodes.SIG_INVALID, `verify ${image}`, `no lookaside signature directory is configured for ${ref.value.registry}`, hint));
  const sigs = /^https?:\/\//.test(dir)
    ? await downloadLookaside(ctx, dir, ref.value.repository, staged.manifestDigest!)
    : await readLookasideSignatures(dir, ref.value.repository, staged.manifestDigest!);
  if (sigs.isErr()) return err(sigs.error);
  if (sigs.value.length === 0) return err(tspodError(ErrorCodes.SIG_INVALID, `verify ${image}`, `no signature for manifest ${staged.manifestDigest} in ${dir}`, hint));
  const keystore = new Keystore({ systemDir: ctx.globals.systemConfig, localDir: ctx.globals.localConfig });
  let last: TspodError | undefined;
  for (const signature of sigs.value) {
    const v = await verifySimpleSignature({ signature, expectedReference: formatReference(ref.value), manifestDigest: staged.manifestDigest!, keystore, source: image });
    if (v.isOk()) return ok(v.value.signers);
    last = v.error;
  }
  return err(last!);
}

const MAX_LOOKASIDE_DOWNLOADS = 16;

/** signature-1, signature-2, ... from an HTTP(S) lookaside, until the first 404. */
async function downloadLookaside(ctx: CommandContext, base: string, repository: string, digest: string): Promise<Result<Uint8Array[], TspodError>> {
  const { lookasidePath } = await import('../oci/simple-signing.js');
  const { downloadToFile, httpStatusOf } = await import('../fetch/http.js');
  const { tmpdir } = await import('node:os');
  const scratch = mkdtempSync(join(tmpdir(), 'tspod-sig-'));
  const insecure = { http: ctx.globals.insecure.has('http'), tls: ctx.globals.insecure.has('tls') };
  try {
    const out: Uint8Array[] = [];
    for (let i = 0; i < MAX_LOOKASIDE_DOWNLOADS; i++) {
      const rel = lookasidePath('', repository, digest, i);
      if (rel.isErr()) return err(rel.error);
      const dest = join(scratch, `signature-${i + 1}`);
      const got = await downloadToFile(`${base.replace(/\/+$/, '')}/${rel.value}`, { dest, insecure });
      if (got.isErr()) return httpStatusOf(got.error) === 404 ? ok(out) : err(got.error);
      out.push(readFileSync(dest));
    }
    return ok(out);
  } finally {
    rmSync(scratch, { recursive: true, force: true });
  }
}

async function stageOci(ctx: CommandContext, image: string, work: string, platform?: Platform): Promise<Result<StagedOciImage, TspodError>> {
  const sources = await import('../oci/sources.js');
  if (image.startsWith('oci:')) return sources.readOciLayout(image.slice('oci:'.length), platform);
  if (image.startsWith('docker://')) {
    const { parseDockerReference } = await import('../oci/reference.js');
    const { RegistryClient } = await import('../oci/registry.js');
    const { loadRegistrySettings } = await import('../config/registries.js');
    const ref = parseDockerReference(image);
    if (ref.isErr()) return err(ref.error);
    const settings = loadRegistrySettings(ctx.globals.systemConfig, ctx.globals.localConfig);
    if (settings.isErr()) return err(settings.error);
    const http = ctx.globals.insecure.has('http') || settings.value.insecure.has(ref.value.registry);
    const client = new RegistryClient({
      insecure: { http, tls: ctx.globals.insecure.has('tls') },
      auth: (registry) => settings.value.credentials.get(registry),
    });
    return sources.pullFromRegistry(client, ref.value, work, platform);
  }
  // docker-archive:PATH and oci-archive:PATH[:REF] are tars: extracted safely first.
  const isOciArchive = image.startsWith('oci-archive:');
  const spec = image.slice(isOciArchive ? 'oci-archive:'.length : 'docker-archive:'.length);
  const colon = isOciArchive ? spec.indexOf(':', spec.lastIndexOf('/') + 1) : -1;
  const [archive, ref] = colon > 0 ? [spec.slice(0, colon), spec.slice(colon + 1)] : [spec, undefined];
  const dir = join(work, 'archive');
  const { extractArchive } = await import('../extract/extract.js');
  const extracted = await extractArchive(archive, dir, {});
  if (extracted.isErr()) return err(extracted.error);
  return isOciArchive ? sources.readOciLayout(ref ? `${dir}:${ref}` : dir, platform) : sources.readDockerArchiveDir(dir, archive);
}

// ---- where the bytes come from ----------------------------------------------------------------

async function locate(ctx: CommandContext, store: ImageStore, image: string, signature: string | undefined): Promise<Result<Located | string, TspodError>> {
  if (image.startsWith('file://')) return localAci(fileURLToPath(image), signature);
  if (/^https?:\/\//.test(image)) return downloadAci(ctx, store, image, image.replace(/(\.aci)?$/, '.aci.asc'), undefined);
  // A path: it exists, or looks like one (./x, ../x, /x, *.aci); anything else is an appc name.
  if (existsSync(image) || image.endsWith('.aci') || /^\.{0,2}\//.test(image)) return localAci(image, signature);
  return discoverAci(ctx, store, image);
}

function localAci(path: string, signature: string | undefined): Result<Located, TspodError> {
  if (!existsSync(path)) {
    return err(tspodError(ErrorCodes.IO, `fetch ${path}`, 'no such file', 'check the path (or give an image name for discovery)'));
  }
  const sig = signature ?? `${path}.asc`;
  return ok({ file: path, source: `file://${path}`, signature: existsSync(sig) || signature ? { file: sig } : undefined, latest: false });
}

async function downloadAci(
  ctx: CommandContext, store: ImageStore, url: string, ascUrl: string, expect: Located['expect'],
): Promise<Result<Located | string, TspodError>> {
  const { downloadToFile } = await import('../fetch/http.js');
  const key = createHash('sha256').update(url).digest('hex');
  const recordPath = join(store.paths.remotes, `${key}.cbor`);
  const cached = (await readRecord<RemoteRecord>(recordPath)).unwrapOr(undefined);
  const known = cached?.imageId ? await store.resolve(cached.imageId) : undefined;
  const dest = join(store.paths.tmp, `download-${key}.aci`);
  const insecure = { http: ctx.globals.insecure.has('http'), tls: ctx.globals.insecure.has('tls') };
  const got = await downloadToFile(url, { dest, insecure, progress: true, ...(known?.isOk() && cached && { cached }) });
  if (got.isErr()) return err(got.error);
  if (got.value.status !== 'downloaded' && known?.isOk()) return ok(known.value.id);
  await writeRecord(recordPath, {
    url, etag: got.value.etag, lastModified: got.value.lastModified, maxAge: got.value.maxAge, downloadedAt: Date.now(),
  } satisfies RemoteRecord);
  return ok({ file: dest, source: url, signature: { url: ascUrl }, latest: false, downloaded: true, ...(expect && { expect }) });
}

async function discoverAci(ctx: CommandContext, store: ImageStore, image: string): Promise<Result<Located | string, TspodError>> {
  const { discover } = await import('../fetch/discovery.js');
  const { hostAppcOsArch } = await import('../appc/types.js');
  const colon = image.lastIndexOf(':');
  const [name, version] = colon > 0 ? [image.slice(0, colon), image.slice(colon + 1)] : [image, undefined];
  const host = hostAppcOsArch();
  const labels: Record<string, string> = { ...(version && { version }), ...(host && { os: host.os, arch: host.arch }) };
  const insecure = { http: ctx.globals.insecure.has('http'), tls: ctx.globals.insecure.has('tls') };
  // appc names carry no port; TSPOD_DISCOVERY_PORT points discovery at a test or private server.
  const port = Number(process.env['TSPOD_DISCOVERY_PORT']) || undefined;
  const found = await discover(name, labels, { insecure, ...(port && { port }) });
  if (found.isErr()) return err(found.error);
  const aci = found.value.aci[0];
  if (!aci) return err(tspodError(ErrorCodes.DISCOVERY, `discover ${image}`, 'no ACI endpoint was found', 'check the name and version'));
  const located = await downloadAci(ctx, store, aci, found.value.asc[0] ?? `${aci}.asc`, { name, labels });
  return located.map((l) => (typeof l === 'string' ? l : { ...l, latest: version === undefined, pubkeys: found.value.pubkeys }));
}

// ---- checks before the image becomes visible -----------------------------------------------------

async function acceptImage(
  ctx: CommandContext, store: ImageStore, loc: Located, manifest: ImageManifest, id: string,
): Promise<Result<readonly Signer[], TspodError>> {
  const mismatch = expectationProblem(loc, manifest);
  if (mismatch) return err(tspodError(ErrorCodes.MANIFEST_INVALID, `fetch ${loc.source}`, mismatch, 'the server sent another image than the one asked for'));
  if (ctx.globals.insecure.has('image')) return ok([]);
  const sig = await readSignature(ctx, store, loc, id);
  if (sig.isErr()) return err(sig.error);
  const { Keystore } = await import('../trust/keystore.js');
  const { verifyDetachedSignature } = await import('../trust/verify.js');
  const keystore = new Keystore({ systemDir: ctx.globals.systemConfig, localDir: ctx.globals.localConfig });
  const offered = await trustOfferedKeys(ctx, store, loc, manifest.name, keystore);
  if (offered.isErr()) return err(offered.error);
  const verified = await verifyDetachedSignature({ data: loc.file, signature: sig.value, imageName: manifest.name, keystore, source: loc.source });
  if (verified.isErr() && verified.error.code === ErrorCodes.SIG_UNTRUSTED && loc.pubkeys?.length) {
    const e = verified.error;
    return err({ ...e, hint: `${e.hint}; discovery offers keys at ${loc.pubkeys.join(', ')} (review them, or pass --trust-keys-from-https)` });
  }
  return verified.map((v) => v.signers);
}

/**
 * With --trust-keys-from-https, keys that discovery offers over HTTPS are trusted for the image's
 * name when no key is trusted for it yet (rkt's behaviour); never over plain HTTP.
 */
async function trustOfferedKeys(
  ctx: CommandContext, store: ImageStore, loc: Located, name: string, keystore: import('../trust/keystore.js').Keystore,
): Promise<Result<void, TspodError>> {
  if (!ctx.globals.trustKeysFromHttps || !loc.pubkeys?.length) return ok(undefined);
  const ring = await keystore.keyringFor(name);
  if (ring.isErr()) return err(ring.error);
  if (ring.value.length > 0) return ok(undefined);
  const { downloadToFile } = await import('../fetch/http.js');
  for (const url of loc.pubkeys.filter((u) => u.startsWith('https://'))) {
    const dest = join(store.paths.tmp, `pubkey-${process.pid}-${createHash('sha256').update(url).digest('hex').slice(0, 16)}.asc`);
    const got = await downloadToFile(url, { dest, insecure: { http: false, tls: ctx.globals.insecure.has('tls') } });
    if (got.isErr()) return err(got.error);
    const bytes = readFileSync(dest);
    rmSync(dest, { force: true });
    const added = await keystore.add(bytes, { prefix: name });
    if (added.isErr()) return err(added.error);
    ctx.stderr.write(`tspod: trusting key ${added.value.fingerprint} from ${url} for prefix ${name} (--trust-keys-from-https)\n`);
  }
  return ok(undefined);
}

function expectationProblem(loc: Located, m: ImageManifest): string | undefined {
  if (!loc.expect) return undefined;
  if (m.name !== loc.expect.name) return `its manifest names ${JSON.stringify(m.name)}, not ${JSON.stringify(loc.expect.name)}`;
  const labels = Object.fromEntries((m.labels ?? []).map((l: { name: string; value: string }) => [l.name, l.value]));
  for (const [k, v] of Object.entries(loc.expect.labels)) {
    if (labels[k] !== undefined && labels[k] !== v) return `its label ${k} is ${JSON.stringify(labels[k])}, not ${JSON.stringify(v)}`;
  }
  return undefined;
}

async function readSignature(ctx: CommandContext, store: ImageStore, loc: Located, id: string): Promise<Result<Uint8Array, TspodError>> {
  const hint = 'sign the image (tspod image sign, gpg --armor --detach-sign), give --signature, or skip with --insecure-options=image (not recommended)';
  if (!loc.signature) return err(tspodError(ErrorCodes.SIG_INVALID, `verify ${loc.source}`, `no signature found (looked for ${loc.file}.asc)`, hint));
  if ('file' in loc.signature) {
    try {
      return ok(readFileSync(loc.signature.file));
    } catch (e) {
      return err(tspodError(ErrorCodes.SIG_INVALID, `verify ${loc.source}`, `cannot read the signature ${loc.signature.file} (${describeErrno(e)})`, hint));
    }
  }
  const { downloadToFile } = await import('../fetch/http.js');
  const dest = join(store.paths.tmp, `sig-${id.slice(7, 39)}-${process.pid}.asc`);
  const insecure = { http: ctx.globals.insecure.has('http'), tls: ctx.globals.insecure.has('tls') };
  const got = await downloadToFile(loc.signature.url, { dest, insecure });
  if (got.isErr()) return err(tspodError(ErrorCodes.SIG_INVALID, `verify ${loc.source}`, `cannot download its signature: ${got.error.why}`, hint));
  const bytes = readFileSync(dest);
  rmSync(dest, { force: true });
  return ok(bytes);
}

async function rememberImage(store: ImageStore, loc: Located, image: ImageRecord): Promise<void> {
  if (!/^https?:/.test(loc.source)) return;
  const recordPath = join(store.paths.remotes, `${createHash('sha256').update(loc.source).digest('hex')}.cbor`);
  const r = (await readRecord<RemoteRecord>(recordPath)).unwrapOr(undefined);
  if (r) await writeRecord(recordPath, { ...r, imageId: image.id });
}
