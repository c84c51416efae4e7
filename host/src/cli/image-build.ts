// `tspod image build [--no-compression] [--overwrite] DIR OUT.aci`: a deterministic ACI from a
// layout directory; prints the image ID.
import { fail, parseFlags, usageError, type CommandContext } from './command.js';

const HELP = `Usage: tspod image build [--no-compression] [--overwrite] DIR OUT.aci

Builds an App Container Image from the layout DIR, which holds exactly a \`manifest\` file (an
appc ImageManifest, checked first) and a \`rootfs\` directory, and prints its image ID
(sha512- and the SHA-512 of the uncompressed tar).

The build is reproducible: the same layout gives the same bytes and the same image ID.
Entries are sorted (manifest first, then rootfs/), the manifest is stored exactly as written,
owners are numeric, mtimes are whole seconds, and gzip records no name or time.

Flags:
  --no-compression  write a plain tar instead of gzip
  --overwrite       replace OUT.aci if it exists
  --help, -h        this help
`;

const OPTIONS = {
  'no-compression': { type: 'boolean' },
  overwrite: { type: 'boolean' },
} as const;

export async function run(ctx: CommandContext, argv: string[]): Promise<number> {
  const parsed = parseFlags(ctx, 'image build', argv, OPTIONS, HELP);
  if (typeof parsed === 'number') return parsed;
  const { values, positionals } = parsed;
  if (positionals.length !== 2) {
    return fail(ctx, usageError('image build', `needs exactly DIR and OUT.aci, got ${positionals.length} operand${positionals.length === 1 ? '' : 's'}`));
  }
  const [dir, out] = positionals as [string, string];
  const { buildAci } = await import('../appc/build.js');
  const { formatProblem } = await import('../appc/manifest.js');
  const result = await buildAci(dir, out, { compress: values['no-compression'] !== true, overwrite: values.overwrite === true });
  if (result.isErr()) return fail(ctx, result.error);
  for (const w of result.value.warnings) ctx.stderr.write(`tspod: warning: ${dir}/manifest: ${formatProblem(w)}\n`);
  ctx.stdout.write(`${result.value.imageId}\n`);
  return 0;
}
