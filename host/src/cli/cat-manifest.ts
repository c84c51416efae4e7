// `tspod cat-manifest POD`: the pod as prepared (pod.json).
import { ErrorCodes, tspodError } from '../errors.js';
import { fail, usageError, type CommandContext } from './command.js';

export async function run(ctx: CommandContext, argv: string[]): Promise<number> {
  if (argv.includes('--help')) {
    ctx.stdout.write('Usage: tspod cat-manifest POD\n\nPrints the pod manifest (pod.json) tspod prepared.\n');
    return 0;
  }
  if (argv.length !== 1) return fail(ctx, usageError('cat-manifest', 'name one POD'));
  const { resolvePod } = await import('../pods/state.js');
  const pod = resolvePod(ctx.globals.dir, argv[0]!);
  if (pod.isErr()) return fail(ctx, pod.error);
  if (!pod.value.manifest) return fail(ctx, tspodError(ErrorCodes.POD_STATE, `read pod ${pod.value.uuid}`, 'it has no manifest (still an embryo?)', 'see `tspod status`'));
  ctx.stdout.write(`${JSON.stringify(pod.value.manifest, null, 2)}\n`);
  return 0;
}
