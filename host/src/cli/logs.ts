// `tspod logs [--app NAME] [-f] POD`: a detached pod's app output, oldest rotated file first;
// -f follows it (across rotations) until the pod has exited.
import { closeSync, existsSync, openSync, readSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { ErrorCodes, tspodError } from '../errors.js';
import { fail, parseFlags, usageError, type CommandContext } from './command.js';

const HELP = `Usage: tspod logs [--app NAME] [--stream stdout|stderr] [-f] POD

Prints what the apps of a detached pod wrote (stdout, then stderr unless --stream says).
  -f, --follow   keep printing new output until the pod exits
`;

interface Cursor {
  path: string;
  ino: number;
  offset: number;
}

function copyFrom(ctx: CommandContext, c: Cursor): void {
  let st;
  try {
    st = statSync(c.path);
  } catch {
    return;
  }
  if (st.ino !== c.ino || st.size < c.offset) {
    // Rotated: the file we read became PATH.1 (its rest was read before); start the new one.
    c.ino = st.ino;
    c.offset = 0;
  }
  if (st.size === c.offset) return;
  const fd = openSync(c.path, 'r');
  try {
    const buf = Buffer.allocUnsafe(1 << 16);
    for (let n = readSync(fd, buf, 0, buf.length, c.offset); n > 0; n = readSync(fd, buf, 0, buf.length, c.offset)) {
      ctx.stdout.write(Buffer.from(buf.subarray(0, n)));
      c.offset += n;
    }
  } finally {
    closeSync(fd);
  }
}

export async function run(ctx: CommandContext, argv: string[]): Promise<number> {
  const parsed = parseFlags(ctx, 'logs', argv, { app: { type: 'string' }, follow: { type: 'boolean', short: 'f' }, stream: { type: 'string' } }, HELP);
  if (typeof parsed === 'number') return parsed;
  if (parsed.positionals.length !== 1) return fail(ctx, usageError('logs', 'name one POD'));
  const { resolvePod } = await import('../pods/state.js');
  const pod = resolvePod(ctx.globals.dir, parsed.positionals[0]!);
  if (pod.isErr()) return fail(ctx, pod.error);
  const apps = pod.value.apps.filter((a) => parsed.values.app === undefined || a.name === parsed.values.app);
  if (apps.length === 0) return fail(ctx, usageError('logs', `the pod has no app ${parsed.values.app}`));
  const streams = parsed.values.stream ? [parsed.values.stream] : ['stdout', 'stderr'];
  const cursors: Cursor[] = apps.flatMap((a) => streams.map((s) => ({ path: join(pod.value.dir, 'apps', a.name, s), ino: -1, offset: 0 })));
  if (!cursors.some((c) => existsSync(c.path) || existsSync(`${c.path}.1`))) {
    return fail(ctx, tspodError(ErrorCodes.NOT_FOUND, `show the logs of pod ${pod.value.uuid}`, 'it has no log files', 'only detached pods (--detach) log to files; foreground pods write to the terminal'));
  }
  for (const c of cursors) {
    for (const old of [2, 1]) {
      const rotated: Cursor = { path: `${c.path}.${old}`, ino: -1, offset: 0 };
      copyFrom(ctx, rotated);
    }
    copyFrom(ctx, c);
  }
  if (!parsed.values.follow) return 0;
  for (;;) {
    const now = resolvePod(ctx.globals.dir, pod.value.uuid);
    const running = now.isOk() && now.value.state === 'running';
    for (const c of cursors) copyFrom(ctx, c);
    if (!running) return 0;
    await sleep(200);
  }
}
