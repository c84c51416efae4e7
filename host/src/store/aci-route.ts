// An ACI is a tar of exactly `manifest` and `rootfs/`, with no duplicate entries (appc aci.md).
// This routes its entries during the one import pass: the manifest is captured, rootfs/ is
// written with the prefix removed, anything else fails the import.
import type { TarEntry } from '../core/tar.js';
import type { EntryRoute } from '../extract/extract.js';

const ROOTFS = 'rootfs/';

export interface AciLayout {
  readonly route: (e: TarEntry) => EntryRoute;
  /** What the layout lacked, once the archive has been read. */
  missing(): string | undefined;
}

export function aciLayout(): AciLayout {
  const seen = new Set<string>();
  let sawRootfs = false;
  const route = (e: TarEntry): EntryRoute => {
    if (e.path === '.') return { kind: 'skip' };
    if (seen.has(e.path)) return { kind: 'refuse', why: 'it appears twice; an ACI must not hold duplicate entries' };
    seen.add(e.path);
    if (e.path === 'manifest') return { kind: 'capture' };
    if (e.path === 'rootfs') {
      sawRootfs = true;
      return e.type === 'dir' ? { kind: 'write', entry: { ...e, path: '.' } } : { kind: 'refuse', why: 'rootfs must be a directory' };
    }
    if (!e.path.startsWith(ROOTFS)) return { kind: 'refuse', why: `unrecognized file path in layout: ${JSON.stringify(e.path)}` };
    sawRootfs = true;
    if (e.type !== 'hardlink') return { kind: 'write', entry: { ...e, path: e.path.slice(ROOTFS.length) } };
    if (!e.linkTarget.startsWith(ROOTFS)) return { kind: 'refuse', why: `hard link to ${JSON.stringify(e.linkTarget)}, outside rootfs/` };
    return { kind: 'write', entry: { ...e, path: e.path.slice(ROOTFS.length), linkTarget: e.linkTarget.slice(ROOTFS.length) } };
  };
  const missing = (): string | undefined => {
    if (!seen.has('manifest')) return 'no image manifest found in layout';
    return sawRootfs ? undefined : 'no rootfs found in layout';
  };
  return { route, missing };
}
