// `tspod version`: versions of tspod, its WASM core and Node, and the features of this build.
import { fail, parseFlags, usageError, type CommandContext } from './command.js';
import { detectFeatures, hasOpenat2 } from '../features.js';
import { packageVersion } from '../package-version.js';

const HELP = `Usage: tspod version [--format text|json]

Prints the tspod version, the WASM core version, the Node version and platform,
and the features of this build and host (+ present, - absent).
`;

export async function run(ctx: CommandContext, argv: string[]): Promise<number> {
  const parsed = parseFlags(ctx, 'version', argv, { format: { type: 'string' } }, HELP);
  if (typeof parsed === 'number') return parsed;
  if (parsed.positionals.length > 0) return fail(ctx, usageError('version', `unexpected argument ${JSON.stringify(parsed.positionals[0])}`));
  const { values } = parsed;
  const format = values.format ?? 'text';
  if (format !== 'text' && format !== 'json') return fail(ctx, usageError('version', `unknown format ${format}`));
  const features = detectFeatures(await hasOpenat2());
  if (features.isErr()) return fail(ctx, features.error);
  const info = {
    tspod: packageVersion(),
    core: features.value.coreVersion,
    node: process.version,
    platform: `${process.platform}/${process.arch}`,
    features: features.value.flags,
  };
  if (format === 'json') {
    ctx.stdout.write(JSON.stringify(info, null, 2) + '\n');
    return 0;
  }
  const flags = Object.entries(info.features).map(([k, on]) => `${on ? '+' : '-'}${k}`).join(' ');
  ctx.stdout.write(
    `tspod Version: ${info.tspod}\ncore Version: ${info.core}\nNode Version: ${info.node}\n` +
      `Node OS/Arch: ${info.platform}\nFeatures: ${flags}\n`,
  );
  return 0;
}
