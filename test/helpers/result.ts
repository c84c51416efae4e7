// Unwrapping Results in tests with a message that says what came instead.
import assert from 'node:assert/strict';
import type { Result } from '../../host/src/result.js';
import type { TspodError } from '../../host/src/errors.js';

export function unwrapErr<T>(r: Result<T, TspodError>): TspodError {
  if (r.isOk()) assert.fail(`expected an error, got ${JSON.stringify(r.value)}`);
  return r.error;
}

export function unwrapOk<T>(r: Result<T, TspodError>): T {
  if (r.isErr()) assert.fail(`expected success, got ${r.error.code}: ${r.error.what}: ${r.error.why}`);
  return r.value;
}
