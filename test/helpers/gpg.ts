// Real GnuPG for the signature suites: a throwaway GNUPGHOME in a temp dir, keys made with
// `gpg --quick-gen-key`, armored exports, detached signatures (optionally SHA-1, text mode, or at
// a faked time), revocation. cleanup() stops the agent that gpg starts and removes the home.
import { spawnSync } from 'node:child_process';
import { chmodSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { removeDir, tempDir } from './cli.js';

export interface GpgKey {
  /** Lower-case hex fingerprint (tspod's spelling); gpg accepts it as a key selector. */
  readonly fingerprint: string;
  readonly uid: string;
}

export interface GenKeyOptions {
  /** gpg --quick-gen-key algo: ed25519 (default), rsa3072, ... */
  readonly algo?: string;
  /** usage: sign (default), encr, ... */
  readonly usage?: string;
  /** expiry: never (default), 1d, seconds=N, ... */
  readonly expire?: string;
  /** Pretend the key was made at this time (gpg --faked-system-time, e.g. 20200101T000000). */
  readonly fakedTime?: string;
  /** Protect the secret key with this passphrase (default: none). */
  readonly passphrase?: string;
}

export interface SignOptions {
  readonly armor?: boolean;
  /** gpg --digest-algo (SHA1, SHA256, SHA512). */
  readonly digest?: string;
  readonly textmode?: boolean;
  readonly fakedTime?: string;
  /** Output path (default: FILE.asc when armored, FILE.sig otherwise). */
  readonly out?: string;
}

export class Gpg {
  readonly home: string;

  constructor() {
    this.home = tempDir('gpg');
    chmodSync(this.home, 0o700);
  }

  /** Runs gpg with this home; throws with stderr when it fails. */
  run(args: string[], input?: string): string {
    const r = spawnSync('gpg', ['--batch', '--yes', '--no-tty', ...args], {
      encoding: 'utf8',
      input,
      env: { ...process.env, GNUPGHOME: this.home },
      maxBuffer: 64 << 20,
    });
    if (r.status !== 0) throw new Error(`gpg ${args.join(' ')} failed (${r.status}): ${r.stderr}`);
    return r.stdout;
  }

  /** Runs gpg and returns its status and output, whatever they are (for `gpg --verify`). */
  try(args: string[]): { status: number | null; stdout: string; stderr: string } {
    const r = spawnSync('gpg', ['--batch', '--no-tty', ...args], { encoding: 'utf8', env: { ...process.env, GNUPGHOME: this.home } });
    return { status: r.status, stdout: r.stdout, stderr: r.stderr };
  }

  private faked(time: string | undefined): string[] {
    return time ? ['--faked-system-time', time] : [];
  }

  genKey(uid: string, opts: GenKeyOptions = {}): GpgKey {
    const pass = opts.passphrase ?? '';
    this.run([...this.faked(opts.fakedTime), '--pinentry-mode', 'loopback', '--passphrase', pass,
      '--quick-gen-key', uid, opts.algo ?? 'ed25519', opts.usage ?? 'sign', opts.expire ?? 'never']);
    const listing = this.run(['--with-colons', '--fingerprint', '--list-keys', `=${uid}`]);
    const fpr = /^fpr:+([0-9A-F]+):/m.exec(listing);
    if (!fpr) throw new Error(`no fingerprint for ${uid} in:\n${listing}`);
    return { fingerprint: fpr[1]!.toLowerCase(), uid };
  }

  exportPublic(key: GpgKey, armor = true): Buffer {
    const r = spawnSync('gpg', ['--batch', '--no-tty', ...(armor ? ['--armor'] : []), '--export', key.fingerprint],
      { env: { ...process.env, GNUPGHOME: this.home } });
    if (r.status !== 0 || r.stdout.length === 0) throw new Error(`gpg --export ${key.fingerprint} failed: ${r.stderr.toString()}`);
    return r.stdout;
  }

  exportSecret(key: GpgKey, passphrase = ''): string {
    return this.run(['--pinentry-mode', 'loopback', '--passphrase', passphrase, '--armor', '--export-secret-keys', key.fingerprint]);
  }

  importKey(armored: string | Buffer): void {
    const path = join(this.home, `import-${Date.now()}-${Math.random().toString(16).slice(2)}.asc`);
    writeFileSync(path, armored);
    this.run(['--import', path]);
  }

  /** A detached signature of `file` by `key`; returns its path. */
  sign(key: GpgKey, file: string, opts: SignOptions = {}): string {
    const armor = opts.armor ?? true;
    const out = opts.out ?? `${file}${armor ? '.asc' : '.sig'}`;
    this.run([...this.faked(opts.fakedTime), '--local-user', key.fingerprint,
      ...(opts.digest ? ['--digest-algo', opts.digest] : []), ...(opts.textmode ? ['--textmode'] : []),
      ...(armor ? ['--armor'] : []), '--output', out, '--detach-sign', file]);
    return out;
  }

  /** Revokes the key by importing the revocation certificate gpg stored when it made the key. */
  revoke(key: GpgKey): void {
    const rev = readFileSync(join(this.home, 'openpgp-revocs.d', `${key.fingerprint.toUpperCase()}.rev`), 'utf8');
    // gpg prefixes the armor line with ':' so that the certificate is not imported by accident.
    this.importKey(rev.replace(/^:-----BEGIN/m, '-----BEGIN'));
  }

  /** The packet dump of a signature or key (gpg --list-packets). */
  listPackets(path: string): string {
    return this.run(['--list-packets', path]);
  }

  /** Stops gpg-agent (and any other daemon) started for this home, then removes it. */
  cleanup(): void {
    spawnSync('gpgconf', ['--kill', 'all'], { env: { ...process.env, GNUPGHOME: this.home } });
    removeDir(this.home);
  }
}
