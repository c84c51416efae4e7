// Where the store keeps things under the data dir (docs/store.md). Every path helper takes the
// data dir as an argument, so tests can use a temporary one.
import { chmodSync, chownSync, mkdirSync, readFileSync, statSync } from 'node:fs';
import { writeFileAtomic } from './records.js';
import { createHash } from 'node:crypto';
import { join } from 'node:path';
import { ok, err, type Result } from '../result.js';
import { describeErrno, ErrorCodes, tspodError, type TspodError } from '../errors.js';

export const STORE_FORMAT = 1;

export interface StorePaths {
  readonly dir: string;
  readonly lock: string;
  readonly version: string;
  readonly blobs: string;
  /** Docker/OCI blobs (layers, configs) by sha256 digest, shared between images. */
  readonly ociBlobs: string;
  readonly images: string;
  readonly remotes: string;
  readonly trees: string;
  readonly imageLocks: string;
  readonly tmp: string;
}

export function storePaths(dir: string): StorePaths {
  const store = join(dir, 'store');
  return {
    dir,
    lock: join(dir, 'store.lock'),
    version: join(store, 'version'),
    blobs: join(store, 'blobs', 'sha512'),
    ociBlobs: join(store, 'blobs', 'sha256'),
    images: join(store, 'images'),
    remotes: join(store, 'remotes'),
    trees: join(store, 'trees'),
    imageLocks: join(store, 'locks'),
    tmp: join(dir, 'tmp'),
  };
}

/** The hex of an image ID ('sha512-' + 128 hex). */
export function idHex(id: string): string {
  return id.slice('sha512-'.length);
}

export function blobPath(p: StorePaths, id: string): string {
  const hex = idHex(id);
  return join(p.blobs, hex.slice(0, 2), hex);
}

/** An OCI blob by digest ('sha256:' + hex). */
export function ociBlobPath(p: StorePaths, digest: string): string {
  const hex = digest.slice(digest.indexOf(':') + 1);
  return join(p.ociBlobs, hex.slice(0, 2), hex);
}

export function imageRecordPath(p: StorePaths, id: string): string {
  return join(p.images, `${id}.cbor`);
}

export function treePath(p: StorePaths, treeId: string): string {
  return join(p.trees, treeId);
}

/**
 * A Docker/OCI layer rendered in overlayfs lower-dir format, keyed by its chain ID (the layer and
 * every layer below it: directories it needs but does not list take the attributes they have
 * below), so images sharing a base share its rendered layers.
 */
export function layerDirPath(p: StorePaths, chainId: string): string {
  return join(p.trees, 'layers', chainId.replace(':', '-'));
}

/** OCI chain IDs: the first layer's DiffID, then sha256("<parent chain ID> <DiffID>"). */
export function chainIds(diffIds: readonly string[]): string[] {
  const out: string[] = [];
  for (const d of diffIds) {
    const parent = out[out.length - 1];
    out.push(parent === undefined ? d : `sha256:${createHash('sha256').update(`${parent} ${d}`).digest('hex')}`);
  }
  return out;
}

export function imageLockPath(p: StorePaths, id: string): string {
  return join(p.imageLocks, `${id}.lock`);
}

/** The group that may fetch without root (rkt's `rkt` group), if it exists on this host. */
function tspodGid(): number | undefined {
  try {
    const line = readFileSync('/etc/group', 'utf8').split('\n').find((l) => l.startsWith('tspod:'));
    return line ? Number(line.split(':')[2]) : undefined;
  } catch {
    return undefined;
  }
}

/**
 * Creates the store's directories when missing. As root they become root:tspod, setgid, group
 * writable (2770 as rkt's CAS, the data dir 2750), so members of the tspod group fetch without root.
 */
export function ensureStore(p: StorePaths): Result<void, TspodError> {
  try {
    const gid = process.geteuid?.() === 0 ? tspodGid() : undefined;
    mkdirSync(p.dir, { recursive: true });
    if (gid !== undefined) setOwner(p.dir, gid, 0o2750 | 0o070);
    for (const d of [p.blobs, p.ociBlobs, p.images, p.remotes, p.trees, p.imageLocks, p.tmp]) {
      mkdirSync(d, { recursive: true });
    }
    if (gid !== undefined) {
      for (const d of [join(p.dir, 'store'), join(p.dir, 'store', 'blobs'), p.blobs, p.ociBlobs, p.images, p.remotes, p.imageLocks, p.tmp]) {
        setOwner(d, gid, 0o2770);
      }
      setOwner(p.trees, gid, 0o2750);
    }
  } catch (e) {
    return err(tspodError(ErrorCodes.PERMISSION, `prepare the store in ${p.dir}`, describeErrno(e),
      'run as root once to create it, or be a member of the tspod group; or pick another --dir'));
  }
  return ensureVersion(p);
}

function setOwner(dir: string, gid: number, mode: number): void {
  if (statSync(dir).gid !== gid) chownSync(dir, 0, gid);
  chmodSync(dir, mode);
}

/** The format stamp, written atomically: processes creating a store at once never see it half-written. */
function ensureVersion(p: StorePaths): Result<void, TspodError> {
  let text: string;
  try {
    text = readFileSync(p.version, 'utf8');
  } catch {
    try {
      writeFileAtomic(p.version, Buffer.from(`${STORE_FORMAT}\n`));
      return ok(undefined);
    } catch (e) {
      return err(tspodError(ErrorCodes.PERMISSION, `prepare the store in ${p.dir}`, describeErrno(e), 'run as root once to create it'));
    }
  }
  if (text.trim() === String(STORE_FORMAT)) return ok(undefined);
  return err(tspodError(ErrorCodes.STORE, `open the store in ${p.dir}`, `its format is ${JSON.stringify(text.trim())}, and this tspod reads format ${STORE_FORMAT}`,
    'use the tspod version that made it, or another --dir'));
}
