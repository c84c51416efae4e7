// `tspod pod convert`: between the TOML pod file and the appc pod manifest JSON (the mapping is
// documented in podfile/convert.ts). Input the linter refuses is refused here too.
import { readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { basename, dirname, extname, join } from 'node:path';
import { randomBytes } from 'node:crypto';
import { fail, parseFlags, usageError, type CommandContext } from './command.js';
import { describeErrno, ErrorCodes, tspodError, type TspodError } from '../errors.js';
import { err, ok, type Result } from '../result.js';
import { manifestToPodFile, parsePodManifest, parsePodToml, podFileToManifest, stringifyPodToml, type Converted } from '../podfile/convert.js';

const CONVERT_HELP = `Usage: tspod pod convert [--to json|toml] [--name NAME] [-o OUT] FILE

Converts a pod file (TOML) to an appc pod manifest (JSON), or back. The direction follows
FILE's extension (.toml gives JSON, .json gives TOML) unless --to says it.
Fields appc has no place for are kept as tspod.dev/ annotations, so a round trip loses nothing
tspod reads; what cannot be kept is listed on stderr as a warning.
  --to FORMAT    json or toml: the format to write
  --name NAME    the pod name when writing TOML (default: the tspod.dev/name annotation)
  -o, --output OUT  write to OUT (atomically: all or nothing) instead of stdout
`;

type Format = 'json' | 'toml';

export async function run(ctx: CommandContext, argv: string[]): Promise<number> {
  const parsed = parseFlags(ctx, 'pod convert', argv, { to: { type: 'string' }, name: { type: 'string' }, output: { type: 'string', short: 'o' } }, CONVERT_HELP);
  if (typeof parsed === 'number') return parsed;
  const { values, positionals } = parsed;
  if (positionals.length !== 1) return fail(ctx, usageError('pod convert', positionals.length === 0 ? 'FILE is missing' : `unexpected argument ${JSON.stringify(positionals[1])}`));
  const file = positionals[0]!;
  const to = targetFormat(file, values.to);
  if (to.isErr()) return fail(ctx, to.error);
  const text = readInput(file);
  if (text.isErr()) return fail(ctx, text.error);
  const checked = await lintGate(text.value, file, to.value === 'json' ? 'toml' : 'json');
  if (checked.isErr()) return fail(ctx, checked.error);
  const converted = to.value === 'json' ? toJson(text.value, file) : toToml(text.value, file, values.name);
  if (converted.isErr()) return fail(ctx, converted.error);
  for (const w of converted.value.warnings) ctx.stderr.write(`tspod: warning: ${file}: ${w}\n`);
  if (values.output === undefined) {
    ctx.stdout.write(converted.value.value);
    return 0;
  }
  const written = writeAtomically(values.output, converted.value.value);
  return written.isErr() ? fail(ctx, written.error) : 0;
}

/** --to wins; otherwise the input's extension says which format it is, and we write the other. */
function targetFormat(file: string, to: string | undefined): Result<Format, TspodError> {
  if (to === 'json' || to === 'toml') return ok(to);
  if (to !== undefined) return err(usageError('pod convert', `--to must be json or toml, not ${JSON.stringify(to)}`));
  const ext = extname(file).toLowerCase();
  if (ext === '.toml') return ok('json');
  if (ext === '.json') return ok('toml');
  return err(usageError('pod convert', `cannot tell the format of ${file} from its extension; pass --to json or --to toml`));
}

function readInput(file: string): Result<string, TspodError> {
  try {
    return ok(readFileSync(file, 'utf8'));
  } catch (e) {
    return err(tspodError(ErrorCodes.IO, `read ${file}`, describeErrno(e), 'check the path and that you may read it', e));
  }
}

/**
 * The input must pass the same lint `tspod lint` runs (errors only; warnings pass): converting a
 * pod file the engine would refuse would only move the problem elsewhere.
 */
async function lintGate(text: string, file: string, format: Format): Promise<Result<void, TspodError>> {
  const { lintJsonText, lintPodText } = await import('../podfile/lint.js');
  const errors = (format === 'toml' ? lintPodText(text) : lintJsonText(text)).filter((d) => d.severity === 'error');
  if (errors.length === 0) return ok(undefined);
  const first = errors[0]!;
  const more = errors.length > 1 ? ` (and ${errors.length - 1} more)` : '';
  return err(tspodError(
    ErrorCodes.CONFIG, `convert ${file}`, `${file}:${first.range.start.line}:${first.range.start.column}: ${first.rule} ${first.message}${more}`,
    `fix it first; \`tspod lint ${file}\` lists every problem`,
  ));
}

function toJson(text: string, file: string): Result<Converted<string>, TspodError> {
  return parsePodToml(text, file)
    .andThen((pod) => podFileToManifest(pod, file))
    .map((c) => ({ value: `${JSON.stringify(c.value, null, 2)}\n`, warnings: c.warnings }));
}

function toToml(text: string, file: string, name: string | undefined): Result<Converted<string>, TspodError> {
  return parsePodManifest(text, file)
    .andThen((m) => manifestToPodFile(m, file, name))
    .andThen((c) => stringifyPodToml(c.value).map((toml) => ({ value: toml, warnings: c.warnings })));
}

/** A temporary file beside OUT, renamed over it: readers see the old file or the whole new one. */
function writeAtomically(out: string, data: string): Result<void, TspodError> {
  const tmp = join(dirname(out), `.${basename(out)}.tmp-${randomBytes(6).toString('hex')}`);
  try {
    writeFileSync(tmp, data, { flag: 'wx', mode: 0o644 });
    renameSync(tmp, out);
    return ok(undefined);
  } catch (e) {
    rmSync(tmp, { force: true });
    return err(tspodError(ErrorCodes.IO, `write ${out}`, describeErrno(e), 'check that the directory exists and you may write to it', e));
  }
}
