// `tspod image export IMAGE OUT.aci`: the ACI exactly as it was fetched (so its signature still verifies).
import { copyFileSync, constants } from 'node:fs';
import { fail, parseFlags, usageError, type CommandContext } from './command.js';
import { openStore } from './store-cli.js';
import { describeErrno, ErrorCodes, tspodError } from '../errors.js';

const HELP = `Usage: tspod image export [--overwrite] IMAGE OUT.aci

Writes IMAGE from the store to OUT.aci byte for byte as fetched, so OUT.aci.asc signatures still verify.
`;

export async function run(ctx: CommandContext, argv: string[]): Promise<number> {
  const parsed = parseFlags(ctx, 'image export', argv, { overwrite: { type: 'boolean' } }, HELP);
  if (typeof parsed === 'number') return parsed;
  if (parsed.positionals.length !== 2) return fail(ctx, usageError('image export', 'needs IMAGE and OUT.aci'));
  const [ref, out] = parsed.positionals as [string, string];
  const store = openStore(ctx);
  if (store.isErr()) return fail(ctx, store.error);
  const image = await store.value.locked(() => store.value.resolve(ref));
  if (image.isErr()) return fail(ctx, image.error);
  if (image.value.kind === 'oci') {
    return fail(ctx, tspodError(ErrorCodes.UNSUPPORTED, `export ${ref}`, 'it is a Docker/OCI image, which has no single ACI file',
      'copy it from its source with skopeo, or render it with `tspod image render`'));
  }
  try {
    copyFileSync(store.value.blobOf(image.value), out, parsed.values.overwrite ? 0 : constants.COPYFILE_EXCL);
  } catch (e) {
    const exists = (e as NodeJS.ErrnoException).code === 'EEXIST';
    return fail(ctx, tspodError(exists ? ErrorCodes.EXISTS : ErrorCodes.IO, `export ${ref} to ${out}`, exists ? 'the file exists' : describeErrno(e),
      exists ? 'pass --overwrite or choose another path' : 'check the path and free space'));
  }
  return 0;
}
