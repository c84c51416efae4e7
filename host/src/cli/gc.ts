// `tspod gc [--grace-period DUR] [--expire-prepared DUR]`: collects exited pods (their cgroups go),
// deletes collected ones after the grace period, expired prepared pods and crash leftovers.
import { fail, parseFlags, usageError, type CommandContext } from './command.js';
import { parseDurationMs } from '../pods/spec.js';
import { netContext, requireRoot } from './pods-cli.js';

const HELP = `Usage: tspod gc [--grace-period DUR] [--expire-prepared DUR]

  --grace-period DUR     how long collected pods stay before deletion (default 30m)
  --expire-prepared DUR  delete prepared pods older than this (default 24h)
`;

export async function run(ctx: CommandContext, argv: string[]): Promise<number> {
  const parsed = parseFlags(ctx, 'gc', argv, { 'grace-period': { type: 'string', default: '30m' }, 'expire-prepared': { type: 'string', default: '24h' } }, HELP);
  if (typeof parsed === 'number') return parsed;
  const graceMs = parseDurationMs(parsed.values['grace-period']!);
  const expirePreparedMs = parseDurationMs(parsed.values['expire-prepared']!);
  if (graceMs === undefined || expirePreparedMs === undefined) return fail(ctx, usageError('gc', 'durations look like 30s, 10m, 24h'));
  const denied = requireRoot(ctx, 'gc');
  if (denied !== undefined) return denied;
  const { gcPods } = await import('../pods/lifecycle.js');
  const report = await gcPods(ctx.globals.dir, { graceMs, expirePreparedMs }, await netContext(ctx));
  if (report.isErr()) return fail(ctx, report.error);
  for (const u of report.value.collected) ctx.stdout.write(`collected ${u}\n`);
  for (const u of report.value.removed) ctx.stdout.write(`removed ${u}\n`);
  for (const f of report.value.failed) fail(ctx, f.error);
  return report.value.failed.length > 0 ? 254 : 0;
}
