// `tspod image gc [--grace-period DURATION]`: removes images unused for longer than the grace
// period, trees and blobs no image points at, and stale temporary files.
import { fail, parseFlags, usageError, type CommandContext } from './command.js';
import { openStore } from './store-cli.js';
import { gcStore } from '../store/maintenance.js';

const HELP = `Usage: tspod image gc [--grace-period DURATION]

Removes images not used for DURATION (default 24h; units s, m, h, d), rendered trees and blobs that
no image points at, and temporary files over an hour old.
`;

/** "90s", "15m", "24h", "7d" → ms. */
export function parseDuration(text: string): number | undefined {
  const m = /^(\d+(?:\.\d+)?)(s|m|h|d)$/.exec(text);
  if (!m) return undefined;
  return Number(m[1]) * { s: 1e3, m: 60e3, h: 3600e3, d: 86400e3 }[m[2] as 's' | 'm' | 'h' | 'd'];
}

export async function run(ctx: CommandContext, argv: string[]): Promise<number> {
  const parsed = parseFlags(ctx, 'image gc', argv, { 'grace-period': { type: 'string' } }, HELP);
  if (typeof parsed === 'number') return parsed;
  if (parsed.positionals.length > 0) return fail(ctx, usageError('image gc', `unexpected argument ${JSON.stringify(parsed.positionals[0])}`));
  const { values } = parsed;
  const grace = parseDuration(values['grace-period'] ?? '24h');
  if (grace === undefined) return fail(ctx, usageError('image gc', `bad --grace-period ${JSON.stringify(values['grace-period'])} (e.g. 30m, 24h)`));
  const store = openStore(ctx);
  if (store.isErr()) return fail(ctx, store.error);
  const report = await store.value.locked(() => gcStore(store.value, grace), 'exclusive');
  if (report.isErr()) return fail(ctx, report.error);
  for (const id of report.value.removedImages) ctx.stdout.write(`removed image ${id}\n`);
  for (const p of [...report.value.removedTrees, ...report.value.removedBlobs, ...report.value.removedTemp]) ctx.stdout.write(`removed ${p}\n`);
  return 0;
}
