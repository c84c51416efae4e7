// `tspod util sha256|sha512 FILE|-`: sha256sum-style digests computed by the WASM core, with
// resumable state: `--state-out` saves where a partial input left off, `--state-in` carries on.
import { closeSync, fstatSync, fsyncSync, openSync, readSync, renameSync, unlinkSync, writeSync } from 'node:fs';
import { basename, dirname, join } from 'node:path';
import { randomBytes } from 'node:crypto';
import { parseArgs } from 'node:util';
import { ErrorCodes, describeErrno, tspodError, type TspodError } from '../errors.js';
import { ok, err, type Result } from '../result.js';
import { createCoreHasher, importHashState, type CoreHasher, type HashAlgorithm } from '../core/hash.js';
import { fail, usageError, type CommandContext, type CommandModule } from './command.js';

/** Far above any real state (≤ 216 bytes), so a data file passed by mistake is not slurped. */
const MAX_STATE_BYTES = 4096;

function help(algo: HashAlgorithm): string {
  return `Usage: tspod util ${algo} [--state-in F] [--state-out F] FILE|-

Prints the ${algo.toUpperCase()} digest of FILE (- for standard input) as \`<hex>  <name>\`,
like ${algo}sum, computed by tspod's WASM core.

  --state-in F   resume from the hash state saved in F, then hash the input
  --state-out F  after the input, save the hash state to F (atomically) and print nothing
  --help, -h     this help

Hashing a file in two parts gives the digest of the whole:
  head -c N FILE | tspod util ${algo} --state-out S -
  tail -c +$((N+1)) FILE | tspod util ${algo} --state-in S -
`;
}

interface ShaArgs {
  readonly input: string;
  readonly stateIn: string | undefined;
  readonly stateOut: string | undefined;
  readonly help: boolean;
}

function parseShaArgs(algo: HashAlgorithm, argv: string[]): Result<ShaArgs, TspodError> {
  const command = `util ${algo}`;
  let parsed;
  try {
    parsed = parseArgs({
      args: argv,
      allowPositionals: true,
      options: {
        'state-in': { type: 'string' },
        'state-out': { type: 'string' },
        help: { type: 'boolean', short: 'h' },
      },
    });
  } catch (e) {
    return err(usageError(command, (e as Error).message));
  }
  const { values, positionals } = parsed;
  const args = { stateIn: values['state-in'], stateOut: values['state-out'], help: values.help === true };
  if (args.help) return ok({ ...args, input: '-' });
  if (positionals.length !== 1) {
    return err(usageError(command, `expected one FILE or - for standard input, got ${positionals.length} operands`));
  }
  return ok({ ...args, input: positionals[0]! });
}

function ioError(what: string, e: unknown): TspodError {
  const code = (e as NodeJS.ErrnoException | undefined)?.code;
  const hint = code === 'ENOENT' ? 'check the path'
    : code === 'EISDIR' ? 'give a file, not a directory'
      : 'check that the path exists and that you may read and write it';
  return tspodError(ErrorCodes.IO, what, describeErrno(e), hint, e);
}

/** Reads fd to its end straight into the core's input region: no copies on the way. */
function hashFd(h: CoreHasher, fd: number): void {
  for (;;) {
    const region = h.input();
    const n = readSync(fd, region, 0, region.length, null);
    if (n === 0) return;
    h.updateInput(n);
  }
}

/**
 * Standard input is read synchronously too, but a non-blocking pipe (some parents hand one
 * over) fails with EAGAIN when momentarily empty; the rest is then read through the event loop.
 */
async function hashStdin(h: CoreHasher): Promise<void> {
  try {
    hashFd(h, 0);
    return;
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code !== 'EAGAIN') throw e;
  }
  for await (const chunk of process.stdin) h.update(chunk as Buffer);
}

async function hashInput(h: CoreHasher, input: string): Promise<Result<void, TspodError>> {
  const name = input === '-' ? 'standard input' : input;
  let fd: number | undefined;
  try {
    if (input === '-') {
      await hashStdin(h);
    } else {
      fd = openSync(input, 'r');
      hashFd(h, fd);
    }
    return ok(undefined);
  } catch (e) {
    return err(ioError(`read ${name}`, e));
  } finally {
    if (fd !== undefined) closeSync(fd);
  }
}

function readState(path: string): Result<Buffer, TspodError> {
  let fd: number | undefined;
  try {
    fd = openSync(path, 'r');
    const size = fstatSync(fd).size;
    if (size > MAX_STATE_BYTES) {
      return err(tspodError(ErrorCodes.HASH_STATE, `read the hash state ${path}`,
        `it is ${size} bytes, far larger than any hash state`, 'pass the file written by --state-out'));
    }
    const buf = Buffer.alloc(size);
    let got = 0;
    while (got < size) {
      const n = readSync(fd, buf, got, size - got, null);
      if (n === 0) break;
      got += n;
    }
    return ok(buf.subarray(0, got));
  } catch (e) {
    return err(ioError(`read the hash state ${path}`, e));
  } finally {
    if (fd !== undefined) closeSync(fd);
  }
}

/** Temp file in the same directory + fsync + rename, so F is either the old or the new state. */
function writeStateAtomically(path: string, state: Uint8Array): Result<void, TspodError> {
  const tmp = join(dirname(path), `.${basename(path)}.${randomBytes(6).toString('hex')}.tmp`);
  let fd: number | undefined;
  try {
    fd = openSync(tmp, 'wx', 0o644);
    writeSync(fd, state);
    fsyncSync(fd);
    closeSync(fd);
    fd = undefined;
    renameSync(tmp, path);
    return ok(undefined);
  } catch (e) {
    if (fd !== undefined) closeSync(fd);
    try {
      unlinkSync(tmp);
    } catch {
      // Nothing to clean up if the temp file was never created (or was already renamed).
    }
    return err(ioError(`write the hash state ${path}`, e));
  }
}

function startHasher(algo: HashAlgorithm, stateIn: string | undefined): Result<CoreHasher, TspodError> {
  if (stateIn === undefined) return createCoreHasher(algo);
  return readState(stateIn).andThen((state) => importHashState(algo, state));
}

/** sha256sum's convention: a name with a backslash or newline is escaped and the line starts with `\`. */
function digestLine(hex: string, name: string): string {
  if (!/[\\\n\r]/.test(name)) return `${hex}  ${name}\n`;
  const escaped = name.replace(/\\/g, '\\\\').replace(/\n/g, '\\n').replace(/\r/g, '\\r');
  return `\\${hex}  ${escaped}\n`;
}

async function runSha(algo: HashAlgorithm, ctx: CommandContext, argv: string[]): Promise<number> {
  const parsed = parseShaArgs(algo, argv);
  if (parsed.isErr()) return fail(ctx, parsed.error);
  const args = parsed.value;
  if (args.help) {
    ctx.stdout.write(help(algo));
    return 0;
  }
  const hasher = startHasher(algo, args.stateIn);
  if (hasher.isErr()) return fail(ctx, hasher.error);
  const h = hasher.value;
  const hashed = await hashInput(h, args.input);
  if (hashed.isErr()) return fail(ctx, hashed.error);
  if (args.stateOut !== undefined) {
    const saved = writeStateAtomically(args.stateOut, h.exportState());
    return saved.isErr() ? fail(ctx, saved.error) : 0;
  }
  ctx.stdout.write(digestLine(h.digest().toString('hex'), args.input));
  return 0;
}

export function makeShaCommand(algo: HashAlgorithm): CommandModule {
  return { run: (ctx, argv) => runSha(algo, ctx, argv) };
}

export const sha256Command = makeShaCommand('sha256');
export const sha512Command = makeShaCommand('sha512');
