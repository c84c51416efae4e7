// `tspod image verify [IMAGE...]`: re-checks rendered trees against their images (root only).
import { mkdtempSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { fail, usageError, type CommandContext } from './command.js';
import { isRoot, openStore } from './store-cli.js';
import { ErrorCodes, tspodError, type TspodError } from '../errors.js';
import { ok, err, type Result } from '../result.js';
import { extractArchive } from '../extract/extract.js';
import { aciLayout } from '../store/aci-route.js';
import { treePath } from '../store/layout.js';
import { compareTrees } from '../store/verify-tree.js';
import type { ImageRecord, ImageStore } from '../store/images.js';

const HELP = `Usage: tspod image verify [IMAGE...]

Checks each rendered tree (all images when none is named) node by node against a fresh extraction
of its image: type, mode, owner, size, mtime, link target, device numbers and content hash.
Exit 0 when every tree matches, 254 otherwise. Needs root.
`;

async function verifyOne(store: ImageStore, image: ImageRecord): Promise<string[]> {
  if (!image.rendered) return [];
  const scratch = mkdtempSync(join(store.paths.tmp, 'verify-'));
  try {
    const fresh = await extractArchive(store.blobOf(image), join(scratch, 'rootfs'), { route: aciLayout().route });
    if (fresh.isErr()) return [`its blob cannot be extracted: ${fresh.error.why}`];
    return compareTrees(join(treePath(store.paths, image.id), 'rootfs'), join(scratch, 'rootfs'));
  } finally {
    rmSync(scratch, { recursive: true, force: true });
  }
}

export async function run(ctx: CommandContext, argv: string[]): Promise<number> {
  if (argv.includes('--help') || argv.includes('-h')) {
    ctx.stdout.write(HELP);
    return 0;
  }
  if (argv.some((a) => a.startsWith('-'))) return fail(ctx, usageError('image verify', `unknown flag ${argv.find((a) => a.startsWith('-'))}`));
  if (!isRoot()) return fail(ctx, tspodError(ErrorCodes.PERMISSION, 'verify rendered trees', 'reading every tree and re-extracting images needs root', 'run it as root'));
  const store = openStore(ctx);
  if (store.isErr()) return fail(ctx, store.error);
  const s = store.value;
  const bad = await s.locked(async () => {
    const images = argv.length === 0 ? await s.list() : await resolveAll(s, argv);
    if (images.isErr()) return err(images.error);
    let failures = 0;
    for (const image of images.value) {
      const diffs = await verifyOne(s, image);
      ctx.stdout.write(`${image.id.slice(0, 19)} ${image.name}: ${diffs.length === 0 ? (image.rendered ? 'ok' : 'not rendered') : 'CHANGED'}\n`);
      for (const d of diffs) ctx.stdout.write(`  ${d}\n`);
      if (diffs.length > 0) failures++;
    }
    return images.map(() => failures);
  });
  if (bad.isErr()) return fail(ctx, bad.error);
  if (bad.value === 0) return 0;
  return fail(ctx, tspodError(ErrorCodes.STORE, 'verify rendered trees', `${bad.value} trees differ from their images`,
    'remove and fetch those images again (`tspod image rm`, `tspod fetch`)'));
}

async function resolveAll(s: ImageStore, refs: string[]): Promise<Result<ImageRecord[], TspodError>> {
  const out: ImageRecord[] = [];
  for (const r of refs) {
    const one = await s.resolve(r);
    if (one.isErr()) return err(one.error);
    out.push(one.value);
  }
  return ok(out);
}
