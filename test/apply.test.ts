// apply, diff, delete and reconcile with real pods (root), pod files in a temp dir and a real git
// repository made by the test. Everything is stopped and collected in after().
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, spawnSync, type SpawnSyncReturns } from 'node:child_process';
import { chmodSync, copyFileSync, existsSync, mkdirSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';

const TSPOD = new URL('../../bin/tspod.js', import.meta.url).pathname;
const ready = process.geteuid?.() === 0 && existsSync('/bin/busybox') && spawnSync('git', ['--version']).status === 0;

describe('apply, diff, delete, reconcile', { skip: ready ? false : 'needs root, busybox-static and git' }, () => {
  let work: string;
  let pods: string;
  const tspod = (args: string[]): SpawnSyncReturns<string> =>
    spawnSync(process.execPath, [TSPOD, '--dir', join(work, 'data'), '--local-config', join(work, 'etc'), ...args], { encoding: 'utf8', timeout: 90_000 });
  const podFile = (dir: string, name: string, extra = '', cmd = 'sleep 300'): void =>
    writeFileSync(join(dir, `${name}.toml`), `apiVersion = "tspod/v1"\nkind = "Pod"\nname = "${name}"\n${extra}\n[network]\nmode = "none"\n[[app]]\nname = "main"\nimage = "example.com/busybox:1"\nexec = ["/bin/sh", "-c", "${cmd}"]\n`);
  const state = (name: string): string => /state=(\S+)/.exec(tspod(['status', name]).stdout)?.[1] ?? 'absent';
  const uuid = (name: string): string => /uuid=(\S+)/.exec(tspod(['status', name]).stdout)?.[1] ?? '';

  before(() => {
    work = mkdtempSync(join(tmpdir(), 'tspod-apply-'));
    pods = join(work, 'pods');
    mkdirSync(pods);
    mkdirSync(join(work, 'etc'));
    const layout = join(work, 'layout');
    mkdirSync(join(layout, 'rootfs', 'bin'), { recursive: true });
    copyFileSync('/bin/busybox', join(layout, 'rootfs', 'bin', 'busybox'));
    chmodSync(join(layout, 'rootfs', 'bin', 'busybox'), 0o755);
    for (const a of ['sh', 'sleep', 'echo', 'true', 'false', 'cat', 'test', 'httpd', 'mkdir']) symlinkSync('busybox', join(layout, 'rootfs', 'bin', a));
    writeFileSync(join(layout, 'manifest'), JSON.stringify({ acKind: 'ImageManifest', acVersion: '0.8.11', name: 'example.com/busybox',
      labels: [{ name: 'version', value: '1' }, { name: 'os', value: 'linux' }, { name: 'arch', value: 'amd64' }],
      app: { exec: ['/bin/sleep', '300'], user: '0', group: '0' } }));
    assert.equal(tspod(['image', 'build', layout, join(work, 'bb.aci')]).status, 0);
    assert.equal(tspod(['--insecure-options=image', 'fetch', join(work, 'bb.aci')]).status, 0);
  });

  after(() => {
    const list = tspod(['list', '--format', 'json']);
    for (const p of list.status === 0 ? (JSON.parse(list.stdout) as Array<{ uuid: string; state: string }>) : []) if (p.state === 'running') tspod(['stop', '--force', p.uuid]);
    tspod(['gc', '--grace-period', '0s']);
    tspod(['gc', '--grace-period', '0s']);
    rmSync(work, { recursive: true, force: true });
  });

  it('create, unchanged, replace, prune; dry-run and diff exit codes; after orders starts', () => {
    podFile(pods, 'db');
    podFile(pods, 'api', 'after = ["db"]');
    const dry = tspod(['apply', '--dry-run', pods]);
    assert.equal(dry.status, 0);
    assert.equal(dry.stdout, `create db (${join(pods, 'db.toml')})\ncreate api (${join(pods, 'api.toml')})\n`, 'db first: api starts after it');
    assert.equal(state('db'), 'absent', 'dry-run changes nothing');
    assert.equal(tspod(['diff', pods]).status, 1);
    const first = tspod(['apply', pods]);
    assert.equal(first.status, 0, first.stderr);
    assert.equal(state('db'), 'running');
    assert.equal(state('api'), 'running');
    const dbUuid = uuid('db');
    const again = tspod(['apply', pods]);
    assert.match(again.stdout, /unchanged db/);
    assert.equal(uuid('db'), dbUuid, 'idempotent: the same pod keeps running');
    assert.equal(tspod(['diff', pods]).status, 0);
    // Formatting and key order do not count as a change.
    writeFileSync(join(pods, 'db.toml'), `# reformatted\nkind = "Pod"\napiVersion = "tspod/v1"\nname = "db"\n\n[network]\nmode = "none"\n[[app]]\nimage = "example.com/busybox:1"\nname = "main"\nexec = ["/bin/sh", "-c", "sleep 300"]\n`);
    assert.equal(tspod(['diff', pods]).status, 0);
    podFile(pods, 'db', '', 'sleep 301');
    assert.equal(tspod(['diff', pods]).status, 1);
    const replaced = tspod(['apply', pods]);
    assert.match(replaced.stdout, /replace db \(.*changed\)/);
    assert.notEqual(uuid('db'), dbUuid);
    rmSync(join(pods, 'api.toml'));
    assert.match(tspod(['apply', pods]).stdout, /unchanged db/, 'without --prune api stays');
    assert.equal(state('api'), 'running');
    const pruned = tspod(['apply', '--prune', pods]);
    assert.match(pruned.stdout, /prune api/);
    assert.equal(state('api'), 'absent');
  });

  it('a bad file changes nothing; a bad image never takes the running pod down; hand-started pods are never touched', () => {
    const running = uuid('db');
    writeFileSync(join(pods, 'broken.toml'), 'apiVersion = "tspod/v1"\nkind = "Pod"\nname = "broken"\nstage = "fly"\n[[app]]\nname = "a"\nimage = "x"\n');
    const refused = tspod(['apply', pods]);
    assert.equal(refused.status, 1);
    assert.match(refused.stderr, /TSPOD_L_UNKNOWN_KEY/);
    assert.match(refused.stderr, /nothing was applied/);
    assert.equal(tspod(['diff', pods]).status, 2);
    rmSync(join(pods, 'broken.toml'));
    writeFileSync(join(pods, 'db.toml'), `apiVersion = "tspod/v1"\nkind = "Pod"\nname = "db"\n[network]\nmode = "none"\n[[app]]\nname = "main"\nimage = "example.com/does-not-exist:9"\n`);
    const badImage = tspod(['--insecure-options=image', 'apply', pods]);
    assert.equal(badImage.status, 254);
    assert.equal(uuid('db'), running, 'the old pod still runs');
    assert.equal(state('db'), 'running');
    podFile(pods, 'db', '', 'sleep 301');
    const hand = tspod(['run', '--detach', '--name', 'manual', '--net', 'none', 'example.com/busybox:1']);
    assert.equal(hand.status, 0, hand.stderr);
    podFile(pods, 'manual');
    const conflict = tspod(['apply', pods]);
    assert.equal(conflict.status, 254);
    assert.match(conflict.stderr, /started by hand/);
    rmSync(join(pods, 'manual.toml'));
    assert.doesNotMatch(tspod(['apply', '--prune', pods]).stdout, /prune manual/);
    assert.equal(state('manual'), 'running');
    const deleted = tspod(['delete', pods]);
    assert.match(deleted.stdout, /deleted db/);
    assert.equal(state('db'), 'absent');
  });

  it('reconcile over a git repository: adds, changes, removals converge; a bad commit is refused; drift is corrected; one reconciler per source', async () => {
    const repo = join(work, 'repo');
    mkdirSync(join(repo, 'pods'), { recursive: true });
    const g = (...args: string[]): void => assert.equal(spawnSync('git', ['-C', repo, ...args], { encoding: 'utf8' }).status, 0, `git ${args.join(' ')}`);
    g('init', '-q');
    g('config', 'user.email', 'test@tspod.local');
    g('config', 'user.name', 'test');
    podFile(join(repo, 'pods'), 'web');
    podFile(join(repo, 'pods'), 'worker');
    g('add', '-A');
    g('commit', '-qm', 'two pods');
    const rec = (): SpawnSyncReturns<string> => tspod(['reconcile', '--git', repo, '--path', 'pods', '--once']);
    assert.equal(rec().status, 0);
    assert.equal(state('web'), 'running');
    assert.equal(state('worker'), 'running');
    const status = JSON.parse(tspod(['reconcile', 'status', '--git', repo, '--path', 'pods', '--format', 'json']).stdout);
    assert.equal(status.pods.length, 2);
    assert.ok(status.pods.every((p: { condition: string }) => p.condition === 'Ready'));
    const head = spawnSync('git', ['-C', repo, 'rev-parse', 'HEAD'], { encoding: 'utf8' }).stdout.trim();
    assert.equal(status.lastGoodRevision, head);
    // Drift: a pod stopped by hand comes back.
    tspod(['stop', '--force', 'web']);
    assert.match(rec().stderr, /replace web .*not running/);
    assert.equal(state('web'), 'running');
    // A commit that changes one pod and removes another.
    podFile(join(repo, 'pods'), 'web', '', 'sleep 302');
    rmSync(join(repo, 'pods', 'worker.toml'));
    g('commit', '-qam', 'change web, drop worker');
    const changed = rec();
    assert.match(changed.stderr, /replace web .*changed/);
    assert.match(changed.stderr, /prune worker/);
    assert.equal(state('worker'), 'absent');
    // A broken commit is refused and the last good revision keeps running.
    const webUuid = uuid('web');
    writeFileSync(join(repo, 'pods', 'web.toml'), 'name = 1\n');
    g('commit', '-qam', 'broken');
    assert.equal(rec().status, 1);
    assert.equal(uuid('web'), webUuid);
    assert.equal(state('web'), 'running');
    const after = JSON.parse(tspod(['reconcile', 'status', '--git', repo, '--path', 'pods', '--format', 'json']).stdout);
    assert.match(after.lastError, /refused/);
    assert.notEqual(after.revision, after.lastGoodRevision);
    // Two reconcilers on one source do not fight: the second is refused while the first runs.
    const first = spawn(process.execPath, [TSPOD, '--dir', join(work, 'data'), '--local-config', join(work, 'etc'), 'reconcile', '--git', repo, '--path', 'pods', '--interval', '1h'], { stdio: 'ignore' });
    try {
      await sleep(1500);
      const second = rec();
      assert.equal(second.status, 254);
      assert.match(second.stderr, /another reconciler/);
    } finally {
      first.kill('SIGKILL');
    }
  });

  it('restart policy with backoff, health checks that restart, after waits for health', () => {
    const file = join(work, 'restarting.toml');
    writeFileSync(file, 'apiVersion = "tspod/v1"\nkind = "Pod"\nname = "restarting"\n[restart]\npolicy = "on-failure"\nbackoff_initial = "50ms"\nbackoff_max = "200ms"\nmax_retries = 3\n[network]\nmode = "none"\n[[app]]\nname = "main"\nimage = "example.com/busybox:1"\nexec = ["/bin/sh", "-c", "echo run; exit 2"]\n');
    const r = tspod(['run', file]);
    assert.equal(r.status, 2);
    assert.equal(r.stdout, 'run\nrun\nrun\nrun\n', 'the first run and 3 restarts');
    assert.match(tspod(['status', 'restarting']).stdout, /app-main=2 restarts=3/);
    const never = join(work, 'never.toml');
    writeFileSync(never, 'apiVersion = "tspod/v1"\nkind = "Pod"\nname = "ok-exit"\n[restart]\npolicy = "on-failure"\n[network]\nmode = "none"\n[[app]]\nname = "main"\nimage = "example.com/busybox:1"\nexec = ["/bin/sh", "-c", "echo once"]\n');
    assert.equal(tspod(['run', never]).stdout, 'once\n', 'on-failure does not restart a clean exit');
    const sick = join(work, 'sick.toml');
    writeFileSync(sick, 'apiVersion = "tspod/v1"\nkind = "Pod"\nname = "sick"\n[restart]\npolicy = "always"\nbackoff_initial = "50ms"\nmax_retries = 2\n[network]\nmode = "none"\n[[app]]\nname = "main"\nimage = "example.com/busybox:1"\nexec = ["/bin/sh", "-c", "sleep 60"]\n[app.health]\nexec = ["/bin/sh", "-c", "test -e /tmp/ready"]\ninterval = "100ms"\ntimeout = "1s"\nretries = 2\n');
    const sr = tspod(['run', sick]);
    assert.equal(sr.status, 137, 'killed for failing its health check, restarted twice, then given up');
    assert.match(tspod(['status', 'sick']).stdout, /app-main=137 restarts=2 health=unhealthy/);
    // An exec check runs inside the app (its root, its seccomp filter), never on the host.
    const inside = join(work, 'inside.toml');
    writeFileSync(inside, 'apiVersion = "tspod/v1"\nkind = "Pod"\nname = "inside"\n[network]\nmode = "none"\n[[app]]\nname = "main"\nimage = "example.com/busybox:1"\nexec = ["/bin/sh", "-c", "echo > /app-marker; sleep 60"]\n[app.health]\nexec = ["/bin/sh", "-c", "test -e /app-marker && echo > /check-was-here"]\ninterval = "100ms"\nretries = 3\n');
    assert.equal(tspod(['run', '--detach', inside]).status, 0);
    let health = '';
    for (let i = 0; i < 50 && !health.includes('health=healthy'); i++) {
      spawnSync('sleep', ['0.1']);
      health = tspod(['status', 'inside']).stdout;
    }
    assert.match(health, /health=healthy/, 'the check sees the app\'s files, under the default seccomp filter');
    assert.ok(!existsSync('/check-was-here'), 'and writes nothing on the host');
    tspod(['stop', '--force', 'inside']);
    // A dependency with an HTTP health check: its dependant starts once it is healthy.
    const deps = join(work, 'deps');
    mkdirSync(deps);
    writeFileSync(join(deps, 'backend.toml'), 'apiVersion = "tspod/v1"\nkind = "Pod"\nname = "backend"\n[network]\nmode = "none"\n[[app]]\nname = "main"\nimage = "example.com/busybox:1"\nexec = ["/bin/sh", "-c", "sleep 0.5; mkdir -p /www; echo ok > /www/index.html; exec httpd -f -p 8080 -h /www"]\n[app.health]\nhttp = "http://127.0.0.1:8080/"\ninterval = "100ms"\nretries = 50\n');
    podFile(deps, 'frontend', 'after = ["backend"]');
    const applied = tspod(['apply', deps]);
    assert.equal(applied.status, 0, applied.stderr);
    assert.match(tspod(['status', 'backend']).stdout, /health=healthy/);
    assert.equal(state('frontend'), 'running');
    assert.equal(tspod(['delete', deps]).status, 0);
  });

  it('systemd: a Type=notify unit for a pod file, and READY=1 on $NOTIFY_SOCKET once the pod runs', async () => {
    const file = join(work, 'unit.toml');
    podFile(work, 'unit', '', 'sleep 0.5');
    const unit = tspod(['systemd', 'unit', file]);
    assert.equal(unit.status, 0, unit.stderr);
    assert.match(unit.stdout, /^Type=notify$/m);
    assert.match(unit.stdout, new RegExp(`^ExecStart=.* run ${file.replaceAll('/', '\\/')}$`, 'm'));
    assert.match(unit.stdout, /^ExecStop=.* stop unit$/m);
    const sock = join(work, 'notify.sock');
    const listener = spawn('python3', ['-c', `import socket,sys\ns=socket.socket(socket.AF_UNIX,socket.SOCK_DGRAM)\ns.bind(${JSON.stringify(sock)})\nprint('bound',flush=True)\nprint(s.recv(256).decode(),flush=True)`], { stdio: ['ignore', 'pipe', 'inherit'] });
    let heard = '';
    listener.stdout!.on('data', (c) => (heard += String(c)));
    for (let i = 0; i < 50 && !heard.includes('bound'); i++) await sleep(50);
    const r = spawnSync(process.execPath, [TSPOD, '--dir', join(work, 'data'), '--local-config', join(work, 'etc'), 'run', file], { encoding: 'utf8', env: { ...process.env, NOTIFY_SOCKET: sock } });
    assert.equal(r.status, 0, r.stderr);
    for (let i = 0; i < 50 && !heard.includes('READY'); i++) await sleep(50);
    listener.kill();
    assert.match(heard, /READY=1/);
  });

  it('reconcile --dir reacts to file changes without waiting for the interval', async () => {
    const dir = join(work, 'watched');
    mkdirSync(dir);
    const loop = spawn(process.execPath, [TSPOD, '--dir', join(work, 'data'), '--local-config', join(work, 'etc'), 'reconcile', '--dir', dir, '--interval', '1h'], { stdio: 'ignore' });
    try {
      await sleep(1000);
      podFile(dir, 'watched');
      for (let i = 0; i < 100 && state('watched') !== 'running'; i++) await sleep(100);
      assert.equal(state('watched'), 'running');
    } finally {
      loop.kill('SIGKILL');
    }
  });
});
