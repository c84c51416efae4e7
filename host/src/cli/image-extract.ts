// `tspod image extract IMAGE DIR` and `tspod image render IMAGE DIR`: an image's contents in a new
// directory, through the same safe extraction as the store. extract writes the ACI as it is
// (manifest + rootfs/); --rootfs-only and render write the root filesystem an app would see.
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fail, parseFlags, usageError, type CommandContext } from './command.js';
import { isRoot, openStore } from './store-cli.js';
import { ErrorCodes, tspodError, type TspodError } from '../errors.js';
import { extractArchive } from '../extract/extract.js';
import { aciLayout } from '../store/aci-route.js';
import type { ImageRecord, ImageStore } from '../store/images.js';
import { renderChain, renderLayers, renderOciLayers } from '../store/render.js';
import { commitTarget, discardTarget, stageTarget } from '../extract/target.js';
import { ok, err, type Result } from '../result.js';

export function makeExtractCommand(name: 'extract' | 'render') {
  const help = `Usage: tspod image ${name} [--rootfs-only] [--overwrite] IMAGE DIR

${name === 'extract' ? 'Extracts IMAGE (manifest and rootfs/) into DIR, without its dependencies.'
    : 'Renders the root filesystem of IMAGE into DIR, as an app in a pod sees it (DIR/rootfs and DIR/manifest).'}
DIR must not exist or be empty. IMAGE is an image ID prefix or name[:version].
  --rootfs-only   write only the root filesystem's contents into DIR
`;
  return {
    async run(ctx: CommandContext, argv: string[]): Promise<number> {
      const parsed = parseFlags(ctx, `image ${name}`, argv, { 'rootfs-only': { type: 'boolean' }, overwrite: { type: 'boolean' } }, help);
      if (typeof parsed === 'number') return parsed;
      if (parsed.positionals.length !== 2) return fail(ctx, usageError(`image ${name}`, 'needs IMAGE and DIR'));
      const [ref, dir] = parsed.positionals as [string, string];
      const store = openStore(ctx);
      if (store.isErr()) return fail(ctx, store.error);
      const image = await store.value.locked(() => store.value.resolve(ref));
      if (image.isErr()) return fail(ctx, image.error);
      if (name === 'render' && !isRoot()) {
        return fail(ctx, tspodError(ErrorCodes.PERMISSION, `render ${ref}`, 'rendering restores owners and device nodes as an app sees them, which needs root',
          'run it as root, or use `tspod image extract` for the files alone'));
      }
      if (name === 'render') {
        const r = await store.value.locked(() => renderInto(store.value, image.value, dir, parsed.values['rootfs-only'] ?? false));
        return r.isErr() ? fail(ctx, r.error) : 0;
      }
      if (image.value.kind === 'oci') {
        // A Docker/OCI image has no single archive: its extraction is its layers applied in order.
        const r = await store.value.locked(() => renderInto(store.value, image.value, dir, parsed.values['rootfs-only'] ?? false));
        return r.isErr() ? fail(ctx, r.error) : 0;
      }
      const options = parsed.values['rootfs-only'] ? { route: aciLayout().route } : {};
      const r = await extractArchive(store.value.blobOf(image.value), dir, options);
      return r.isErr() ? fail(ctx, r.error) : 0;
    },
  };
}

/** Renders with dependencies into a staging sibling of dir, renamed into place when complete. */
async function renderInto(store: ImageStore, image: ImageRecord, dir: string, rootfsOnly: boolean): Promise<Result<void, TspodError>> {
  const chain = image.kind === 'oci' ? ok([image]) : await renderChain(store, image);
  if (chain.isErr()) return err(chain.error);
  const staged = stageTarget(dir);
  if (staged.isErr()) return err(staged.error);
  const rootfs = rootfsOnly ? staged.value.temp : join(staged.value.temp, 'rootfs');
  if (!rootfsOnly) {
    mkdirSync(rootfs);
    writeFileSync(join(staged.value.temp, 'manifest'), image.manifest);
  }
  const r = image.kind === 'oci' ? await renderOciLayers(store, image, rootfs) : await renderLayers(store, chain.value, rootfs);
  if (r.isErr()) {
    discardTarget(staged.value);
    return r;
  }
  return commitTarget(staged.value);
}

export const run = makeExtractCommand('extract').run;
