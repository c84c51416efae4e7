// One place that wraps neverthrow, so the rest of the host imports Result types from here.
export { ok, err, Ok, Err, Result, ResultAsync, okAsync, errAsync } from 'neverthrow';
