// The error contract (docs/errors.md): every failure tspod reports is a TspodError with a stable
// code, what failed, why, and what to do. Library code returns them in neverthrow Results;
// only the CLI edge turns them into text and exit codes.

export const ErrorCodes = {
  /** Bad command line: unknown command or flag, missing argument. Exit 2. */
  USAGE: 'TSPOD_E_USAGE',
  /** A file or directory could not be read or written. */
  IO: 'TSPOD_E_IO',
  /** The input is not a tar archive or is damaged (checksum, truncation, bad numeric field). */
  TAR_CORRUPT: 'TSPOD_E_TAR_CORRUPT',
  /** A tar entry would land outside the target or is otherwise refused by path policy. */
  TAR_UNSAFE: 'TSPOD_E_TAR_UNSAFE',
  /** The archive exceeds a configured limit (entries, path length, bytes, expansion ratio). */
  TAR_LIMIT: 'TSPOD_E_TAR_LIMIT',
  /** gzip (or other) decompression failed. */
  DECOMPRESS: 'TSPOD_E_DECOMPRESS',
  /** A saved hash state is unreadable, of the wrong algorithm, or from another core version. */
  HASH_STATE: 'TSPOD_E_HASH_STATE',
  /** The WASM core is missing, stale, or failed to load. */
  CORE: 'TSPOD_E_CORE',
  /** The target path already exists where tspod must create it. */
  EXISTS: 'TSPOD_E_EXISTS',
  /** The operation needs root (or a capability) the caller lacks. */
  PERMISSION: 'TSPOD_E_PERMISSION',
  /** A syscall tspod needs is missing on this kernel and no safe fallback exists. */
  UNSUPPORTED: 'TSPOD_E_UNSUPPORTED',
  /** An image manifest is not valid appc (JSON, schema, names, labels). */
  MANIFEST_INVALID: 'TSPOD_E_MANIFEST_INVALID',
  /** An image's layout is wrong: not exactly a manifest and a rootfs, duplicates, odd file types. */
  IMAGE_INVALID: 'TSPOD_E_IMAGE_INVALID',
  /** An image is signed by a key that is not trusted for its name. */
  SIG_UNTRUSTED: 'TSPOD_E_SIG_UNTRUSTED',
  /** A signature is missing, bad, made with a weak hash, or by an expired or revoked key. */
  SIG_INVALID: 'TSPOD_E_SIG_INVALID',
  /** A key file is not a usable public key. */
  KEY_INVALID: 'TSPOD_E_KEY_INVALID',
  /** A network or HTTP failure while fetching. */
  FETCH: 'TSPOD_E_FETCH',
  /** appc discovery found no endpoint for the image name. */
  DISCOVERY: 'TSPOD_E_DISCOVERY',
  /** Refused because it needs an --insecure-options value (e.g. plain http). */
  INSECURE: 'TSPOD_E_INSECURE',
  /** The store is damaged or locked in a way tspod cannot resolve. */
  STORE: 'TSPOD_E_STORE',
  /** No image (or more than one) matches the given ID prefix or name. */
  NOT_FOUND: 'TSPOD_E_NOT_FOUND',
  /** A configuration file (e.g. auth.d/*.json) is malformed. */
  CONFIG: 'TSPOD_E_CONFIG',
  /** A stage1 is missing, speaks another interface version, or failed to start the pod. */
  STAGE1: 'TSPOD_E_STAGE1',
  /** A pod is in the wrong state for the operation (running, not prepared, already gone). */
  POD_STATE: 'TSPOD_E_POD_STATE',
  /** A CNI network could not be set up, checked or torn down (the plugin's own error is quoted). */
  NETWORK: 'TSPOD_E_NETWORK',
  /** A bug in tspod: an invariant did not hold. */
  INTERNAL: 'TSPOD_E_INTERNAL',
} as const;

export type ErrorCode = (typeof ErrorCodes)[keyof typeof ErrorCodes];

export interface TspodError {
  readonly code: ErrorCode;
  /** What failed, naming the input: "extract layer.tar into /var/lib/x". Lower case, no period. */
  readonly what: string;
  /** Why it failed: "entry ../etc/passwd escapes the target". */
  readonly why: string;
  /** What the user can do about it. */
  readonly hint: string;
  readonly cause?: unknown;
}

export function tspodError(code: ErrorCode, what: string, why: string, hint: string, cause?: unknown): TspodError {
  return cause === undefined ? { code, what, why, hint } : { code, what, why, hint, cause };
}

/** Exit codes at the CLI edge: 2 for usage errors, 254 for tspod's own failures (as rkt). */
export const EXIT_USAGE = 2;
export const EXIT_FAILURE = 254;

export function exitCodeFor(e: TspodError): number {
  return e.code === ErrorCodes.USAGE ? EXIT_USAGE : EXIT_FAILURE;
}

export function formatError(e: TspodError, debug = false): string {
  let text = `tspod: ${e.what}: ${e.why}\n  (${e.code}) ${e.hint}\n`;
  if (debug && e.cause !== undefined) {
    const c = e.cause;
    text += `  cause: ${c instanceof Error ? (c.stack ?? c.message) : String(c)}\n`;
  }
  return text;
}

/** errno-style failures from fs/koffi: keep the message short and the code visible. */
export function describeErrno(err: unknown): string {
  if (err && typeof err === 'object' && 'code' in err) {
    const e = err as NodeJS.ErrnoException;
    return e.syscall ? `${e.syscall}: ${e.code}` : String(e.code);
  }
  return err instanceof Error ? err.message : String(err);
}
