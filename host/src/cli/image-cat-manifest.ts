// `tspod image cat-manifest IMAGE`: the manifest as stored in the ACI (compact), or pretty-printed.
import { fail, parseFlags, usageError, type CommandContext } from './command.js';
import { openStore } from './store-cli.js';

const HELP = `Usage: tspod image cat-manifest [--pretty-print] IMAGE

Prints the image manifest of IMAGE (an image ID prefix or name[:version]).
`;

export async function run(ctx: CommandContext, argv: string[]): Promise<number> {
  const parsed = parseFlags(ctx, 'image cat-manifest', argv, { 'pretty-print': { type: 'boolean' } }, HELP);
  if (typeof parsed === 'number') return parsed;
  if (parsed.positionals.length !== 1) return fail(ctx, usageError('image cat-manifest', 'needs exactly one IMAGE'));
  const store = openStore(ctx);
  if (store.isErr()) return fail(ctx, store.error);
  const image = await store.value.locked(() => store.value.resolve(parsed.positionals[0]!));
  if (image.isErr()) return fail(ctx, image.error);
  const text = Buffer.from(image.value.manifest).toString('utf8');
  ctx.stdout.write(parsed.values['pretty-print'] ? JSON.stringify(JSON.parse(text), null, 4) + '\n' : text.trimEnd() + '\n');
  return 0;
}
