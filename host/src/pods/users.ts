// An app's user and group, by name or number, resolved in the image's own /etc/passwd and
// /etc/group (never the host's), as runc and rkt do.
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { ErrorCodes, tspodError, type TspodError } from '../errors.js';
import { err, ok, type Result } from '../result.js';

export interface Identity {
  readonly uid: number;
  readonly gid: number;
  /** Supplementary groups: the user's memberships in /etc/group plus the ones asked for. */
  readonly groups: readonly number[];
}

interface Entry {
  readonly name: string;
  readonly id: number;
  readonly gid?: number;
  readonly members?: readonly string[];
}

/** The first of the lower dirs (top layer first) that has the file. Symlinks are not followed out. */
function readEtc(lowerDirs: readonly string[], file: string): string {
  for (const dir of lowerDirs) {
    const p = join(dir, 'etc', file);
    if (existsSync(p)) {
      try {
        return readFileSync(p, 'utf8');
      } catch {
        return '';
      }
    }
  }
  return '';
}

function parsePasswd(text: string): Entry[] {
  return text.split('\n').flatMap((line) => {
    const f = line.split(':');
    return f.length >= 4 && /^\d+$/.test(f[2]!) && /^\d+$/.test(f[3]!) ? [{ name: f[0]!, id: Number(f[2]), gid: Number(f[3]) }] : [];
  });
}

function parseGroup(text: string): Entry[] {
  return text.split('\n').flatMap((line) => {
    const f = line.split(':');
    return f.length >= 3 && /^\d+$/.test(f[2]!) ? [{ name: f[0]!, id: Number(f[2]), members: (f[3] ?? '').split(',').filter(Boolean) }] : [];
  });
}

const MAX_ID = 4294967294;

function numeric(s: string): number | undefined {
  return /^\d+$/.test(s) && Number(s) <= MAX_ID ? Number(s) : undefined;
}

/**
 * user: name, uid, or "uid:gid"/"name:group" (Docker's form); group overrides the primary group.
 * Defaults: root (0:0), as appc and Docker do when an image names no user.
 */
export function resolveIdentity(lowerDirs: readonly string[], user: string | undefined, group: string | undefined, extra: readonly number[], app: string): Result<Identity, TspodError> {
  const passwd = parsePasswd(readEtc(lowerDirs, 'passwd'));
  const groups = parseGroup(readEtc(lowerDirs, 'group'));
  const [userPart, groupPart] = (user ?? '0').split(':', 2) as [string, string | undefined];
  const byName = passwd.find((e) => e.name === userPart);
  const uid = numeric(userPart) ?? byName?.id;
  if (uid === undefined) return err(missing(app, 'user', userPart, 'passwd'));
  const entry = byName ?? passwd.find((e) => e.id === uid);
  const groupName = group ?? groupPart;
  let gid = entry?.gid ?? 0;
  if (groupName !== undefined) {
    const g = numeric(groupName) ?? groups.find((e) => e.name === groupName)?.id;
    if (g === undefined) return err(missing(app, 'group', groupName, 'group'));
    gid = g;
  }
  const memberOf = entry ? groups.filter((g) => g.members?.includes(entry.name)).map((g) => g.id) : [];
  return ok({ uid, gid, groups: [...new Set([...memberOf, ...extra])] });
}

function missing(app: string, what: string, name: string, file: string): TspodError {
  return tspodError(ErrorCodes.CONFIG, `resolve the ${what} of app ${app}`, `${JSON.stringify(name)} is not in the image's /etc/${file}`,
    `use a ${what} the image defines, or a number`);
}
