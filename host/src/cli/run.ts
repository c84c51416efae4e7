// `tspod run`: prepare a pod from images (or a pod file) and run it. In the foreground tspod exits
// with the pod's status (the first failing app's); `--detach` prints the UUID once it runs.
import { writeFileSync } from 'node:fs';
import { fail, type CommandContext } from './command.js';
import { parsePodArgs, podFileArgs, type PodArgs } from './pod-args.js';
import { netContext, prepareFromSpec, requireRoot } from './pods-cli.js';
import type { Result } from '../result.js';
import type { TspodError } from '../errors.js';

export const RUN_HELP = `Usage: tspod run [POD FLAGS] IMAGE [APP FLAGS] [-- ARGS...] [--- IMAGE [APP FLAGS] [-- ARGS...]]...
       tspod run POD.toml [--detach]

Runs a pod: each IMAGE is an app (fetched first when not in the store). Exits with the pod's
status: 0, or the first failing app's code (128+N when killed by signal N).
Pod flags:
  --name NAME            unique pod name (default pod-UUID8)
  --stage1 cgroups|fly   isolation (default cgroups; fly: host namespaces, chroot only)
  --net none|host        loopback only (default) or the host's network
  --hostname NAME        (default: the pod name)
  --dns ADDR             a nameserver for /etc/resolv.conf (repeatable)
  --volume NAME,kind=host|empty|tmpfs[,source=PATH][,readOnly=true][,mode=0755][,uid=N][,gid=N][,size=64Mi]
  --detach               start in the background, print the UUID, exit 0 (logs: tspod logs)
  --interactive          give the (single) app this terminal's stdin (otherwise /dev/null)
  --uuid-file-save FILE  write the pod UUID to FILE
  --emit-pod             print the equivalent pod file (TOML) and exit
App flags (after their IMAGE):
  --exec CMD  --user U  --group G  --set-env NAME=VALUE  --working-dir DIR  --app-name NAME
  --memory 256M  --cpu 500m  --pids N  --oom-score-adj N  --read-only-rootfs  --no-new-privileges
  --caps-retain CAP,..  --caps-remove CAP,..  --seccomp mode=remove|retain[,errno=EPERM],SYSCALL,..
  --mount volume=NAME,target=PATH[,readOnly=true]
`;

export async function parseRunArgs(command: string, argv: string[]): Promise<Result<PodArgs, TspodError>> {
  const files = argv.filter((a) => !a.startsWith('--'));
  if (files.length === 1 && files[0]!.endsWith('.toml')) return podFileArgs(files[0]!, argv);
  return parsePodArgs(command, argv);
}

export async function run(ctx: CommandContext, argv: string[]): Promise<number> {
  if (argv[0] === '--help' || argv[0] === '-h') {
    ctx.stdout.write(RUN_HELP);
    return 0;
  }
  const args = await parseRunArgs('run', argv);
  if (args.isErr()) return fail(ctx, args.error);
  if (args.value.emitPod) {
    const { emitPodFile } = await import('../pods/emit.js');
    ctx.stdout.write(await emitPodFile(args.value.spec));
    return 0;
  }
  const denied = requireRoot(ctx, 'run');
  if (denied !== undefined) return denied;
  const prepared = await prepareFromSpec(ctx, args.value.spec);
  if (prepared.isErr()) return fail(ctx, prepared.error);
  if (args.value.uuidFileSave) writeFileSync(args.value.uuidFileSave, `${prepared.value.uuid}\n`);
  const { startPod } = await import('../pods/run.js');
  const started = await startPod(ctx.globals.dir, prepared.value, { detach: args.value.detach, interactive: args.value.interactive ?? false, configDirs: (await netContext(ctx)).configDirs });
  if (started.isErr()) return fail(ctx, started.error);
  if (args.value.detach) ctx.stdout.write(`${prepared.value.uuid}\n`);
  return started.value;
}
