// `tspod image verify`: a rendered tree is checked against a fresh, safe extraction of its blob,
// node by node (type, mode, owner, size, mtime, link target, device, content hash), so anything
// changed in the tree after rendering (a modified binary, a chmod) is found.
import { createHash } from 'node:crypto';
import { lstatSync, readdirSync, readFileSync, readlinkSync, type BigIntStats } from 'node:fs';
import { join } from 'node:path';

function kind(st: BigIntStats): string {
  if (st.isDirectory()) return 'dir';
  if (st.isFile()) return 'file';
  if (st.isSymbolicLink()) return 'symlink';
  if (st.isCharacterDevice()) return 'char';
  if (st.isBlockDevice()) return 'block';
  return st.isFIFO() ? 'fifo' : 'other';
}

/** What identifies a node; directory mtimes are left out (they change as entries are created). */
function describe(path: string): string {
  const st = lstatSync(path, { bigint: true });
  const k = kind(st);
  const parts = [k, (st.mode & 0o7777n).toString(8), st.uid, st.gid];
  if (k !== 'dir') parts.push(st.mtimeNs);
  if (k === 'file') parts.push(st.size, createHash('sha256').update(readFileSync(path)).digest('hex'));
  if (k === 'symlink') parts.push(readlinkSync(path));
  if (k === 'char' || k === 'block') parts.push(st.rdev);
  return parts.join(' ');
}

function walk(root: string, rel = '', out = new Map<string, string>()): Map<string, string> {
  out.set(rel || '.', describe(join(root, rel)));
  for (const d of readdirSync(join(root, rel), { withFileTypes: true })) {
    const child = rel ? `${rel}/${d.name}` : d.name;
    if (d.isDirectory()) walk(root, child, out);
    else out.set(child, describe(join(root, child)));
  }
  return out;
}

/** Paths where the two trees differ, with how; empty when they are the same. */
export function compareTrees(actual: string, expected: string, limit = 20): string[] {
  const a = walk(actual);
  const e = walk(expected);
  const diffs: string[] = [];
  for (const [path, want] of e) {
    const got = a.get(path);
    if (got === undefined) diffs.push(`${path}: missing`);
    else if (got !== want) diffs.push(`${path}: is "${got}", expected "${want}"`);
    if (diffs.length >= limit) return diffs;
  }
  for (const path of a.keys()) {
    if (!e.has(path)) diffs.push(`${path}: not in the image`);
    if (diffs.length >= limit) break;
  }
  return diffs;
}
