// `tspod prepare`: everything `run` does before starting the pod; prints the UUID for run-prepared.
import { writeFileSync } from 'node:fs';
import { fail, type CommandContext } from './command.js';
import { prepareFromSpec, requireRoot } from './pods-cli.js';
import { parseRunArgs, RUN_HELP } from './run.js';

export async function run(ctx: CommandContext, argv: string[]): Promise<number> {
  if (argv[0] === '--help' || argv[0] === '-h') {
    ctx.stdout.write(RUN_HELP.replace('tspod run', 'tspod prepare').replace('Runs a pod', 'Prepares a pod (to start with `tspod run-prepared UUID`)'));
    return 0;
  }
  const args = await parseRunArgs('prepare', argv);
  if (args.isErr()) return fail(ctx, args.error);
  const denied = requireRoot(ctx, 'prepare');
  if (denied !== undefined) return denied;
  const prepared = await prepareFromSpec(ctx, args.value.spec);
  if (prepared.isErr()) return fail(ctx, prepared.error);
  if (args.value.uuidFileSave) writeFileSync(args.value.uuidFileSave, `${prepared.value.uuid}\n`);
  ctx.stdout.write(`${prepared.value.uuid}\n`);
  return 0;
}
