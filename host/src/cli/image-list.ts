// `tspod image list`: the images in the store, as a table or JSON.
import { fail, parseFlags, usageError, type CommandContext } from './command.js';
import { openStore, shortId } from './store-cli.js';

const HELP = `Usage: tspod image list [--full] [--format text|json]

Lists the images in the store: ID, name, version, size, import time, signer.
  --full           show whole image IDs (default: sha512- and 12 hex digits)
  --format json    machine-readable output
`;

export async function run(ctx: CommandContext, argv: string[]): Promise<number> {
  const parsed = parseFlags(ctx, 'image list', argv, { full: { type: 'boolean' }, format: { type: 'string' } }, HELP);
  if (typeof parsed === 'number') return parsed;
  if (parsed.positionals.length > 0) return fail(ctx, usageError('image list', `unexpected argument ${JSON.stringify(parsed.positionals[0])}`));
  const { values } = parsed;
  const format = values.format ?? 'text';
  if (format !== 'text' && format !== 'json') return fail(ctx, usageError('image list', `unknown format ${format}`));
  const store = openStore(ctx);
  if (store.isErr()) return fail(ctx, store.error);
  const images = await store.value.locked(() => store.value.list());
  if (images.isErr()) return fail(ctx, images.error);
  if (format === 'json') {
    const rows = images.value.map(({ manifest: _m, ...r }) => ({ ...r, importedAt: new Date(r.importedAt).toISOString(), lastUsed: new Date(r.lastUsed).toISOString() }));
    ctx.stdout.write(JSON.stringify(rows, null, 2) + '\n');
    return 0;
  }
  const table = [['ID', 'NAME', 'VERSION', 'SIZE', 'IMPORT TIME', 'SIGNED BY']].concat(images.value.map((r) => [
    shortId(r.id, values.full ?? false), r.name, r.labels['version'] ?? '', humanSize(r.size),
    new Date(r.importedAt).toISOString().replace(/\.\d+Z$/, 'Z'), r.signers[0]?.fingerprint.slice(-16) ?? '(unverified)',
  ]));
  const widths = table[0]!.map((_, c) => Math.max(...table.map((row) => row[c]!.length)));
  ctx.stdout.write(table.map((row) => row.map((cell, c) => cell.padEnd(widths[c]!)).join('  ').trimEnd()).join('\n') + '\n');
  return 0;
}

function humanSize(n: number): string {
  const units = ['B', 'KiB', 'MiB', 'GiB'];
  let i = 0;
  let v = n;
  while (v >= 1024 && i < units.length - 1) { v /= 1024; i++; }
  return `${i === 0 ? v : v.toFixed(1)}${units[i]}`;
}
