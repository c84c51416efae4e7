// For long async flows with many exits (HTTP, registries): a TspodError is thrown as a Failure
// inside and turned back into a Result at the function's edge, so library callers still only
// ever see Results. Anything else thrown is a bug and reported as TSPOD_E_INTERNAL.
import { ok, err, type Result } from './result.js';
import { describeErrno, ErrorCodes, tspodError, type TspodError } from './errors.js';

export class Failure extends Error {
  constructor(readonly error: TspodError) {
    super(error.why);
  }
}

export function fail(code: TspodError['code'], what: string, why: string, hint: string, cause?: unknown): Failure {
  return new Failure(tspodError(code, what, why, hint, cause));
}

export async function toResult<T>(what: string, body: () => Promise<T>): Promise<Result<T, TspodError>> {
  try {
    return ok(await body());
  } catch (e) {
    if (e instanceof Failure) return err(e.error);
    return err(tspodError(ErrorCodes.INTERNAL, what, `unexpected failure: ${describeErrno(e)}`, 'please report this with --debug output', e));
  }
}
