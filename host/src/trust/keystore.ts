// Trusted keys, laid out on disk as rkt's keystore (rkt.md §2.5):
//
//   <config dir>/trustedkeys/root.d/<fingerprint>                 trusted for every image name
//   <config dir>/trustedkeys/prefix.d/<prefix path>/<fingerprint> trusted for names under the prefix
//
// in two config dirs: the system one (vendor keys, default /usr/lib/tspod) and the local one
// (administrator, default /etc/tspod). A file holds one armored public key and is named by its
// lower-case hex fingerprint. At the same location, a local file replaces the system file of the
// same name, and an EMPTY local file masks it (the system key is then not trusted there).
// Masking is per location, as in rkt: an empty local root.d/<fpr> does not mask a system
// prefix.d/a.com/<fpr>.
//
// The keyring for the image name `a.com/b/c` is every root key plus the keys in the prefix dirs
// `a.com`, `a.com/b` and `a.com/b/c`. Prefixes are path components, never string prefixes:
// a key for `a.com/b` is not trusted for `a.com/bc`.
//
// openpgp is imported lazily (loadOpenpgp) so that merely loading this module costs nothing.
import { randomBytes } from 'node:crypto';
import { link, mkdir, open, readdir, rename, stat, unlink, chmod } from 'node:fs/promises';
import type { Dirent } from 'node:fs';
import { basename, dirname, join } from 'node:path';
import type { Key, KeyID, PublicKey } from 'openpgp';
import { ErrorCodes, describeErrno, tspodError, type TspodError } from '../errors.js';
import { ok, err, errAsync, ResultAsync, type Result } from '../result.js';

export type OpenPGP = typeof import('openpgp');

let openpgpModule: Promise<OpenPGP> | undefined;

/** openpgp is large (≈ 0.1 s to load): import it only when a key or signature is handled. */
export function loadOpenpgp(): Promise<OpenPGP> {
  openpgpModule ??= import('openpgp');
  return openpgpModule;
}

/** appc's AC Identifier: image names and trust prefixes. */
export const AC_IDENTIFIER = /^[a-z0-9]+([-._~/][a-z0-9]+)*$/;
/** v4 (SHA-1, 40 hex) and v6 (SHA-256, 64 hex) fingerprints, as key file names. */
const FINGERPRINT_NAME = /^(?:[0-9a-f]{40}|[0-9a-f]{64})$/;
/** A public key file larger than this is refused unread (keys with many certifications stay far below). */
export const MAX_KEY_BYTES = 1 << 20;
/** Longer prefixes than any real image name are refused (PATH_MAX is 4096 for the whole path). */
export const MAX_PREFIX_LENGTH = 1024;
/** Bounds the walk of prefix.d against symlink loops. */
const MAX_PREFIX_DEPTH = 64;

export type KeySource = 'system' | 'local';

export interface TrustedKeyInfo {
  /** Lower-case hex fingerprint of the primary key (also the file name). */
  readonly fingerprint: string;
  /** The key's user IDs, `Name (comment) <mail>`. */
  readonly userIds: readonly string[];
  /** The prefix the key is trusted for; null for a root key. */
  readonly prefix: string | null;
  /** True for a root key: trusted for every image name. */
  readonly root: boolean;
  /** The file that holds the key. */
  readonly path: string;
  /** Which config dir the file is in. */
  readonly source: KeySource;
}

export interface TrustedKey extends TrustedKeyInfo {
  readonly key: PublicKey;
}

export type TrustTarget = { readonly prefix: string } | { readonly root: true };

export interface KeystoreDirs {
  /** Vendor configuration, default /usr/lib/tspod. */
  readonly systemDir: string;
  /** Administrator configuration, default /etc/tspod: where `add` and `remove` write. */
  readonly localDir: string;
}

/** Why a prefix (or image name) is not an AC Identifier, or null if it is one. */
export function prefixProblem(prefix: string): string | null {
  if (prefix.length === 0) return 'it is empty';
  if (prefix.length > MAX_PREFIX_LENGTH) return `it is ${prefix.length} characters long (at most ${MAX_PREFIX_LENGTH})`;
  if (!AC_IDENTIFIER.test(prefix)) {
    return 'it is not an AC Identifier: lower-case letters and digits, separated by single - . _ ~ or /, ' +
      'not starting or ending with a separator (e.g. example.com/app)';
  }
  return null;
}

/** Accepts a fingerprint as gpg prints it (any case, spaces); returns lower-case hex or null. */
export function normalizeFingerprint(text: string): string | null {
  const hex = text.replace(/\s+/g, '').toLowerCase();
  return FINGERPRINT_NAME.test(hex) ? hex : null;
}

/** gpg's display: upper case, groups of four, a double space in the middle. */
export function formatFingerprint(fingerprint: string): string {
  const groups = fingerprint.toUpperCase().match(/.{1,4}/g) ?? [];
  const half = Math.ceil(groups.length / 2);
  return `${groups.slice(0, half).join(' ')}  ${groups.slice(half).join(' ')}`;
}

export function hex(bytes: Uint8Array): string {
  return Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString('hex');
}

function errorText(e: unknown): string {
  return e instanceof Error ? e.message : String(e);
}

/** EACCES/EPERM become PERMISSION (the fix is different); everything else is IO. */
export function fsError(what: string, path: string, e: unknown, hint?: string): TspodError {
  const code = (e as NodeJS.ErrnoException | undefined)?.code;
  if (code === 'EACCES' || code === 'EPERM' || code === 'EROFS') {
    return tspodError(ErrorCodes.PERMISSION, what, `${path}: ${describeErrno(e)}`,
      hint ?? `run as root, or as a user who may write ${dirname(path)}`, e);
  }
  return tspodError(ErrorCodes.IO, what, `${path}: ${describeErrno(e)}`, hint ?? 'check that the path exists and is readable', e);
}

/** True when the bytes start (after blank space) with an ASCII armor header. */
export function looksArmored(bytes: Uint8Array): boolean {
  const head = Buffer.from(bytes.buffer, bytes.byteOffset, Math.min(bytes.byteLength, 256)).toString('latin1');
  return head.trimStart().startsWith('-----BEGIN PGP ');
}

/** The armor type of an armored block ("PUBLIC KEY BLOCK", "SIGNATURE", ...), or null. */
export function armorType(bytes: Uint8Array): string | null {
  const head = Buffer.from(bytes.buffer, bytes.byteOffset, Math.min(bytes.byteLength, 256)).toString('latin1').trimStart();
  const m = /^-----BEGIN PGP ([A-Z0-9 ,/]+)-----/.exec(head);
  return m ? m[1]! : null;
}

export interface KeyDescription {
  readonly fingerprint: string;
  readonly userIds: string[];
}

export function describeKey(key: Key): KeyDescription {
  return { fingerprint: key.getFingerprint().toLowerCase(), userIds: key.getUserIDs() };
}

/**
 * Why a key cannot be trusted to sign at `date`, or null if it can: revoked, expired, or no
 * (sub)key with a valid signing capability. `keyID` narrows the check to the (sub)key that made
 * a signature.
 */
export async function keyUnusableReason(key: Key, date: Date = new Date(), keyID?: KeyID): Promise<string | null> {
  if (await key.isRevoked(undefined, undefined, date)) return 'has been revoked';
  const expires = await key.getExpirationTime();
  if (expires instanceof Date && expires.getTime() <= date.getTime()) return `expired on ${expires.toISOString()}`;
  try {
    await key.getSigningKey(keyID, date);
  } catch (e) {
    const why = errorText(e);
    if (/revoked/i.test(why)) return keyID ? `has its signing subkey ${keyID.toHex()} revoked` : 'has been revoked';
    if (/expired/i.test(why)) return keyID ? `has its signing subkey ${keyID.toHex()} expired` : 'has expired';
    return keyID
      ? `has no valid signing key with key ID ${keyID.toHex()} (${why})`
      : `has no valid key that may sign (${why})`;
  }
  return null;
}

/**
 * Parses one public key (armored or binary). Refuses garbage, several keys in one file, and
 * secret keys (a trust store never holds them). Does not check expiry or revocation: see
 * keyUnusableReason.
 */
/** Every key in an armored or binary key file; throws openpgp's error on anything else. */
export async function readKeys(openpgp: OpenPGP, bytes: Uint8Array): Promise<Key[]> {
  return looksArmored(bytes)
    ? openpgp.readKeys({ armoredKeys: Buffer.from(bytes).toString('utf8') })
    : openpgp.readKeys({ binaryKeys: bytes });
}

export async function parsePublicKey(bytes: Uint8Array, what: string, name: string): Promise<Result<PublicKey, TspodError>> {
  const openpgp = await loadOpenpgp();
  const armored = looksArmored(bytes);
  const type = armored ? armorType(bytes) : null;
  if (armored && type !== 'PUBLIC KEY BLOCK' && type !== 'PRIVATE KEY BLOCK') {
    return err(tspodError(ErrorCodes.KEY_INVALID, what, `${name} is an armored ${type ?? 'block of unknown type'}, not a public key`,
      'pass the public key: `gpg --armor --export FINGERPRINT > KEY.asc`'));
  }
  let keys: Key[];
  try {
    keys = await readKeys(openpgp, bytes);
  } catch (e) {
    return err(tspodError(ErrorCodes.KEY_INVALID, what, `${name} is not an OpenPGP public key: ${errorText(e)}`,
      'pass an armored (or binary) public key: `gpg --armor --export FINGERPRINT > KEY.asc`', e));
  }
  if (keys.length !== 1) {
    return err(tspodError(ErrorCodes.KEY_INVALID, what, `${name} holds ${keys.length} keys; tspod trusts one key per file`,
      'export each key to its own file (`gpg --armor --export FINGERPRINT`) and trust them one by one'));
  }
  const key = keys[0]!;
  if (key.isPrivate()) {
    return err(tspodError(ErrorCodes.KEY_INVALID, what,
      `${name} is a secret (private) key ${key.getFingerprint().toLowerCase()}; a trust store holds public keys only`,
      'export the public key with `gpg --armor --export FINGERPRINT > KEY.asc` and keep the secret key off this machine'));
  }
  return ok(key as PublicKey);
}

/**
 * Writes a file so that readers see the old content or the new one, never a part: a temp file
 * in the same directory, fsync, then rename (overwrite) or link (refuses an existing target
 * atomically with EEXIST). Throws errno exceptions; the temp file is removed on failure.
 */
export async function writeFileAtomic(path: string, data: string | Uint8Array, opts: { mode: number; overwrite: boolean }): Promise<void> {
  const dir = dirname(path);
  const tmp = join(dir, `.${basename(path)}.${randomBytes(6).toString('hex')}.tmp`);
  const fh = await open(tmp, 'wx', opts.mode);
  try {
    try {
      await fh.writeFile(data);
      await fh.chmod(opts.mode); // the umask applies to open(2)'s mode, not to chmod
      await fh.sync();
    } finally {
      await fh.close();
    }
    if (opts.overwrite) {
      await rename(tmp, path);
    } else {
      await link(tmp, path);
      await unlink(tmp);
    }
  } catch (e) {
    await unlink(tmp).catch(() => undefined);
    throw e;
  }
  // Make the rename durable; a directory that cannot be opened or synced is not worth failing for.
  try {
    const d = await open(dir, 'r');
    try {
      await d.sync();
    } finally {
      await d.close();
    }
  } catch {
    // best effort
  }
}

/** mkdir -p with mode 0755 on every directory it creates (whatever the umask). */
async function mkdirs(path: string): Promise<void> {
  const missing: string[] = [];
  for (let p = path; ; p = dirname(p)) {
    try {
      const st = await stat(p);
      if (!st.isDirectory()) {
        throw Object.assign(new Error(`${p} is not a directory`), { code: 'ENOTDIR', syscall: 'mkdir', path: p });
      }
      break;
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== 'ENOENT' || dirname(p) === p) throw e;
      missing.unshift(p);
    }
  }
  for (const p of missing) {
    try {
      await mkdir(p, 0o755);
      await chmod(p, 0o755);
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== 'EEXIST') throw e;
    }
  }
}

/** Reads a whole small file, refusing one larger than `max` bytes without reading it. */
export async function readBoundedFile(path: string, max: number): Promise<Buffer> {
  const fh = await open(path, 'r');
  try {
    const st = await fh.stat();
    if (!st.isFile()) throw Object.assign(new Error(`${path} is not a regular file`), { code: 'EINVAL', syscall: 'read', path });
    if (st.size > max) {
      throw Object.assign(new Error(`${path} is ${st.size} bytes (at most ${max})`), { code: 'EFBIG', syscall: 'read', path });
    }
    const buf = Buffer.alloc(st.size);
    let got = 0;
    while (got < st.size) {
      const { bytesRead } = await fh.read(buf, got, st.size - got, got);
      if (bytesRead === 0) break;
      got += bytesRead;
    }
    return buf.subarray(0, got);
  } finally {
    await fh.close();
  }
}

/** A key file found at one location, after applying local-over-system and masking. */
interface Entry {
  readonly name: string;
  readonly path: string;
  readonly source: KeySource;
}

interface Location {
  /** 'root.d' or 'prefix.d/<prefix>' */
  readonly rel: string;
  readonly prefix: string | null;
}

function locationFor(target: TrustTarget): Location {
  return 'root' in target ? { rel: 'root.d', prefix: null } : { rel: join('prefix.d', target.prefix), prefix: target.prefix };
}

interface FileState {
  readonly path: string;
  readonly size: number;
}

async function direntIsDir(dir: string, d: Dirent): Promise<boolean> {
  if (d.isDirectory()) return true;
  if (!d.isSymbolicLink()) return false;
  try {
    return (await stat(join(dir, d.name))).isDirectory();
  } catch {
    return false;
  }
}

export class Keystore {
  readonly systemDir: string;
  readonly localDir: string;

  constructor(dirs: KeystoreDirs) {
    this.systemDir = dirs.systemDir;
    this.localDir = dirs.localDir;
  }

  private base(source: KeySource): string {
    return join(source === 'system' ? this.systemDir : this.localDir, 'trustedkeys');
  }

  /** Where a key for `target` lives in `source` (default: the local dir, where tspod writes). */
  pathFor(fingerprint: string, target: TrustTarget, source: KeySource = 'local'): string {
    return join(this.base(source), locationFor(target).rel, fingerprint);
  }

  /** Fingerprint-named files of one location in one source: name -> path, size. */
  private async filesAt(source: KeySource, rel: string): Promise<Map<string, FileState>> {
    const dir = join(this.base(source), rel);
    const out = new Map<string, FileState>();
    let entries: Dirent[];
    try {
      entries = await readdir(dir, { withFileTypes: true });
    } catch (e) {
      const code = (e as NodeJS.ErrnoException).code;
      if (code === 'ENOENT' || code === 'ENOTDIR') return out;
      throw e;
    }
    for (const d of entries) {
      if (!FINGERPRINT_NAME.test(d.name)) continue; // temp files (.x.tmp), READMEs, subdirectories
      const path = join(dir, d.name);
      let st;
      try {
        st = await stat(path);
      } catch (e) {
        if ((e as NodeJS.ErrnoException).code === 'ENOENT') continue; // dangling link, or removed meanwhile
        throw e;
      }
      if (!st.isFile()) continue;
      out.set(d.name, { path, size: st.size });
    }
    return out;
  }

  /** The effective key files at one location: local replaces system; an empty local file masks. */
  private async entriesAt(rel: string): Promise<Entry[]> {
    const [system, local] = await Promise.all([this.filesAt('system', rel), this.filesAt('local', rel)]);
    const merged = new Map<string, Entry>();
    for (const [name, f] of system) if (f.size > 0) merged.set(name, { name, path: f.path, source: 'system' });
    for (const [name, f] of local) {
      if (f.size === 0) merged.delete(name);
      else merged.set(name, { name, path: f.path, source: 'local' });
    }
    return [...merged.values()].sort((a, b) => a.name.localeCompare(b.name));
  }

  /** Prefixes with a directory under prefix.d in either source, sorted. */
  private async prefixes(): Promise<string[]> {
    const found = new Set<string>();
    const walk = async (root: string, prefix: string, depth: number): Promise<void> => {
      if (depth > MAX_PREFIX_DEPTH) return;
      const dir = prefix ? join(root, prefix) : root;
      let entries: Dirent[];
      try {
        entries = await readdir(dir, { withFileTypes: true });
      } catch (e) {
        const code = (e as NodeJS.ErrnoException).code;
        if (code === 'ENOENT' || code === 'ENOTDIR') return;
        throw e;
      }
      for (const d of entries) {
        const sub = prefix ? `${prefix}/${d.name}` : d.name;
        if (prefixProblem(sub) !== null) continue; // .tmp files, stray names: never a prefix
        if (!(await direntIsDir(dir, d))) continue;
        found.add(sub);
        await walk(root, sub, depth + 1);
      }
    };
    await walk(join(this.base('system'), 'prefix.d'), '', 0);
    await walk(join(this.base('local'), 'prefix.d'), '', 0);
    return [...found].sort();
  }

  private async loadEntry(entry: Entry, loc: Location, what: string): Promise<Result<TrustedKey, TspodError>> {
    let bytes: Buffer;
    try {
      bytes = await readBoundedFile(entry.path, MAX_KEY_BYTES);
    } catch (e) {
      return err(fsError(what, entry.path, e, `check the file, or remove it (\`tspod trust rm ${entry.name}\`)`));
    }
    const parsed = await parsePublicKey(bytes, what, entry.path);
    if (parsed.isErr()) {
      return err({ ...parsed.error, hint: `replace or remove the file ${entry.path}; trust keys with \`tspod trust\`` });
    }
    const key = parsed.value;
    const d = describeKey(key);
    if (d.fingerprint !== entry.name) {
      return err(tspodError(ErrorCodes.KEY_INVALID, what,
        `the key file ${entry.path} holds the key ${d.fingerprint}, not the one its name says`,
        `remove the file and trust the key again with \`tspod trust\`, which names the file by the key's fingerprint`));
    }
    return ok({ fingerprint: d.fingerprint, userIds: d.userIds, prefix: loc.prefix, root: loc.prefix === null, path: entry.path, source: entry.source, key });
  }

  private async load(locations: Location[], what: string): Promise<Result<TrustedKey[], TspodError>> {
    const out: TrustedKey[] = [];
    for (const loc of locations) {
      let entries: Entry[];
      try {
        entries = await this.entriesAt(loc.rel);
      } catch (e) {
        return err(fsError(what, join(this.base('local'), loc.rel), e));
      }
      for (const entry of entries) {
        const key = await this.loadEntry(entry, loc, what);
        if (key.isErr()) return err(key.error);
        out.push(key.value);
      }
    }
    return ok(out);
  }

  /**
   * The keys trusted for the image `name`: the root keys, then the keys of every prefix of the
   * name, shortest first. A damaged key file on the way is an error (KEY_INVALID) naming it.
   */
  keyringFor(name: string): ResultAsync<TrustedKey[], TspodError> {
    const what = `load the trusted keys for ${name}`;
    const problem = prefixProblem(name);
    if (problem !== null) {
      return errAsync(tspodError(ErrorCodes.MANIFEST_INVALID, what, `the image name ${JSON.stringify(name)}: ${problem}`,
        'use a valid appc image name (an AC Identifier such as example.com/app)'));
    }
    const parts = name.split('/');
    const locations: Location[] = [{ rel: 'root.d', prefix: null }];
    for (let i = 1; i <= parts.length; i++) {
      const prefix = parts.slice(0, i).join('/');
      locations.push({ rel: join('prefix.d', prefix), prefix });
    }
    return this.wrap(what, async () => {
      const keys = await this.load(locations, what);
      if (keys.isErr()) return keys;
      const seen = new Set<string>();
      return ok(keys.value.filter((k) => (seen.has(k.fingerprint) ? false : (seen.add(k.fingerprint), true))));
    });
  }

  /** Every effective trusted key with its key material: root keys first, then by prefix. */
  allKeys(): ResultAsync<TrustedKey[], TspodError> {
    const what = 'list the trusted keys';
    return this.wrap(what, async () => {
      let prefixes: string[];
      try {
        prefixes = await this.prefixes();
      } catch (e) {
        return err(fsError(what, join(this.base('local'), 'prefix.d'), e));
      }
      const locations: Location[] = [{ rel: 'root.d', prefix: null }, ...prefixes.map((p) => ({ rel: join('prefix.d', p), prefix: p }))];
      return this.load(locations, what);
    });
  }

  /** Every effective trusted key: prefix (or root), fingerprint, user IDs, path, source. */
  list(): ResultAsync<TrustedKeyInfo[], TspodError> {
    return this.allKeys().map((keys) => keys.map(({ key: _key, ...info }) => info));
  }

  /**
   * Trusts a public key (armored or binary) for a prefix or as a root key: writes it, armored,
   * to the local dir atomically (mode 0644, directories 0755). Refuses invalid prefixes (USAGE),
   * secret keys, several keys, and keys that are expired, revoked or cannot sign (KEY_INVALID).
   * Adding a key over an empty mask file replaces the mask.
   */
  add(armoredOrBinary: Uint8Array, target: TrustTarget): ResultAsync<TrustedKeyInfo, TspodError> {
    const where = 'root' in target ? 'as a root key' : `for prefix ${target.prefix}`;
    const what = `trust a key ${where}`;
    return this.wrap(what, async () => {
      if (!('root' in target)) {
        const problem = prefixProblem(target.prefix);
        if (problem !== null) {
          return err(tspodError(ErrorCodes.USAGE, what, `the prefix ${JSON.stringify(target.prefix)}: ${problem}`,
            'give the image name prefix the key signs, e.g. --prefix example.com/app'));
        }
      }
      if (armoredOrBinary.byteLength > MAX_KEY_BYTES) {
        return err(tspodError(ErrorCodes.KEY_INVALID, what, `the key is ${armoredOrBinary.byteLength} bytes (at most ${MAX_KEY_BYTES})`,
          'export only the public key: `gpg --armor --export FINGERPRINT`'));
      }
      const parsed = await parsePublicKey(armoredOrBinary, what, 'the key');
      if (parsed.isErr()) return err(parsed.error);
      const key = parsed.value;
      const d = describeKey(key);
      const unusable = await keyUnusableReason(key);
      if (unusable !== null) {
        return err(tspodError(ErrorCodes.KEY_INVALID, what, `key ${d.fingerprint} ${unusable}`,
          'ask the key owner for the current key (or refresh it: `gpg --refresh-keys` then export it again)'));
      }
      const loc = locationFor(target);
      const path = join(this.base('local'), loc.rel, d.fingerprint);
      try {
        await mkdirs(dirname(path));
        await writeFileAtomic(path, key.armor(), { mode: 0o644, overwrite: true });
      } catch (e) {
        return err(fsError(what, path, e));
      }
      return ok({ fingerprint: d.fingerprint, userIds: d.userIds, prefix: loc.prefix, root: loc.prefix === null, path, source: 'local' as const });
    });
  }

  /**
   * Stops trusting a key everywhere: deletes its local files, and masks (empty local file) every
   * system copy still in effect, since the system dir belongs to the vendor. Returns the local
   * paths it deleted or wrote (a masked one is an empty file afterwards). NOT_FOUND if no
   * location has the key.
   */
  remove(fingerprint: string): ResultAsync<string[], TspodError> {
    const what = `stop trusting key ${fingerprint}`;
    return this.wrap(what, async () => {
      const fpr = normalizeFingerprint(fingerprint);
      if (fpr === null) {
        return err(tspodError(ErrorCodes.USAGE, what, 'it is not a full key fingerprint (40 or 64 hex digits)',
          'copy the fingerprint from `tspod trust list`'));
      }
      let rels: string[];
      try {
        rels = ['root.d', ...(await this.prefixes()).map((p) => join('prefix.d', p))];
      } catch (e) {
        return err(fsError(what, join(this.base('local'), 'prefix.d'), e));
      }
      const changed: string[] = [];
      for (const rel of rels) {
        let system: Map<string, FileState>;
        let local: Map<string, FileState>;
        try {
          [system, local] = await Promise.all([this.filesAt('system', rel), this.filesAt('local', rel)]);
        } catch (e) {
          return err(fsError(what, join(this.base('local'), rel), e));
        }
        const sys = system.get(fpr);
        const loc = local.get(fpr);
        const localPath = join(this.base('local'), rel, fpr);
        try {
          if (sys !== undefined && sys.size > 0) {
            if (loc !== undefined && loc.size === 0) continue; // already masked
            await mkdirs(dirname(localPath));
            await writeFileAtomic(localPath, new Uint8Array(0), { mode: 0o644, overwrite: true });
            changed.push(localPath);
          } else if (loc !== undefined) {
            await unlink(localPath);
            changed.push(localPath);
          }
        } catch (e) {
          return err(fsError(what, localPath, e));
        }
      }
      if (changed.length === 0) {
        return err(tspodError(ErrorCodes.NOT_FOUND, what, `no trusted key has the fingerprint ${fpr}`, 'run `tspod trust list` to see the trusted keys'));
      }
      return ok(changed);
    });
  }

  /** Runs an async body that returns a Result; an unexpected exception becomes INTERNAL. */
  private wrap<T>(what: string, body: () => Promise<Result<T, TspodError>>): ResultAsync<T, TspodError> {
    return new ResultAsync(
      body().catch((e: unknown) =>
        err<T, TspodError>(tspodError(ErrorCodes.INTERNAL, what, errorText(e), 'please report this with the --debug output', e))),
    );
  }
}
