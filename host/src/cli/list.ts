// `tspod list [--format json] [--full]`: every pod, its state and apps (rkt's columns).
import { fail, parseFlags, usageError, type CommandContext } from './command.js';
import { podTime } from './pods-cli.js';

const HELP = `Usage: tspod list [--format text|json] [--full]

Lists pods: UUID, name, apps with their images, state, created and started times.
  --full   whole UUIDs and image IDs
`;

export async function run(ctx: CommandContext, argv: string[]): Promise<number> {
  const parsed = parseFlags(ctx, 'list', argv, { format: { type: 'string', default: 'text' }, full: { type: 'boolean' } }, HELP);
  if (typeof parsed === 'number') return parsed;
  if (parsed.values.format !== 'text' && parsed.values.format !== 'json') return fail(ctx, usageError('list', '--format must be text or json'));
  const { listPods } = await import('../pods/state.js');
  const pods = listPods(ctx.globals.dir);
  if (parsed.values.format === 'json') {
    ctx.stdout.write(`${JSON.stringify(pods.map(({ manifest: _m, dir: _d, dirState: _s, ...p }) => p), null, 2)}\n`);
    return 0;
  }
  const full = parsed.values.full ?? false;
  const rows = [['UUID', 'NAME', 'APP', 'IMAGE', 'STATE', 'NETWORKS', 'CREATED', 'STARTED']];
  for (const p of pods) {
    const apps = p.apps.length > 0 ? p.apps : [{ name: '-', image: '-', imageId: '' }];
    apps.forEach((a, i) => rows.push(i === 0
      ? [full ? p.uuid : p.uuid.slice(0, 8), p.name, a.name, full ? a.imageId : a.image, p.state,
        p.networks.map((n) => `${n.name}:${n.ips.map((ip) => ip.replace(/\/\d+$/, '')).join(',')}`).join(' ') || '-', podTime(p.createdAt), podTime(p.startedAt)]
      : ['', '', a.name, full ? a.imageId : a.image, '', '', '', '']));
  }
  const widths = rows[0]!.map((_, c) => Math.max(...rows.map((r) => r[c]!.length)));
  for (const r of rows) ctx.stdout.write(`${r.map((v, c) => v.padEnd(widths[c]!)).join('  ').trimEnd()}\n`);
  return 0;
}
