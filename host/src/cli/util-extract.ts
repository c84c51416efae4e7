// `tspod util extract ARCHIVE DIR`: the store's safe extraction, for scripts and tests.
import { parseArgs } from 'node:util';
import { fail, usageError, type CommandContext } from './command.js';
import type { ExtractLimits } from '../extract/limits.js';

const HELP = `Usage: tspod util extract [flags] ARCHIVE DIR

Extracts a plain or gzip-compressed tar (ARCHIVE, or - for stdin) into DIR, which must not
exist or be empty. The result matches GNU tar run as root with --numeric-owner
--same-permissions --xattrs, but nothing is ever written outside DIR: an entry that escapes
(.., absolute paths, writing through a symlink, hard links out) fails the whole extraction,
and DIR appears only when the whole archive was extracted.

Flags:
  --max-entries N   refuse archives with more entries (default 1000000)
  --max-path N      refuse entry paths longer than N bytes (default 4096)
  --max-bytes N     refuse archives whose files hold more than N bytes (default 64 GiB)
  --max-ratio N     refuse gzip input that expands more than N times (default 250)
  --writers N       writer threads for small files (default 2; 0 = none)
  --digest ALGO     print the sha256 or sha512 digest of the decompressed tar stream
  --json            print a JSON summary instead of text
`;

const OPTIONS = {
  'max-entries': { type: 'string' },
  'max-path': { type: 'string' },
  'max-bytes': { type: 'string' },
  'max-ratio': { type: 'string' },
  writers: { type: 'string' },
  digest: { type: 'string' },
  json: { type: 'boolean' },
  help: { type: 'boolean', short: 'h' },
} as const;

type Values = ReturnType<typeof parseArgs<{ options: typeof OPTIONS; allowPositionals: true }>>['values'];

function positiveInt(v: string | undefined, flag: string): number | undefined | string {
  if (v === undefined) return undefined;
  const n = Number(v);
  return Number.isSafeInteger(n) && n >= 0 ? n : `${flag} needs a whole number, got ${JSON.stringify(v)}`;
}

function limitsFrom(values: Values): Partial<ExtractLimits> | string {
  const out: Record<string, number> = {};
  const pairs: Array<[keyof Values, keyof ExtractLimits]> = [
    ['max-entries', 'maxEntries'], ['max-path', 'maxPathLength'], ['max-bytes', 'maxTotalBytes'], ['max-ratio', 'maxExpansionRatio'],
  ];
  for (const [flag, key] of pairs) {
    const n = positiveInt(values[flag] as string | undefined, `--${flag}`);
    if (typeof n === 'string') return n;
    if (n !== undefined) out[key] = n;
  }
  return out as Partial<ExtractLimits>;
}

export async function run(ctx: CommandContext, argv: string[]): Promise<number> {
  let parsed;
  try {
    parsed = parseArgs({ args: argv, options: OPTIONS, allowPositionals: true });
  } catch (e) {
    return fail(ctx, usageError('util extract', (e as Error).message));
  }
  const { values, positionals } = parsed;
  if (values.help) {
    ctx.stdout.write(HELP);
    return 0;
  }
  if (positionals.length !== 2) return fail(ctx, usageError('util extract', 'needs exactly ARCHIVE and DIR'));
  const limits = limitsFrom(values);
  if (typeof limits === 'string') return fail(ctx, usageError('util extract', limits));
  const writers = positiveInt(values.writers, '--writers');
  if (typeof writers === 'string') return fail(ctx, usageError('util extract', writers));
  const digest = values.digest;
  if (digest !== undefined && digest !== 'sha256' && digest !== 'sha512') {
    return fail(ctx, usageError('util extract', `--digest must be sha256 or sha512, got ${JSON.stringify(digest)}`));
  }
  const { extractArchive } = await import('../extract/extract.js');
  const [archive, dir] = positionals as [string, string];
  const result = await extractArchive(archive, dir, { limits, ...(writers !== undefined && { writers }), ...(digest && { digest }) });
  if (result.isErr()) return fail(ctx, result.error);
  const s = result.value;
  if (values.json) ctx.stdout.write(JSON.stringify(s) + '\n');
  else if (s.digest) ctx.stdout.write(`${digest}-${s.digest}\n`);
  return 0;
}
