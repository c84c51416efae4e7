// `tspod image sign --key SECRET.asc [--passphrase-file F] [--overwrite] FILE.aci`: writes the
// armored detached signature FILE.aci.asc (SHA-512), atomically; never replaces an existing
// signature unless asked.
import { lstat } from 'node:fs/promises';
import { ErrorCodes, describeErrno, tspodError } from '../errors.js';
import { fsError, MAX_KEY_BYTES, readBoundedFile, writeFileAtomic } from '../trust/keystore.js';
import { signDetached } from '../trust/sign.js';
import { fail, parseFlags, usageError, type CommandContext } from './command.js';

const HELP = `Usage: tspod image sign --key SECRET.asc [--passphrase-file F] [--overwrite] FILE.aci

Writes FILE.aci.asc, an armored detached OpenPGP signature of the exact bytes of FILE.aci
(SHA-512), as \`gpg --armor --detach-sign\` would. Prints the signature's path.

  --key SECRET.asc      the secret key (armored or binary), e.g. from
                        \`gpg --armor --export-secret-keys FINGERPRINT\`
  --passphrase-file F   the key's passphrase is the first line of F
  --overwrite           replace an existing FILE.aci.asc
  --help, -h            this help

Verifiers trust the matching public key with \`tspod trust --prefix NAME PUBLIC.asc\`.
`;

const MAX_PASSPHRASE_BYTES = 4096;

export async function run(ctx: CommandContext, argv: string[]): Promise<number> {
  const parsed = parseFlags(ctx, 'image sign', argv, {
    key: { type: 'string' },
    'passphrase-file': { type: 'string' },
    overwrite: { type: 'boolean' },
  }, HELP);
  if (typeof parsed === 'number') return parsed;
  const { values, positionals } = parsed;
  if (values.key === undefined) return fail(ctx, usageError('image sign', 'missing --key SECRET.asc'));
  if (positionals.length !== 1) return fail(ctx, usageError('image sign', `expected one FILE.aci, got ${positionals.length} operands`));
  const file = positionals[0]!;
  const target = `${file}.asc`;
  const what = `sign ${file}`;
  const overwrite = values.overwrite === true;
  const exists = tspodError(ErrorCodes.EXISTS, what, `the signature ${target} already exists`, 'pass --overwrite to replace it');

  if (!overwrite) {
    try {
      await lstat(target);
      return fail(ctx, exists);
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== 'ENOENT') return fail(ctx, fsError(what, target, e));
    }
  }

  let key: Buffer;
  try {
    key = await readBoundedFile(values.key, MAX_KEY_BYTES);
  } catch (e) {
    return fail(ctx, tspodError(ErrorCodes.IO, what, `cannot read the key ${values.key}: ${describeErrno(e)}`, 'check the --key path', e));
  }
  let passphrase: string | undefined;
  if (values['passphrase-file'] !== undefined) {
    const f = values['passphrase-file'];
    try {
      const text = (await readBoundedFile(f, MAX_PASSPHRASE_BYTES)).toString('utf8');
      passphrase = text.split(/\r?\n/, 1)[0] ?? '';
    } catch (e) {
      return fail(ctx, tspodError(ErrorCodes.IO, what, `cannot read the passphrase file ${f}: ${describeErrno(e)}`, 'check the --passphrase-file path', e));
    }
  }

  const signed = await signDetached(file, new Uint8Array(key.buffer, key.byteOffset, key.byteLength), passphrase);
  if (signed.isErr()) return fail(ctx, signed.error);
  try {
    await writeFileAtomic(target, signed.value, { mode: 0o644, overwrite });
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'EEXIST') return fail(ctx, exists);
    return fail(ctx, fsError(`write the signature of ${file}`, target, e, 'check that the directory of FILE.aci is writable'));
  }
  ctx.stdout.write(`${target}\n`);
  return 0;
}
