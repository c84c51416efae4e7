// Index records: one small CBOR file per image (and per remote URL), written atomically
// (temp + fsync + rename + fsync of the directory), so a crash leaves the old record or the new.
import { closeSync, fsyncSync, openSync, readdirSync, readFileSync, renameSync, rmSync, writeSync } from 'node:fs';
import { basename, dirname, join } from 'node:path';
import { ok, err, type Result } from '../result.js';
import { describeErrno, ErrorCodes, tspodError, type TspodError } from '../errors.js';

let cbor: typeof import('cbor-x') | undefined;
async function codec(): Promise<typeof import('cbor-x')> {
  cbor ??= await import('cbor-x');
  return cbor;
}

export function fsyncDir(dir: string): void {
  const fd = openSync(dir, 'r');
  try {
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
}

/** Writes bytes to path atomically and durably. */
export function writeFileAtomic(path: string, bytes: Uint8Array, mode = 0o664): void {
  const tmp = join(dirname(path), `.${basename(path)}.${process.pid}.${Date.now()}.tmp`);
  const fd = openSync(tmp, 'wx', mode);
  try {
    for (let off = 0; off < bytes.length; ) off += writeSync(fd, bytes, off);
    fsyncSync(fd);
  } catch (e) {
    closeSync(fd);
    rmSync(tmp, { force: true });
    throw e;
  }
  closeSync(fd);
  renameSync(tmp, path);
  fsyncDir(dirname(path));
}

export async function writeRecord(path: string, value: unknown): Promise<Result<void, TspodError>> {
  try {
    const { encode } = await codec();
    writeFileAtomic(path, encode(value));
    return ok(undefined);
  } catch (e) {
    return err(tspodError(ErrorCodes.IO, `write ${path}`, describeErrno(e), 'check free space and permissions of the data directory', e));
  }
}

/** undefined when the record does not exist; an error when it exists but cannot be decoded. */
export async function readRecord<T>(path: string): Promise<Result<T | undefined, TspodError>> {
  let bytes: Buffer;
  try {
    bytes = readFileSync(path);
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return ok(undefined);
    return err(tspodError(ErrorCodes.IO, `read ${path}`, describeErrno(e), 'check the permissions of the data directory', e));
  }
  try {
    const { decode } = await codec();
    return ok(decode(bytes) as T);
  } catch (e) {
    return err(tspodError(ErrorCodes.STORE, `read ${path}`, 'the record is not valid CBOR', 'run `tspod fsck --repair`', e));
  }
}

/** Names in a directory, without temp files; an absent directory lists as empty. */
export function listDir(dir: string): string[] {
  try {
    return readdirSync(dir).filter((n) => !n.startsWith('.'));
  } catch {
    return [];
  }
}
