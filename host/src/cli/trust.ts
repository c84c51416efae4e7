// `tspod trust`: manage the keys trusted to sign images (rkt's `rkt trust`, plus list and rm).
//
//   tspod trust --prefix PREFIX KEY.asc...   trust for image names under PREFIX
//   tspod trust --root KEY.asc...            trust for every image name
//   tspod trust list [--format text|json]
//   tspod trust rm FINGERPRINT...
//
// Keys are shown (fingerprint, user IDs) and must be confirmed on a terminal; without a
// terminal, --skip-fingerprint-review is required. Keys are written to the local config dir
// (--local-config); system keys (--system-config) are only read, and `rm` masks them.
import { createInterface, type Interface } from 'node:readline';
import { stat } from 'node:fs/promises';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { basename, join } from 'node:path';
import { ok, err, type Result } from '../result.js';
import { ErrorCodes, describeErrno, exitCodeFor, tspodError, type TspodError } from '../errors.js';
import {
  Keystore, MAX_KEY_BYTES, describeKey, formatFingerprint, keyUnusableReason, parsePublicKey, prefixProblem,
  readBoundedFile, type TrustTarget,
} from '../trust/keystore.js';
import { fail, parseFlags, usageError, type CommandContext } from './command.js';

const HELP = `Usage:
  tspod trust --prefix PREFIX [--skip-fingerprint-review] [KEY.asc...]
      (no KEY: the keys that meta discovery offers for PREFIX, fetched over HTTPS)
  tspod trust --root [--skip-fingerprint-review] KEY.asc...
  tspod trust list [--format text|json]
  tspod trust rm FINGERPRINT...

Trusts OpenPGP public keys to sign images. A key trusted with --prefix example.com/app
verifies images named example.com/app and example.com/app/...; a root key (--root)
verifies every image. Each key's fingerprint and user IDs are shown and must be
confirmed (yes/no) on a terminal.

Keys are stored in the local config dir (--local-config, default /etc/tspod) as
trustedkeys/prefix.d/PREFIX/FINGERPRINT or trustedkeys/root.d/FINGERPRINT; the system
config dir (--system-config, default /usr/lib/tspod) holds vendor keys, which an empty
local file of the same path masks.

  --prefix PREFIX            trust the keys for image names under PREFIX
  --root                     trust the keys for every image name
  --skip-fingerprint-review  do not ask (for scripts: check the fingerprint first!)
  --format text|json         list: output format (default text)
  --help, -h                 this help

  list                       the trusted keys: prefix (or root), fingerprint, source, user IDs
  rm FINGERPRINT             stop trusting a key: removes its local files and masks system copies

A key file named "list" or "rm" must be given as ./list or ./rm.
`;

function reviewText(file: string, target: TrustTarget, d: { fingerprint: string; userIds: readonly string[] }, subkeys: string[]): string {
  const lines = [
    'root' in target ? 'Root key: trusted for every image name' : `Prefix: ${JSON.stringify(target.prefix)}`,
    `Key: ${JSON.stringify(file)}`,
    `GPG key fingerprint is: ${formatFingerprint(d.fingerprint)}`,
    ...subkeys.map((s) => `\tSubkey fingerprint: ${formatFingerprint(s)}`),
    ...d.userIds.map((u) => `\t${u}`),
  ];
  return lines.join('\n') + '\n';
}

/** Asks until yes or no (at most three times); end of input or anything else counts as no. */
async function confirm(ctx: CommandContext, lines: AsyncIterator<string>, question: string): Promise<boolean> {
  for (let i = 0; i < 3; i++) {
    ctx.stderr.write(`${question} `);
    const { value, done } = await lines.next();
    if (done) {
      ctx.stderr.write('\n');
      return false;
    }
    const a = String(value).trim().toLowerCase();
    if (a === 'yes' || a === 'y') return true;
    if (a === 'no' || a === 'n') return false;
    ctx.stderr.write('Please answer yes or no.\n');
  }
  return false;
}

function keystoreOf(ctx: CommandContext): Keystore {
  return new Keystore({ systemDir: ctx.globals.systemConfig, localDir: ctx.globals.localConfig });
}

async function runAdd(ctx: CommandContext, argv: string[]): Promise<number> {
  const parsed = parseFlags(ctx, 'trust', argv, {
    prefix: { type: 'string' },
    root: { type: 'boolean' },
    'skip-fingerprint-review': { type: 'boolean' },
  }, HELP);
  if (typeof parsed === 'number') return parsed;
  const { values, positionals } = parsed;
  if (values.prefix !== undefined && values.root) return fail(ctx, usageError('trust', '--prefix and --root exclude each other'));
  if (values.prefix === undefined && !values.root) {
    return fail(ctx, tspodError(ErrorCodes.USAGE, 'trust', 'no --prefix or --root: tspod does not trust a key for every image name implicitly',
      'pass --prefix PREFIX (e.g. --prefix example.com/app) to trust the key for names under PREFIX, or --root to trust it for every name'));
  }
  if (values.prefix !== undefined) {
    const problem = prefixProblem(values.prefix);
    if (problem !== null) return fail(ctx, usageError('trust', `the prefix ${JSON.stringify(values.prefix)}: ${problem}`));
  }
  if (positionals.length === 0 && values.prefix === undefined) {
    return fail(ctx, usageError('trust', 'expected one or more public key files (KEY.asc)'));
  }
  let discovered: { dir: string; files: string[] } | undefined;
  if (positionals.length === 0) {
    // rkt's `trust --prefix NAME` without a key: the keys meta discovery offers (ac-discovery-pubkeys),
    // over HTTPS, each still shown for review before it is trusted.
    const found = await discoverKeys(ctx, values.prefix!);
    if (found.isErr()) return fail(ctx, found.error);
    discovered = found.value;
    positionals.push(...found.value.files);
  }
  const target: TrustTarget = values.prefix !== undefined ? { prefix: values.prefix } : { root: true };
  const skipReview = values['skip-fingerprint-review'] === true;
  const keystore = keystoreOf(ctx);
  const interactive = process.stdin.isTTY === true;
  let rl: Interface | undefined;
  try {
    for (const file of positionals) {
      const what = `trust ${file}`;
      if (/^[a-z][a-z0-9+.-]*:\/\//i.test(file)) {
        return fail(ctx, usageError('trust', `${file} is a URL; tspod trust takes key files: download the key over HTTPS, check its fingerprint, then pass the file`));
      }
      let bytes: Buffer;
      try {
        bytes = await readBoundedFile(file, MAX_KEY_BYTES);
      } catch (e) {
        return fail(ctx, tspodError(ErrorCodes.IO, what, `cannot read ${file}: ${describeErrno(e)}`, 'check the path of the public key file', e));
      }
      const keyBytes = new Uint8Array(bytes.buffer, bytes.byteOffset, bytes.byteLength);
      const key = await parsePublicKey(keyBytes, what, file);
      if (key.isErr()) return fail(ctx, key.error);
      const d = describeKey(key.value);
      const unusable = await keyUnusableReason(key.value);
      if (unusable !== null) {
        return fail(ctx, tspodError(ErrorCodes.KEY_INVALID, what, `key ${d.fingerprint} ${unusable}`,
          'ask the key owner for the current key (or refresh it: `gpg --refresh-keys` then export it again)'));
      }
      const subkeys = key.value.getSubkeys().map((s) => s.getFingerprint().toLowerCase());
      ctx.stderr.write(reviewText(file, target, d, subkeys));
      if (!skipReview) {
        if (!interactive) {
          const flags = 'root' in target ? '--root' : `--prefix ${target.prefix}`;
          return fail(ctx, tspodError(ErrorCodes.SIG_UNTRUSTED, what,
            'standard input is not a terminal, so no one can confirm the fingerprint above; the key was not trusted',
            `check the fingerprint with the key's owner, then run \`tspod trust ${flags} --skip-fingerprint-review ${file}\``));
        }
        rl ??= createInterface({ input: process.stdin, terminal: false });
        const yes = await confirm(ctx, rl[Symbol.asyncIterator](), 'Are you sure you want to trust this key (yes/no)?');
        if (!yes) {
          return fail(ctx, tspodError(ErrorCodes.SIG_UNTRUSTED, what, 'the answer was not yes; the key was not trusted', 'nothing was changed'));
        }
      }
      ctx.stderr.write('root' in target ? `Trusting ${JSON.stringify(file)} for every image name.\n` : `Trusting ${JSON.stringify(file)} for prefix ${JSON.stringify(target.prefix)}.\n`);
      const added = await keystore.add(keyBytes, target);
      if (added.isErr()) return fail(ctx, added.error);
      ctx.stdout.write(added.value.root
        ? `Added root key at ${JSON.stringify(added.value.path)}\n`
        : `Added key for prefix ${JSON.stringify(added.value.prefix)} at ${JSON.stringify(added.value.path)}\n`);
    }
    return 0;
  } finally {
    rl?.close();
    if (rl) process.stdin.pause();
    if (discovered) rmSync(discovered.dir, { recursive: true, force: true });
  }
}

/** Downloads the keys discovery offers for prefix into a private temp dir. */
async function discoverKeys(ctx: CommandContext, prefix: string): Promise<Result<{ dir: string; files: string[] }, TspodError>> {
  const { discover } = await import('../fetch/discovery.js');
  const { downloadToFile } = await import('../fetch/http.js');
  const insecure = { http: ctx.globals.insecure.has('pubkey') || ctx.globals.insecure.has('http'), tls: ctx.globals.insecure.has('tls') };
  const port = Number(process.env['TSPOD_DISCOVERY_PORT']) || undefined;
  const found = await discover(prefix, {}, { insecure, want: 'pubkeys', ...(port && { port }) });
  if (found.isErr()) return err(found.error);
  if (found.value.pubkeys.length === 0) {
    return err(tspodError(ErrorCodes.DISCOVERY, `discover keys for ${prefix}`, 'discovery offers no keys (ac-discovery-pubkeys)', 'get the key file from the publisher and pass it'));
  }
  const dir = mkdtempSync(join(tmpdir(), 'tspod-trust-'));
  const files: string[] = [];
  for (const [i, url] of found.value.pubkeys.entries()) {
    const dest = join(dir, `${i}-${basename(new URL(url).pathname) || 'key'}`);
    ctx.stderr.write(`Downloading key from ${url}\n`);
    const got = await downloadToFile(url, { dest, insecure });
    if (got.isErr()) {
      rmSync(dir, { recursive: true, force: true });
      return err(got.error);
    }
    files.push(dest);
  }
  return ok({ dir, files });
}

async function runList(ctx: CommandContext, argv: string[]): Promise<number> {
  const parsed = parseFlags(ctx, 'trust list', argv, { format: { type: 'string' } }, HELP);
  if (typeof parsed === 'number') return parsed;
  if (parsed.positionals.length > 0) return fail(ctx, usageError('trust list', `unexpected argument ${JSON.stringify(parsed.positionals[0])}`));
  const { values } = parsed;
  const format = values.format ?? 'text';
  if (format !== 'text' && format !== 'json') return fail(ctx, usageError('trust list', `unknown format ${JSON.stringify(format)} (text or json)`));
  const keys = await keystoreOf(ctx).list();
  if (keys.isErr()) return fail(ctx, keys.error);
  if (format === 'json') {
    ctx.stdout.write(JSON.stringify(keys.value, null, 2) + '\n');
    return 0;
  }
  const rows = [['PREFIX', 'FINGERPRINT', 'SOURCE', 'USER IDS'],
    ...keys.value.map((k) => [k.prefix ?? '(root)', k.fingerprint, k.source, k.userIds.join(', ')])];
  const widths = [0, 1, 2].map((c) => Math.max(...rows.map((r) => r[c]!.length)));
  ctx.stdout.write(rows.map((r) => r.map((cell, c) => (c < 3 ? cell.padEnd(widths[c]!) : cell)).join('  ').trimEnd()).join('\n') + '\n');
  return 0;
}

async function runRm(ctx: CommandContext, argv: string[]): Promise<number> {
  const parsed = parseFlags(ctx, 'trust rm', argv, {}, HELP);
  if (typeof parsed === 'number') return parsed;
  if (parsed.positionals.length === 0) return fail(ctx, usageError('trust rm', 'expected one or more key fingerprints'));
  const keystore = keystoreOf(ctx);
  let firstError: TspodError | undefined;
  for (const fpr of parsed.positionals) {
    const removed = await keystore.remove(fpr);
    if (removed.isErr()) {
      // Go on with the others, as `rm` does; report each failure, exit with the first one's code.
      if (removed.error.code === ErrorCodes.USAGE) return fail(ctx, removed.error);
      fail(ctx, removed.error);
      firstError ??= removed.error;
      continue;
    }
    for (const path of removed.value) {
      const masked = await stat(path).then((s) => s.size === 0, () => false);
      ctx.stdout.write(masked ? `Masked the system key with the empty file ${JSON.stringify(path)}\n` : `Removed ${JSON.stringify(path)}\n`);
    }
  }
  return firstError === undefined ? 0 : exitCodeFor(firstError);
}

export async function run(ctx: CommandContext, argv: string[]): Promise<number> {
  const [first, ...rest] = argv;
  if (first === 'list') return runList(ctx, rest);
  if (first === 'rm') return runRm(ctx, rest);
  return runAdd(ctx, argv);
}
