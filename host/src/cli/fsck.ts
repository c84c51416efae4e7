// `tspod fsck [--repair]`: checks every blob against its image ID and every record against its
// files; with --repair removes what is broken.
import { rmSync } from 'node:fs';
import { fail, parseFlags, usageError, type CommandContext } from './command.js';
import { openStore } from './store-cli.js';
import { fsckStore } from '../store/maintenance.js';
import { ErrorCodes, tspodError } from '../errors.js';

const HELP = `Usage: tspod fsck [--repair]

Re-hashes every image in the store against its ID and checks records, blobs and trees agree.
Exit 0 when the store is sound (or was repaired), 254 when problems remain.
  --repair   remove broken images and files no image points at
`;

export async function run(ctx: CommandContext, argv: string[]): Promise<number> {
  const parsed = parseFlags(ctx, 'fsck', argv, { repair: { type: 'boolean' } }, HELP);
  if (typeof parsed === 'number') return parsed;
  if (parsed.positionals.length > 0) return fail(ctx, usageError('fsck', `unexpected argument ${JSON.stringify(parsed.positionals[0])}`));
  const { values } = parsed;
  const store = openStore(ctx);
  if (store.isErr()) return fail(ctx, store.error);
  const s = store.value;
  const checked = await s.locked(async () => {
    const problems = await fsckStore(s);
    if (problems.isErr() || !values.repair) return problems;
    for (const p of problems.value) {
      if (p.repair === 'remove-image' && p.id) await s.remove(p.id);
      else rmSync(p.path, { recursive: true, force: true });
    }
    return problems;
  }, values.repair ? 'exclusive' : 'shared');
  if (checked.isErr()) return fail(ctx, checked.error);
  for (const p of checked.value) ctx.stdout.write(`${values.repair ? 'repaired' : 'problem'}: ${p.what} (${p.path})\n`);
  if (checked.value.length === 0 || values.repair) {
    ctx.stdout.write(checked.value.length === 0 ? 'store is sound\n' : `repaired ${checked.value.length} problems\n`);
    return 0;
  }
  return fail(ctx, tspodError(ErrorCodes.STORE, `check the store in ${ctx.globals.dir}`, `${checked.value.length} problems found`, 'run `tspod fsck --repair` to remove what is broken'));
}
