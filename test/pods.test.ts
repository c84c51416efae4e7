// Running pods for real: the C stage1 in kernel namespaces, overlayfs roots, cgroup v1 limits,
// capabilities and seccomp, driven through the real CLI from a busybox-static ACI. Root only.
// Every pod is removed and every cgroup deleted in after(), whatever happened.
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, spawnSync, type SpawnSyncReturns } from 'node:child_process';
import { chmodSync, existsSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, symlinkSync, writeFileSync, copyFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';

const TSPOD = new URL('../../bin/tspod.js', import.meta.url).pathname;
const root = process.geteuid?.() === 0;
const haveBusybox = existsSync('/bin/busybox');
const APPLETS = ['nsenter', 'sh', 'cat', 'echo', 'hostname', 'ls', 'id', 'mount', 'umount', 'sleep', 'true', 'false', 'grep', 'head', 'touch', 'mknod', 'kill', 'dd', 'seq', 'pivot_root', 'unshare', 'wc', 'tr', 'test', 'stat'];

describe('pods (cgroups and fly stage1s)', { skip: !root ? 'needs root (namespaces, mounts, cgroups)' : !haveBusybox ? 'needs busybox-static' : false }, () => {
  let work: string;
  let data: string;
  // Small log files, so a test sees rotation.
  const tspod = (args: string[], opts: { input?: string; env?: NodeJS.ProcessEnv } = {}): SpawnSyncReturns<string> =>
    spawnSync(process.execPath, [TSPOD, '--dir', data, '--local-config', join(work, 'etc'), ...args], { encoding: 'utf8', timeout: 60_000, env: { ...process.env, TSPOD_LOG_MAX_BYTES: '8192', ...opts.env }, ...(opts.input !== undefined && { input: opts.input }) });
  const sh = (script: string, ...flags: string[]): SpawnSyncReturns<string> => tspod(['run', ...flags.filter((f) => !f.startsWith('@')), 'example.com/busybox:1', ...flags.filter((f) => f.startsWith('@')).map((f) => f.slice(1)), '--exec', '/bin/sh', '--', '-c', script]);

  before(() => {
    work = mkdtempSync(join(tmpdir(), 'tspod-pods-'));
    data = join(work, 'data');
    // Pods join the net named default unless told otherwise: here a test subnet (198.18.0.0/15).
    mkdirSync(join(work, 'etc', 'net.d'), { recursive: true });
    writeFileSync(join(work, 'etc', 'net.d', 'default.conflist'), JSON.stringify({ cniVersion: '1.0.0', name: 'default',
      plugins: [{ type: 'ptp', ipMasq: false, ipam: { type: 'host-local', ranges: [[{ subnet: '198.18.2.0/24' }]], dataDir: join(work, 'ipam') } }] }));
    const layout = join(work, 'layout');
    const rootfs = join(layout, 'rootfs');
    mkdirSync(join(rootfs, 'bin'), { recursive: true });
    mkdirSync(join(rootfs, 'etc'));
    mkdirSync(join(rootfs, 'tmp'), { mode: 0o1777 });
    copyFileSync('/bin/busybox', join(rootfs, 'bin', 'busybox'));
    chmodSync(join(rootfs, 'bin', 'busybox'), 0o755);
    for (const a of APPLETS) symlinkSync('busybox', join(rootfs, 'bin', a));
    writeFileSync(join(rootfs, 'etc', 'passwd'), 'root:x:0:0:root:/root:/bin/sh\nweb:x:1000:1000:web:/srv:/bin/sh\nnobody:x:65534:65534:nobody:/:/bin/sh\n');
    writeFileSync(join(rootfs, 'etc', 'group'), 'root:x:0:\nweb:x:1000:\nstaff:x:50:web\nnogroup:x:65534:\n');
    writeFileSync(join(layout, 'manifest'), JSON.stringify({
      acKind: 'ImageManifest', acVersion: '0.8.11', name: 'example.com/busybox',
      labels: [{ name: 'version', value: '1' }, { name: 'os', value: 'linux' }, { name: 'arch', value: 'amd64' }],
      app: { exec: ['/bin/sh', '-c', 'echo hello from $(hostname); exit 7'], user: '0', group: '0', environment: [{ name: 'FROM_IMAGE', value: 'yes' }] },
    }));
    const aci = join(work, 'busybox.aci');
    assert.equal(tspod(['image', 'build', layout, aci]).status, 0);
    const fetched = tspod(['--insecure-options=image', 'fetch', aci]);
    assert.equal(fetched.status, 0, fetched.stderr);
  });

  after(async () => {
    // Stop whatever still runs, then let gc remove pods and cgroups.
    const list = tspod(['list', '--format', 'json']);
    const pods = list.status === 0 ? (JSON.parse(list.stdout) as Array<{ uuid: string; state: string }>) : [];
    for (const p of pods.filter((x) => x.state === 'running')) tspod(['stop', '--force', p.uuid]);
    tspod(['gc', '--grace-period', '0s', '--expire-prepared', '0s']);
    tspod(['gc', '--grace-period', '0s', '--expire-prepared', '0s']);
    rmSync(work, { recursive: true, force: true });
  });

  it('runs the image command in the foreground and exits with its status', () => {
    const r = tspod(['run', '--name', 'first', 'example.com/busybox:1']);
    assert.equal(r.status, 7, r.stderr);
    assert.equal(r.stdout, 'hello from first\n');
    const status = tspod(['status', 'first']);
    assert.match(status.stdout, /state=exited/);
    assert.match(status.stdout, /app-busybox=7/);
  });

  it('env (image, then flags), user by name with its groups, working dir, hostname, /etc files', () => {
    const r = sh('echo "$FROM_IMAGE $GREETING"; id; pwd; hostname; cat /etc/hosts | grep 198.18.0.9; grep NoNewPrivs /proc/self/status',
      '--hostname', 'box', '@--set-env', '@GREETING=hi', '@--user', '@web', '@--working-dir', '@/tmp');
    assert.equal(r.status, 0, r.stderr);
    const lines = r.stdout.trim().split('\n');
    assert.equal(lines[0], 'yes hi');
    assert.match(lines[1]!, /^uid=1000\(web\) gid=1000\(web\) groups=50\(staff\)/);
    assert.equal(lines[2], '/tmp');
    assert.equal(lines[3], 'box');
    assert.match(r.stdout, /NoNewPrivs:\s+1/, 'no_new_privs is on for non-root apps');
  });

  it('default capabilities and seccomp; escape attempts are denied', () => {
    const script = [
      'grep -E "^Cap(Eff|Bnd)" /proc/self/status',
      'mount -t tmpfs x /mnt 2>/dev/null && echo MOUNTED',
      'unshare -m true 2>/dev/null && echo UNSHARED',
      'mkdir -p /new/old && pivot_root /new /new/old 2>/dev/null && echo PIVOTED',
      'echo x > /proc/sys/kernel/hostname 2>/dev/null && echo SYSCTL',
      'echo h > /proc/sysrq-trigger 2>/dev/null && echo SYSRQ',
      'mknod /tmp/disk b 8 0 && dd if=/tmp/disk bs=512 count=1 of=/dev/null 2>/dev/null && echo DISK',
      'cat /proc/keys 2>/dev/null | head -1 | grep -q . && echo KEYS',
      'ls /proc/1/root/ >/dev/null 2>&1 && echo PID1ROOT',
      'dd if=/proc/1/mem bs=1 count=1 of=/dev/null 2>/dev/null && echo PID1MEM',
      'nsenter -t 1 -m true 2>/dev/null && echo SETNS',
      'cat /proc/1/environ >/dev/null 2>&1 && echo PID1ENV',
      `kill -0 ${process.pid} 2>/dev/null && echo HOSTPID`,
      'echo 1 > /sys/fs/cgroup/memory/memory.limit_in_bytes 2>/dev/null && echo CGROUP',
      'ls /proc/self/fd | tr "\\n" " "; echo',
      'ls /proc | grep -c "^[0-9]"',
    ].join('; ');
    const r = sh(script);
    assert.equal(r.status, 0, r.stderr);
    assert.match(r.stdout, /CapEff:\s+00000000a80425fb/, 'the 14 default capabilities');
    assert.match(r.stdout, /CapBnd:\s+00000000a80425fb/);
    for (const escaped of ['PID1MEM', 'SETNS', 'MOUNTED', 'UNSHARED', 'PIVOTED', 'SYSCTL', 'SYSRQ', 'DISK', 'KEYS', 'PID1ROOT', 'PID1ENV', 'HOSTPID', 'CGROUP']) {
      assert.ok(!r.stdout.includes(escaped), `${escaped} must be denied:\n${r.stdout}`);
    }
    assert.match(r.stdout, /^0 1 2 3 $/m, 'only 0-2 (and ls\'s own directory fd) are open');
    const procCount = Number(r.stdout.trim().split('\n').at(-1));
    assert.ok(procCount <= 4, `the pod sees its own processes only (${procCount})`);
  });

  it('--insecure-options=capabilities,paths,seccomp lifts exactly those, with a warning', () => {
    const r = tspod(['--insecure-options=capabilities,paths,seccomp', 'run', 'example.com/busybox:1', '--exec', '/bin/sh', '--', '-c', 'grep -E "^(CapEff|Seccomp):" /proc/self/status; grep -c " /proc/sys " /proc/mounts; true']);
    assert.equal(r.status, 0, r.stderr);
    assert.match(r.stdout, /Seccomp:\s+0/);
    assert.doesNotMatch(r.stdout, /CapEff:\s+00000000a80425fb/, 'more than the default set');
    assert.match(r.stdout, /^0$/m, '/proc/sys is not remounted read-only');
    assert.match(r.stderr, /warning: seccomp isolation is disabled/);
  });

  it('capability retain/remove and a seccomp remove set with errno', () => {
    const r = sh('grep CapEff /proc/self/status; chown 1 /tmp 2>&1 | head -1; chmod 700 /tmp 2>&1 | head -1', '@--caps-retain', '@CAP_NET_BIND_SERVICE,CAP_CHOWN', '@--seccomp', '@mode=remove,errno=EACCES,chmod,fchmodat,fchmodat2');
    assert.equal(r.status, 0, r.stderr);
    assert.match(r.stdout, /CapEff:\s+0000000000000401/);
    assert.match(r.stdout, /Permission denied/, 'chmod refused with EACCES');
  });

  it('volumes: host read-only, empty shared between two apps, tmpfs; read-only rootfs', () => {
    const host = join(work, 'host-vol');
    mkdirSync(host, { recursive: true });
    writeFileSync(join(host, 'greeting'), 'from the host\n');
    const r = tspod(['run', '--volume', `hostdir,kind=host,source=${host},readOnly=true`, '--volume', 'shared,kind=empty,mode=0777', '--volume', 'scratch,kind=tmpfs,size=8Mi',
      'example.com/busybox:1', '--app-name', 'writer', '--mount', 'volume=shared,target=/shared', '--exec', '/bin/sh', '--', '-c', 'echo ping > /shared/msg',
      '---', 'example.com/busybox:1', '--app-name', 'reader', '--read-only-rootfs', '--mount', 'volume=shared,target=/shared', '--mount', 'volume=hostdir,target=/host', '--mount', 'volume=scratch,target=/scratch',
      '--exec', '/bin/sh', '--', '-c', 'for i in $(seq 50); do test -f /shared/msg && break; sleep 0.1; done; cat /shared/msg /host/greeting; touch /host/x 2>/dev/null && echo HOSTWRITE; touch /rootfile 2>/dev/null && echo ROOTWRITE; echo ok > /scratch/f && cat /scratch/f; grep " /scratch " /proc/mounts | grep -c tmpfs']);
    assert.equal(r.status, 0, r.stderr);
    assert.match(r.stdout, /^ping\nfrom the host\nok\n1\n$/);
    assert.ok(!existsSync(join(host, 'x')));
  });

  it('memory limit: an app allocating past it is OOM-killed and status says so; pids limit stops forks; cpu quota is written', async () => {
    const oom = tspod(['run', '--name', 'oom', 'example.com/busybox:1', '--memory', '16Mi', '--exec', '/bin/dd', '--', 'if=/dev/zero', 'of=/dev/null', 'bs=64M', 'count=1']);
    assert.equal(oom.status, 137, `killed by SIGKILL: ${oom.stderr}`);
    assert.match(tspod(['status', 'oom']).stdout, /app-busybox=137 \(OOM-killed/);
    const pids = sh('for i in $(seq 20); do sleep 2 & done 2>&1 | grep -c "can.t fork"; wait', '@--pids', '@6');
    assert.ok(Number(pids.stdout.trim()) > 0, `forks past pids.max fail: ${pids.stdout}${pids.stderr}`);
    const uuid = tspod(['run', '--detach', 'example.com/busybox:1', '--cpu', '250m', '--exec', '/bin/sleep', '--', '30']).stdout.trim();
    const cpuRoot = '/sys/fs/cgroup/cpu';
    const quota = spawnSync('sh', ['-c', `cat $(find ${cpuRoot} -path "*tspod/${uuid}-0/cpu.cfs_quota_us" | head -1)`], { encoding: 'utf8' }).stdout.trim();
    assert.equal(quota, '25000', '250 millicores = 25 ms per 100 ms period');
    assert.equal(tspod(['stop', '--force', uuid]).status, 0);
  });

  it('stop: SIGTERM reaches the app; one that ignores it is killed after the timeout', () => {
    const polite = tspod(['run', '--detach', '--name', 'polite', 'example.com/busybox:1', '--exec', '/bin/sh', '--', '-c', 'trap "exit 3" TERM; while true; do sleep 0.1; done']);
    assert.equal(polite.status, 0, polite.stderr);
    assert.equal(tspod(['stop', 'polite']).status, 0);
    assert.match(tspod(['status', 'polite']).stdout, /app-busybox=3/);
    tspod(['run', '--detach', '--name', 'stubborn', 'example.com/busybox:1', '--exec', '/bin/sh', '--', '-c', 'trap "" TERM; while true; do sleep 0.1; done']);
    const t0 = Date.now();
    assert.equal(tspod(['stop', '--timeout', '1s', 'stubborn']).status, 0);
    assert.ok(Date.now() - t0 >= 900, 'waited for the grace period');
    assert.match(tspod(['status', 'stubborn']).stdout, /state=exited/);
  });

  it('state survives a SIGKILLed CLI and a SIGKILLed pod init', async () => {
    const child = spawn(process.execPath, [TSPOD, '--dir', data, '--local-config', join(work, 'etc'), 'run', '--name', 'orphan', 'example.com/busybox:1', '--exec', '/bin/sleep', '--', '30'], { stdio: 'ignore' });
    let status = '';
    for (let i = 0; i < 100 && !status.includes('pid='); i++) {
      await sleep(50);
      status = tspod(['status', 'orphan']).stdout;
    }
    child.kill('SIGKILL');
    await new Promise((r) => child.once('exit', r));
    status = tspod(['status', 'orphan']).stdout;
    assert.match(status, /state=running/, 'the pod outlives its CLI');
    const pid = Number(/pid=(\d+)/.exec(status)![1]);
    process.kill(pid, 'SIGKILL');
    for (let i = 0; i < 100 && tspod(['status', 'orphan']).stdout.includes('state=running'); i++) await sleep(50);
    assert.match(tspod(['status', 'orphan']).stdout, /state=exited/);
  });

  it('enter joins the app with its confinement; logs show a detached pod\'s rotated output', async () => {
    const uuid = tspod(['run', '--detach', '--name', 'entered', 'example.com/busybox:1', '--user', 'nobody', '--exec', '/bin/sh', '--', '-c',
      'for i in $(seq 3000); do echo "line $i"; done; echo oops >&2; sleep 30']).stdout.trim();
    assert.match(uuid, /^[0-9a-f-]{36}$/);
    const inside = tspod(['enter', 'entered', '/bin/sh', '-c', 'id -u; hostname; grep -E "^(NoNewPrivs|Seccomp):" /proc/self/status; ls /proc | grep -c "^[0-9]"; ls /']);
    assert.equal(inside.status, 0, inside.stderr);
    const lines = inside.stdout.trim().split('\n');
    assert.equal(lines[0], '65534', 'the app\'s user');
    assert.equal(lines[1], 'entered', 'its UTS namespace');
    assert.match(inside.stdout, /NoNewPrivs:\s+1/);
    assert.match(inside.stdout, /Seccomp:\s+2/);
    assert.ok(Number(lines[4]) <= 5, 'its PID namespace');
    assert.match(inside.stdout, /^bin$/m, 'its root');
    assert.equal(tspod(['enter', 'entered', '/bin/sh', '-c', 'exit 4']).status, 4);
    let logs = '';
    for (let i = 0; i < 100 && !logs.includes('line 3000'); i++) {
      await sleep(50);
      logs = tspod(['logs', '--stream', 'stdout', 'entered']).stdout;
    }
    // Files are cut at the size limit, so the oldest kept one may start mid-line: skip that line.
    const got = logs.trim().split('\n').slice(1).map((l) => Number(l.replace('line ', '')));
    assert.equal(got.at(-1), 3000);
    assert.deepEqual(got, Array.from({ length: got.length }, (_, i) => got[0]! + i), 'in order, nothing lost inside the kept generations');
    assert.ok(existsSync(join(data, 'pods', 'run', uuid, 'apps', 'busybox', 'stdout.1')), 'rotated');
    assert.ok(got[0]! > 2, 'the oldest generation was dropped');
    assert.equal(tspod(['logs', '--stream', 'stderr', 'entered']).stdout, 'oops\n');
    tspod(['stop', '--force', 'entered']);
  });

  it('a Docker/OCI image runs the same way: layers as overlay lower dirs, whiteouts honoured, its config as the app', (t) => {
    if (spawnSync('umoci', ['--version']).status !== 0) return t.skip('umoci is missing (apt-get install umoci)');
    const layout = join(work, 'oci');
    const bundle = join(work, 'oci-bundle');
    const u = (args: string[]): void => assert.equal(spawnSync('umoci', args, { encoding: 'utf8' }).status, 0, `umoci ${args.join(' ')}`);
    u(['init', '--layout', layout]);
    u(['new', '--image', `${layout}:base`]);
    u(['unpack', '--image', `${layout}:base`, bundle]);
    spawnSync('cp', ['-a', `${work}/layout/rootfs/.`, join(bundle, 'rootfs')]);
    writeFileSync(join(bundle, 'rootfs', 'etc', 'doomed'), 'x');
    u(['repack', '--image', `${layout}:base`, bundle]);
    rmSync(join(bundle, 'rootfs', 'etc', 'doomed'));
    writeFileSync(join(bundle, 'rootfs', 'etc', 'added'), 'second layer\n');
    u(['repack', '--image', `${layout}:app`, bundle]);
    u(['config', '--image', `${layout}:app`, '--config.entrypoint', '/bin/sh', '--config.cmd', '-c', '--config.cmd', 'cat /etc/added; test -e /etc/doomed && echo RESURRECTED; echo $LAYERED; id -u', '--config.env', 'LAYERED=yes', '--config.user', 'web']);
    const fetched = tspod(['--insecure-options=image', 'fetch', `oci:${layout}:app`]);
    assert.equal(fetched.status, 0, fetched.stderr);
    const r = tspod(['run', fetched.stdout.trim()]);
    assert.equal(r.status, 0, r.stderr);
    assert.equal(r.stdout, 'second layer\nyes\n1000\n');
  });

  it('an image\'s symlinks never lead stage1 outside the root; read-only volumes are read-only all the way down', () => {
    // An image whose /etc is a symlink to a host directory: /etc/hosts must land inside the root.
    const hostDir = join(work, 'host-etc');
    mkdirSync(hostDir);
    const layout = join(work, 'evil');
    mkdirSync(join(layout, 'rootfs', 'bin'), { recursive: true });
    copyFileSync('/bin/busybox', join(layout, 'rootfs', 'bin', 'busybox'));
    chmodSync(join(layout, 'rootfs', 'bin', 'busybox'), 0o755);
    symlinkSync('busybox', join(layout, 'rootfs', 'bin', 'sh'));
    symlinkSync(hostDir, join(layout, 'rootfs', 'etc'));
    writeFileSync(join(layout, 'manifest'), JSON.stringify({ acKind: 'ImageManifest', acVersion: '0.8.11', name: 'example.com/evil',
      labels: [{ name: 'version', value: '1' }, { name: 'os', value: 'linux' }, { name: 'arch', value: 'amd64' }], app: { exec: ['/bin/sh', '-c', 'cat /etc/hostname'], user: '0', group: '0' } }));
    assert.equal(tspod(['image', 'build', layout, join(work, 'evil.aci')]).status, 0);
    assert.equal(tspod(['--insecure-options=image', 'fetch', join(work, 'evil.aci')]).status, 0);
    const r = tspod(['run', '--hostname', 'contained', 'example.com/evil:1']);
    assert.equal(r.status, 0, r.stderr);
    assert.equal(r.stdout, 'contained\n');
    assert.deepEqual(readdirSync(hostDir), [], 'nothing was created in the host directory the symlink names');
    // A recursive read-only volume: its submount is read-only too.
    const vol = join(work, 'ro-vol');
    mkdirSync(join(vol, 'sub'), { recursive: true });
    assert.equal(spawnSync('mount', ['-t', 'tmpfs', '-o', 'size=1m', 'tmpfs', join(vol, 'sub')]).status, 0);
    try {
      const ro = tspod(['run', '--volume', `v,kind=host,source=${vol},readOnly=true`, 'example.com/busybox:1', '--mount', 'volume=v,target=/v', '--exec', '/bin/sh', '--', '-c', 'touch /v/sub/x 2>/dev/null && echo WROTE; touch /v/y 2>/dev/null && echo WROTE-TOP; echo done']);
      assert.equal(ro.stdout, 'done\n', ro.stderr);
    } finally {
      spawnSync('umount', [join(vol, 'sub')]);
    }
  });

  it('Ctrl-C on a foreground pod reaches the app exactly once', () => {
    const script = new URL('../../test/fixtures/ctrl-c.py', import.meta.url).pathname;
    const r = spawnSync('python3', [script, process.execPath, TSPOD, '--dir', data, '--local-config', join(work, 'etc'), 'run', '--net', 'none', 'example.com/busybox:1',
      '--exec', '/bin/sh', '--', '-c', 'trap "echo got INT" INT; echo ready; sleep 1 & wait; sleep 1 & wait; sleep 1 & wait; echo end'], { encoding: 'utf8', timeout: 30_000 });
    assert.equal((r.stdout.match(/got INT/g) ?? []).length, 1, r.stdout);
    assert.match(r.stdout, /end/);
  });

  it('fly: host namespaces, chroot into the image, status says nothing is isolated', () => {
    const hostName = spawnSync('hostname', { encoding: 'utf8' }).stdout.trim();
    const r = tspod(['run', '--stage1', 'fly', '--name', 'flyer', 'example.com/busybox:1', '--exec', '/bin/sh', '--', '-c', 'hostname; ls /proc | grep -c "^[0-9]"; test -x /bin/busybox && echo chrooted']);
    assert.equal(r.status, 0, r.stderr);
    const [name, procs, chrooted] = r.stdout.trim().split('\n');
    assert.equal(name, hostName);
    assert.ok(Number(procs) > 10, 'the host PID namespace');
    assert.equal(chrooted, 'chrooted');
    assert.match(tspod(['status', 'flyer']).stdout, /isolation=none \(fly/);
  });

  it('prepare + run-prepared, list --format json, cat-manifest, rm, gc', () => {
    const uuid = tspod(['prepare', '--name', 'later', 'example.com/busybox:1']).stdout.trim();
    assert.match(uuid, /^[0-9a-f-]{36}$/);
    assert.match(tspod(['status', 'later']).stdout, /state=prepared/);
    const manifest = JSON.parse(tspod(['cat-manifest', uuid.slice(0, 8)]).stdout);
    assert.equal(manifest.apps[0].image.name, 'example.com/busybox');
    assert.equal(tspod(['run-prepared', 'later']).status, 7);
    const pods = JSON.parse(tspod(['list', '--format', 'json']).stdout) as Array<{ uuid: string; state: string; name: string }>;
    assert.equal(pods.find((p) => p.uuid === uuid)?.state, 'exited');
    const running = tspod(['run', '--detach', '--name', 'busy', 'example.com/busybox:1', '--exec', '/bin/sleep', '--', '30']).stdout.trim();
    const rmRunning = tspod(['rm', 'busy']);
    assert.equal(rmRunning.status, 254);
    assert.match(rmRunning.stderr, /TSPOD_E_POD_STATE/);
    tspod(['stop', '--force', running]);
    assert.equal(tspod(['rm', 'later']).status, 0);
    assert.equal(tspod(['status', 'later']).status, 254);
    const gc = tspod(['gc', '--grace-period', '0s']);
    assert.equal(gc.status, 0, gc.stderr);
    assert.match(gc.stdout, new RegExp(`collected ${running}`));
    const gc2 = tspod(['gc', '--grace-period', '0s']);
    assert.match(gc2.stdout, new RegExp(`removed ${running}`));
    const leftover = spawnSync('sh', ['-c', `find /sys/fs/cgroup -maxdepth 6 -name "${running}*" | wc -l`], { encoding: 'utf8' }).stdout.trim();
    assert.equal(leftover, '0', 'gc removed the cgroups');
  });

  it('a pod file runs directly; --emit-pod prints one that lints clean', () => {
    const file = join(work, 'pod.toml');
    writeFileSync(file, 'apiVersion = "tspod/v1"\nkind = "Pod"\nname = "from-file"\nhostname = "filed"\n[network]\nmode = "none"\n[[app]]\nname = "main"\nimage = "example.com/busybox:1"\nexec = ["/bin/sh", "-c", "hostname; echo $MODE"]\nenv = { MODE = "declarative" }\n');
    const r = tspod(['run', file]);
    assert.equal(r.status, 0, r.stderr);
    assert.equal(r.stdout, 'filed\ndeclarative\n');
    const emitted = tspod(['run', '--name', 'emitted', 'example.com/busybox:1', '--memory', '64Mi', '--cpu', '500m', '--caps-remove', 'CAP_NET_RAW', '--', 'a b']);
    assert.equal(emitted.status, 7);
    const toml = tspod(['run', '--emit-pod', '--name', 'emitted2', 'example.com/busybox:1', '--memory', '64Mi', '--caps-remove', 'CAP_NET_RAW']);
    assert.equal(toml.status, 0);
    const out = join(work, 'emitted.toml');
    writeFileSync(out, toml.stdout);
    const lint = spawnSync(process.execPath, [TSPOD, 'lint', out], { encoding: 'utf8' });
    assert.equal(lint.status, 0, lint.stdout + lint.stderr);
    assert.match(toml.stdout, /memory = "64Mi"/);
  });

  it('bad input: unknown user, missing volume, bad stage1, refused pod file, a stage1 of another interface version', () => {
    const badUser = tspod(['run', 'example.com/busybox:1', '--user', 'ghost']);
    assert.equal(badUser.status, 254);
    assert.match(badUser.stderr, /"ghost" is not in the image's \/etc\/passwd/);
    const badMount = tspod(['run', 'example.com/busybox:1', '--mount', 'volume=nope,target=/x']);
    assert.equal(badMount.status, 254);
    assert.match(badMount.stderr, /volume nope/);
    assert.equal(tspod(['run', '--stage1', 'kvm', 'example.com/busybox:1']).status, 2);
    const badFile = join(work, 'bad.toml');
    writeFileSync(badFile, 'apiVersion = "tspod/v1"\nkind = "Pod"\nname = "x"\n[[app]]\nname = "a"\nimage = "example.com/busybox:1"\n[[app.mount]]\nvolume = "nope"\ntarget = "/x"\n');
    const refused = tspod(['run', badFile]);
    assert.equal(refused.status, 254);
    assert.match(refused.stderr, /TSPOD_L_UNKNOWN_VOLUME/);
    const fake = join(work, 'fake-stage1');
    writeFileSync(fake, '#!/bin/sh\necho 2\n', { mode: 0o755 });
    const wrong = tspod(['run', 'example.com/busybox:1'], { env: { TSPOD_STAGE1: fake } });
    assert.equal(wrong.status, 254);
    assert.match(wrong.stderr, /TSPOD_E_STAGE1/);
    assert.match(wrong.stderr, /interface version "2"/);
    const before = readdirSync(join(data, 'pods', 'run')).length;
    assert.ok(before >= 0);
  });

  it('needs root to run, and says so', (t) => {
    if (spawnSync('setpriv', ['--version']).status !== 0) return t.skip('setpriv (util-linux) is missing');
    const r = spawnSync('setpriv', ['--reuid=65534', '--regid=65534', '--clear-groups', process.execPath, TSPOD, '--dir', join(work, 'nobody'), 'run', 'example.com/busybox:1'], { encoding: 'utf8' });
    assert.equal(r.status, 254);
    assert.match(r.stderr, /TSPOD_E_PERMISSION/);
  });

  it('20 pods run concurrently without corrupting state', async () => {
    const runs = Array.from({ length: 20 }, (_, i) => new Promise<number>((resolve) => {
      const c = spawn(process.execPath, [TSPOD, '--dir', data, '--local-config', join(work, 'etc'), 'run', '--name', `many-${i}`, 'example.com/busybox:1', '--exec', '/bin/sh', '--', '-c', `exit ${i % 5}`], { stdio: 'ignore' });
      c.once('exit', (code) => resolve(code ?? -1));
    }));
    const codes = await Promise.all(runs);
    assert.deepEqual(codes, Array.from({ length: 20 }, (_, i) => i % 5));
    const pods = JSON.parse(tspod(['list', '--format', 'json']).stdout) as Array<{ name: string; state: string; apps: Array<{ exitCode?: number }> }>;
    for (let i = 0; i < 20; i++) {
      const p = pods.find((x) => x.name === `many-${i}`);
      assert.equal(p?.state, 'exited');
      assert.equal(p?.apps[0]?.exitCode, i % 5);
    }
    void readFileSync;
  });
});
