// `tspod run-prepared [--detach] POD`: starts a pod `tspod prepare` made.
import { ErrorCodes, tspodError } from '../errors.js';
import { fail, parseFlags, usageError, type CommandContext } from './command.js';
import { netContext, requireRoot } from './pods-cli.js';

const HELP = `Usage: tspod run-prepared [--detach] POD

Starts a prepared pod (UUID, unique UUID prefix or name); exits with its status, or with
--detach prints its UUID once it runs.
`;

export async function run(ctx: CommandContext, argv: string[]): Promise<number> {
  const parsed = parseFlags(ctx, 'run-prepared', argv, { detach: { type: 'boolean' } }, HELP);
  if (typeof parsed === 'number') return parsed;
  if (parsed.positionals.length !== 1) return fail(ctx, usageError('run-prepared', 'name one POD'));
  const denied = requireRoot(ctx, 'run-prepared');
  if (denied !== undefined) return denied;
  const { resolvePod } = await import('../pods/state.js');
  const pod = resolvePod(ctx.globals.dir, parsed.positionals[0]!);
  if (pod.isErr()) return fail(ctx, pod.error);
  if (pod.value.state !== 'prepared' || !pod.value.manifest) {
    return fail(ctx, tspodError(ErrorCodes.POD_STATE, `run pod ${pod.value.uuid}`, `it is ${pod.value.state}, not prepared`, 'prepare a new pod with `tspod prepare`'));
  }
  const { startPod } = await import('../pods/run.js');
  const started = await startPod(ctx.globals.dir, pod.value.manifest, { detach: parsed.values.detach ?? false, configDirs: (await netContext(ctx)).configDirs });
  if (started.isErr()) return fail(ctx, started.error);
  if (parsed.values.detach) ctx.stdout.write(`${pod.value.uuid}\n`);
  return started.value;
}
