// `tspod image rm IMAGE...`: removes images (record, rendered tree, blob).
import { fail, usageError, type CommandContext } from './command.js';
import { openStore } from './store-cli.js';
import { err } from '../result.js';

const HELP = `Usage: tspod image rm IMAGE...

Removes each IMAGE (an image ID prefix or name[:version]) from the store.
`;

export async function run(ctx: CommandContext, argv: string[]): Promise<number> {
  if (argv.includes('--help') || argv.includes('-h')) {
    ctx.stdout.write(HELP);
    return 0;
  }
  if (argv.length === 0) return fail(ctx, usageError('image rm', 'needs at least one IMAGE'));
  const store = openStore(ctx);
  if (store.isErr()) return fail(ctx, store.error);
  let status = 0;
  for (const ref of argv) {
    const done = await store.value.locked(async () => {
      const image = await store.value.resolve(ref);
      if (image.isErr()) return err(image.error);
      return (await store.value.remove(image.value.id)).map(() => image.value.id);
    });
    if (done.isErr()) status = fail(ctx, done.error);
    else ctx.stdout.write(`successfully removed image ${done.value}\n`);
  }
  return status;
}
