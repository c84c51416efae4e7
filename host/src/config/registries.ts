// Registry settings as rkt kept them: JSON files in `auth.d/` under the system and local config
// dirs (local wins per registry). Two kinds:
//   {"tspodKind": "dockerAuth", "tspodVersion": "v1", "registries": ["host[:port]"],
//    "credentials": {"user": "...", "password": "..."}}       basic credentials (also for tokens)
//   {"tspodKind": "insecureRegistries", "tspodVersion": "v1", "registries": ["host[:port]"]}
//                                                              plain HTTP allowed for these only
//   {"tspodKind": "lookaside", "tspodVersion": "v1", "registries": ["host[:port]"], "dir": "/path"}
//   {"tspodKind": "lookaside", "tspodVersion": "v1", "registries": ["host[:port]"], "url": "https://..."}
//                      where simple-signing signatures are kept (containers/image's lookaside layout)
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { ok, err, type Result } from '../result.js';
import { ErrorCodes, tspodError, type TspodError } from '../errors.js';

export interface RegistrySettings {
  readonly credentials: ReadonlyMap<string, { readonly username: string; readonly password: string }>;
  readonly insecure: ReadonlySet<string>;
  /** Where each registry's simple-signing signatures are: a directory or an https:// base URL. */
  readonly lookaside: ReadonlyMap<string, string>;
}

interface ConfigFile {
  tspodKind?: string;
  tspodVersion?: string;
  registries?: unknown;
  credentials?: { user?: unknown; password?: unknown };
  dir?: unknown;
  url?: unknown;
}

function readDir(dir: string): Result<Array<[string, ConfigFile]>, TspodError> {
  let names: string[];
  try {
    names = readdirSync(dir).filter((n) => n.endsWith('.json')).sort();
  } catch {
    return ok([]);
  }
  const out: Array<[string, ConfigFile]> = [];
  for (const n of names) {
    const path = join(dir, n);
    try {
      out.push([path, JSON.parse(readFileSync(path, 'utf8')) as ConfigFile]);
    } catch (e) {
      return err(tspodError(ErrorCodes.CONFIG, `read ${path}`, `it is not valid JSON (${(e as Error).message})`, 'fix or remove the file'));
    }
  }
  return ok(out);
}

function bad(path: string, why: string): TspodError {
  return tspodError(ErrorCodes.CONFIG, `read ${path}`, why, 'see the registry configuration in the README');
}

/** System settings first, then local ones, which override them registry by registry. */
export function loadRegistrySettings(systemConfig: string, localConfig: string): Result<RegistrySettings, TspodError> {
  const credentials = new Map<string, { username: string; password: string }>();
  const insecure = new Set<string>();
  const lookaside = new Map<string, string>();
  for (const base of [systemConfig, localConfig]) {
    const files = readDir(join(base, 'auth.d'));
    if (files.isErr()) return err(files.error);
    for (const [path, f] of files.value) {
      if (f.tspodVersion !== 'v1') return err(bad(path, `tspodVersion must be "v1", not ${JSON.stringify(f.tspodVersion)}`));
      const registries = Array.isArray(f.registries) && f.registries.every((r) => typeof r === 'string') ? (f.registries as string[]) : undefined;
      if (!registries) return err(bad(path, '"registries" must be a list of host[:port] strings'));
      if (f.tspodKind === 'insecureRegistries') for (const r of registries) insecure.add(r);
      else if (f.tspodKind === 'lookaside') {
        const where = typeof f.dir === 'string' && f.dir.startsWith('/') ? f.dir
          : typeof f.url === 'string' && /^https?:\/\//.test(f.url) ? f.url : undefined;
        if (!where) return err(bad(path, 'a lookaside needs "dir" (an absolute path) or "url" (https://...)'));
        for (const r of registries) lookaside.set(r, where);
      }
      else if (f.tspodKind === 'dockerAuth') {
        const { user, password } = f.credentials ?? {};
        if (typeof user !== 'string' || typeof password !== 'string') return err(bad(path, '"credentials" needs "user" and "password" strings'));
        for (const r of registries) credentials.set(r, { username: user, password });
      } else return err(bad(path, `unknown tspodKind ${JSON.stringify(f.tspodKind)} (dockerAuth, insecureRegistries or lookaside)`));
    }
  }
  return ok({ credentials, insecure, lookaside });
}
