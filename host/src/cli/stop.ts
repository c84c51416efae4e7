// `tspod stop [--force] [--timeout DUR] POD...`: SIGTERM to the pod init (forwarded to the apps),
// SIGKILL after the timeout; --force kills at once.
import { fail, parseFlags, usageError, type CommandContext } from './command.js';
import { parseDurationMs } from '../pods/spec.js';
import { netContext, requireRoot } from './pods-cli.js';

const HELP = `Usage: tspod stop [--force] [--timeout DUR] POD...

Stops running pods: SIGTERM first (forwarded to every app), SIGKILL after DUR (default 10s).
  --force   SIGKILL at once
`;

export async function run(ctx: CommandContext, argv: string[]): Promise<number> {
  const parsed = parseFlags(ctx, 'stop', argv, { force: { type: 'boolean' }, timeout: { type: 'string', default: '10s' } }, HELP);
  if (typeof parsed === 'number') return parsed;
  if (parsed.positionals.length === 0) return fail(ctx, usageError('stop', 'name at least one POD'));
  const timeoutMs = parseDurationMs(parsed.values.timeout!);
  if (timeoutMs === undefined) return fail(ctx, usageError('stop', '--timeout must be a duration like 10s'));
  const denied = requireRoot(ctx, 'stop');
  if (denied !== undefined) return denied;
  const { resolvePod } = await import('../pods/state.js');
  const { stopPod } = await import('../pods/lifecycle.js');
  for (const ref of parsed.positionals) {
    const pod = resolvePod(ctx.globals.dir, ref);
    if (pod.isErr()) return fail(ctx, pod.error);
    const stopped = await stopPod(pod.value, { force: parsed.values.force ?? false, timeoutMs }, await netContext(ctx));
    if (stopped.isErr()) return fail(ctx, stopped.error);
    ctx.stdout.write(`${pod.value.uuid}\n`);
  }
  return 0;
}
