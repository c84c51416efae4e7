// `tspod image extract IMAGE DIR` and `tspod image render IMAGE DIR`: an image's contents in a new
// directory, through the same safe extraction as the store. extract writes the ACI as it is
// (manifest + rootfs/); --rootfs-only and render write the root filesystem an app would see.
import { parseArgs } from 'node:util';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fail, usageError, type CommandContext } from './command.js';
import { isRoot, openStore } from './store-cli.js';
import { describeErrno, ErrorCodes, tspodError } from '../errors.js';
import { extractArchive } from '../extract/extract.js';
import { aciLayout } from '../store/aci-route.js';
import type { ImageRecord } from '../store/images.js';

export function makeExtractCommand(name: 'extract' | 'render') {
  const help = `Usage: tspod image ${name} [--rootfs-only] [--overwrite] IMAGE DIR

${name === 'extract' ? 'Extracts IMAGE (manifest and rootfs/) into DIR, without its dependencies.'
    : 'Renders the root filesystem of IMAGE into DIR, as an app in a pod sees it (DIR/rootfs and DIR/manifest).'}
DIR must not exist or be empty. IMAGE is an image ID prefix or name[:version].
  --rootfs-only   write only the root filesystem's contents into DIR
`;
  return {
    async run(ctx: CommandContext, argv: string[]): Promise<number> {
      let parsed;
      try {
        parsed = parseArgs({ args: argv, allowPositionals: true, options: {
          'rootfs-only': { type: 'boolean' }, overwrite: { type: 'boolean' }, help: { type: 'boolean', short: 'h' },
        } });
      } catch (e) {
        return fail(ctx, usageError(`image ${name}`, (e as Error).message));
      }
      if (parsed.values.help) {
        ctx.stdout.write(help);
        return 0;
      }
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
      const deps = dependenciesOf(image.value);
      if (name === 'render' && deps > 0) {
        return fail(ctx, tspodError(ErrorCodes.UNSUPPORTED, `render ${ref}`, `it has ${deps} dependencies, and rendering dependencies is not implemented yet`,
          'use `tspod image extract` for the image alone'));
      }
      const rootfsOnly = parsed.values['rootfs-only'] || name === 'render';
      const blob = store.value.blobOf(image.value);
      const target = rootfsOnly && !parsed.values['rootfs-only'] ? join(dir, 'rootfs') : dir;
      if (target !== dir) {
        try {
          mkdirSync(dir, { recursive: true });
          writeFileSync(join(dir, 'manifest'), image.value.manifest);
        } catch (e) {
          return fail(ctx, tspodError(ErrorCodes.IO, `render ${ref} into ${dir}`, describeErrno(e), 'check the directory and its permissions'));
        }
      }
      const r = await extractArchive(blob, target, rootfsOnly ? { route: aciLayout().route } : {});
      return r.isErr() ? fail(ctx, r.error) : 0;
    },
  };
}

function dependenciesOf(image: ImageRecord): number {
  const m = JSON.parse(Buffer.from(image.manifest).toString('utf8')) as { dependencies?: unknown[] };
  return m.dependencies?.length ?? 0;
}

export const run = makeExtractCommand('extract').run;
