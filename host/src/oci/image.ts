// A Docker/OCI image as tspod stores it: the config, and the layers in order with their digests,
// media types and DiffIDs (checked against config.rootfs.diff_ids when the layers are applied).
import { ok, err, type Result } from '../result.js';
import { ErrorCodes, tspodError, type TspodError } from '../errors.js';
import { parseDigest } from './digest.js';

export interface OciLayer {
  readonly digest: string;
  readonly mediaType: string;
  readonly size: number;
  /** sha256 of the uncompressed layer, from the config. */
  readonly diffId: string;
}

export interface OciConfig {
  readonly architecture?: string;
  readonly os?: string;
  readonly config?: {
    readonly User?: string;
    readonly Env?: string[];
    readonly Entrypoint?: string[] | null;
    readonly Cmd?: string[] | null;
    readonly WorkingDir?: string;
    readonly ExposedPorts?: Record<string, unknown>;
    readonly Volumes?: Record<string, unknown>;
    readonly Labels?: Record<string, string>;
  };
  readonly rootfs?: { readonly type?: string; readonly diff_ids?: string[] };
}

/** Limits that keep a hostile config from costing much: tspod refuses beyond them. */
export const MAX_CONFIG_BYTES = 1 << 20;
const MAX_ENV = 10_000;
const MAX_LAYERS = 256;

function invalid(what: string, why: string): TspodError {
  return tspodError(ErrorCodes.MANIFEST_INVALID, what, why, 'the image is malformed; rebuild or re-push it');
}

/** The config's fields tspod relies on, checked: diff_ids are digests, one per layer, Env is bounded. */
export function parseConfig(bytes: Uint8Array, what: string): Result<OciConfig, TspodError> {
  if (bytes.length > MAX_CONFIG_BYTES) return err(invalid(what, `the image config is ${bytes.length} bytes (limit ${MAX_CONFIG_BYTES})`));
  let c: OciConfig;
  try {
    c = JSON.parse(Buffer.from(bytes).toString('utf8')) as OciConfig;
  } catch (e) {
    return err(invalid(what, `the image config is not JSON (${(e as Error).message})`));
  }
  if (!c || typeof c !== 'object') return err(invalid(what, 'the image config is not a JSON object'));
  const diffIds = c.rootfs?.diff_ids;
  if (!Array.isArray(diffIds) || diffIds.length > MAX_LAYERS) return err(invalid(what, 'the config has no rootfs.diff_ids list (or too many)'));
  for (const d of diffIds) {
    const p = parseDigest(String(d));
    if (p.isErr()) return err(p.error);
  }
  const env = c.config?.Env;
  if (env !== undefined && (!Array.isArray(env) || env.length > MAX_ENV || env.some((e) => typeof e !== 'string'))) {
    return err(invalid(what, `config.Env must be a list of at most ${MAX_ENV} strings`));
  }
  return ok(c);
}

interface ManifestJson {
  readonly config?: { digest?: string; mediaType?: string; size?: number };
  readonly layers?: Array<{ digest?: string; mediaType?: string; size?: number }>;
}

/** The config descriptor and layer descriptors of an image manifest (Docker schema 2 or OCI). */
export function manifestDescriptors(json: unknown, what: string): Result<{ config: string; layers: Omit<OciLayer, 'diffId'>[] }, TspodError> {
  const m = json as ManifestJson;
  if (!m || typeof m !== 'object' || typeof m.config?.digest !== 'string' || !Array.isArray(m.layers)) {
    return err(invalid(what, 'the manifest has no config descriptor or layers list'));
  }
  const config = parseDigest(m.config.digest);
  if (config.isErr()) return err(config.error);
  const layers: Omit<OciLayer, 'diffId'>[] = [];
  for (const [i, l] of m.layers.entries()) {
    if (typeof l?.digest !== 'string' || typeof l.mediaType !== 'string') return err(invalid(what, `layers[${i}] lacks a digest or media type`));
    const d = parseDigest(l.digest);
    if (d.isErr()) return err(d.error);
    layers.push({ digest: l.digest, mediaType: l.mediaType, size: Number(l.size ?? 0) });
  }
  return ok({ config: m.config.digest, layers });
}

/** Pairs layers with the config's diff_ids: one each, in order. */
export function withDiffIds(layers: Omit<OciLayer, 'diffId'>[], config: OciConfig, what: string): Result<OciLayer[], TspodError> {
  const ids = config.rootfs!.diff_ids!;
  if (ids.length !== layers.length) return err(invalid(what, `the manifest lists ${layers.length} layers, the config ${ids.length} diff_ids`));
  return ok(layers.map((l, i) => ({ ...l, diffId: ids[i]! })));
}
