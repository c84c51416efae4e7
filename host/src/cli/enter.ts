// `tspod enter [--app NAME] POD [CMD...]`: a command inside a running app, with everything the app
// has: its namespaces, root, cgroup, capabilities, seccomp filter, no_new_privs and user.
import { ErrorCodes, tspodError } from '../errors.js';
import { fail, type CommandContext } from './command.js';
import { requireRoot } from './pods-cli.js';

const HELP = `Usage: tspod enter [--app NAME] POD [CMD [ARGS...]]

Runs CMD (default /bin/sh) inside an app of a running pod, confined exactly as the app is.
  --app NAME   which app (needed when the pod has several)
`;

export async function run(ctx: CommandContext, argv: string[]): Promise<number> {
  let app: string | undefined;
  const rest = [...argv];
  if (rest[0] === '--help' || rest[0] === '-h') {
    ctx.stdout.write(HELP);
    return 0;
  }
  if (rest[0] === '--app') {
    app = rest[1];
    rest.splice(0, 2);
  } else if (rest[0]?.startsWith('--app=')) {
    app = rest.shift()!.slice('--app='.length);
  }
  const [ref, ...cmd] = rest;
  if (!ref) return fail(ctx, tspodError(ErrorCodes.USAGE, 'enter', 'no POD given', 'run `tspod enter --help` for usage'));
  const denied = requireRoot(ctx, 'enter');
  if (denied !== undefined) return denied;
  const { enterPod } = await import('../pods/enter.js');
  const r = await enterPod(ctx.globals.dir, ref, app, cmd);
  return r.isErr() ? fail(ctx, r.error) : r.value;
}
