// Pod cgroups: detection/parsing against sample mountinfo and /proc/self/cgroup text for v1, v2
// and hybrid hosts (plus the v2 write path against a fake cgroupfs in a temp dir), then the real
// thing as root on this host: limits the kernel reports, membership, OOM kills, the pids limit,
// kill/remove and the parent override. Root-only parts skip with a reason.
import { after, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, rmdirSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import {
  ALLOWED_DEVICES, cgroupDir, cgroupManager, cpuShares, cpuWeight, detectLayout, managerFor, parseMountinfo,
  parseProcCgroup, planDrivers, validCgroupPath, validPodId,
  type CgroupManager, type PodCgroup,
} from '../host/src/cgroups/index.js';
import { ErrorCodes } from '../host/src/errors.js';

const HYBRID_MOUNTINFO = `22 1 8:1 / / rw,relatime - ext4 /dev/vda rw
31 23 0:28 / /sys/fs/cgroup rw,relatime - tmpfs tmpfs rw,mode=755
32 31 0:29 / /sys/fs/cgroup/cpu rw,relatime - cgroup cgroup rw,cpu
33 31 0:30 / /sys/fs/cgroup/cpuacct rw,relatime - cgroup cgroup rw,cpuacct
34 31 0:31 / /sys/fs/cgroup/cpuset rw,relatime - cgroup cgroup rw,cpuset
35 31 0:32 / /sys/fs/cgroup/memory rw,relatime - cgroup cgroup rw,memory
36 31 0:33 / /sys/fs/cgroup/devices rw,relatime - cgroup cgroup rw,devices
37 31 0:34 / /sys/fs/cgroup/freezer rw,relatime - cgroup cgroup rw,freezer
39 31 0:36 / /sys/fs/cgroup/pids rw,relatime - cgroup cgroup rw,pids
40 31 0:37 / /sys/fs/cgroup/systemd rw,relatime - cgroup cgroup rw,xattr,name=systemd
41 31 0:38 / /sys/fs/cgroup/unified rw,relatime - cgroup2 cgroup2 rw,nsdelegate
`;
const HYBRID_CGROUP = `9:name=systemd:/system.slice/tspod.service
8:pids:/system.slice/tspod.service
6:freezer:/
5:devices:/system.slice/tspod.service
4:memory:/system.slice/tspod.service
3:cpuset:/
2:cpuacct:/system.slice/tspod.service
1:cpu:/system.slice/tspod.service
0::/system.slice/tspod.service
`;
// A legacy (pure v1) host: cpu and cpuacct co-mounted, a second bind mount of memory, an odd path.
const V1_MOUNTINFO = `25 24 0:22 / /sys/fs/cgroup/systemd rw - cgroup cgroup rw,xattr,release_agent=/x,name=systemd
26 24 0:23 / /sys/fs/cgroup/cpu,cpuacct rw - cgroup cgroup rw,cpu,cpuacct
27 24 0:24 / /sys/fs/cgroup/memory rw - cgroup cgroup rw,memory
28 24 0:25 / /sys/fs/cgroup/pids rw - cgroup cgroup rw,pids
29 24 0:26 / /sys/fs/cgroup/devices rw - cgroup cgroup rw,devices
90 80 0:24 /x /mnt/other\\040memory rw - cgroup cgroup rw,memory
`;
const V1_CGROUP = `5:devices:/user.slice
4:pids:/user.slice/user-0.slice
3:memory:/user.slice
2:cpu,cpuacct:/user.slice
1:name=systemd:/user.slice/session-1.scope
`;
const V2_MOUNTINFO = `30 23 0:26 / /sys/fs/cgroup rw,nosuid,nodev,noexec,relatime shared:4 - cgroup2 cgroup2 rw,nsdelegate,memory_recursiveprot
`;
const V2_CGROUP = '0::/system.slice/tspod.service\n';
// A container without a cgroup namespace: the mount shows only the container's sub-tree.
const DOCKER_MOUNTINFO = `700 690 0:26 /docker/abc /sys/fs/cgroup ro,nosuid - cgroup2 cgroup2 rw,nsdelegate
`;

const noV2 = () => [] as string[];
const v2All = () => ['cpuset', 'cpu', 'io', 'memory', 'hugetlb', 'pids', 'rdma', 'misc'];

describe('cgroup detection and parsing', () => {
  test('mountinfo: fields after the separator, octal escapes, optional fields', () => {
    const v2 = parseMountinfo(V2_MOUNTINFO);
    assert.deepEqual(v2, [{ root: '/', mountPoint: '/sys/fs/cgroup', fstype: 'cgroup2', superOptions: ['rw', 'nsdelegate', 'memory_recursiveprot'] }]);
    const v1 = parseMountinfo(V1_MOUNTINFO);
    assert.equal(v1[5]!.mountPoint, '/mnt/other memory');
    assert.equal(v1[5]!.root, '/x');
  });

  test('/proc/self/cgroup: one key per controller, "" for v2', () => {
    const m = parseProcCgroup(V1_CGROUP);
    assert.equal(m.get('cpu'), '/user.slice');
    assert.equal(m.get('cpuacct'), '/user.slice');
    assert.equal(m.get('name=systemd'), '/user.slice/session-1.scope');
    assert.equal(m.get(''), undefined);
    assert.equal(parseProcCgroup(V2_CGROUP).get(''), '/system.slice/tspod.service');
  });

  test('hybrid: v1 owns the limits, unified only carries membership', () => {
    const l = detectLayout(HYBRID_MOUNTINFO, HYBRID_CGROUP, noV2)._unsafeUnwrap();
    assert.equal(l.mode, 'hybrid');
    assert.equal(l.v2?.mountPoint, '/sys/fs/cgroup/unified');
    assert.equal(l.v2?.current, '/system.slice/tspod.service');
    assert.equal(l.v1.find((h) => h.controllers.includes('memory'))?.current, '/system.slice/tspod.service');
    const drivers = planDrivers(l);
    assert.deepEqual(drivers.map((d) => d.key), ['cpu', 'cpuacct', 'memory', 'devices', 'freezer', 'pids', 'unified']);
    assert.deepEqual([...drivers.find((d) => d.key === 'unified')!.owns], []);
    assert.deepEqual([...drivers.find((d) => d.key === 'memory')!.owns], ['memory']);
  });

  test('pure v1: co-mounted cpu,cpuacct, first mount of a hierarchy wins, name=systemd not joined', () => {
    const l = detectLayout(V1_MOUNTINFO, V1_CGROUP, noV2)._unsafeUnwrap();
    assert.equal(l.mode, 'v1');
    assert.equal(l.v2, undefined);
    const mem = l.v1.filter((h) => h.controllers.includes('memory'));
    assert.equal(mem.length, 1);
    assert.equal(mem[0]!.mountPoint, '/sys/fs/cgroup/memory');
    const keys = planDrivers(l).map((d) => d.key);
    assert.deepEqual(keys, ['cpu,cpuacct', 'memory', 'pids', 'devices']);
  });

  test('pure v2: everything from cgroup.controllers; the freezer is cgroup.freeze; no device policy', () => {
    const l = detectLayout(V2_MOUNTINFO, V2_CGROUP, v2All)._unsafeUnwrap();
    assert.equal(l.mode, 'v2');
    const drivers = planDrivers(l);
    assert.equal(drivers.length, 1);
    assert.deepEqual([...drivers[0]!.owns].sort(), ['cpu', 'freezer', 'memory', 'pids']);
  });

  test('hybrid with some controllers only on v2: v2 owns those', () => {
    const mi = HYBRID_MOUNTINFO.split('\n').filter((l) => !/rw,pids$/.test(l)).join('\n');
    const l = detectLayout(mi, HYBRID_CGROUP, () => ['pids'])._unsafeUnwrap();
    assert.deepEqual([...planDrivers(l).find((d) => d.key === 'unified')!.owns], ['pids']);
  });

  test('no cgroup filesystem at all is a CONFIG error', () => {
    const r = detectLayout('22 1 8:1 / / rw - ext4 /dev/vda rw\n', '', noV2);
    assert.equal(r._unsafeUnwrapErr().code, ErrorCodes.CONFIG);
  });

  test('cgroupDir maps hierarchy paths through the mount root', () => {
    const l = detectLayout(DOCKER_MOUNTINFO, '0::/docker/abc\n', v2All)._unsafeUnwrap();
    assert.equal(cgroupDir(l.v2!, '/docker/abc/tspod/x'), '/sys/fs/cgroup/tspod/x');
    // With a cgroup namespace, paths are already relative to what the mount shows.
    assert.equal(cgroupDir(l.v2!, '/tspod/x'), '/sys/fs/cgroup/tspod/x');
  });

  test('pod ids and parent paths cannot climb out', () => {
    assert.ok(validPodId(randomUUID()));
    for (const bad of ['', '..', '../x', 'a/b', 'ABC', '-rf', 'a b', 'x'.repeat(3)]) assert.equal(validPodId(bad), false, bad);
    assert.ok(validCgroupPath('/tspod'));
    assert.ok(validCgroupPath('/a/b.c'));
    for (const bad of ['tspod', '/a/../b', '/a//b', '/a/.', '/a/']) assert.equal(validCgroupPath(bad), false, bad);
  });

  test('cpu conversions: 1024 shares per core, runc shares-to-weight mapping', () => {
    assert.equal(cpuShares(1000), 1024);
    assert.equal(cpuShares(500), 512);
    assert.equal(cpuShares(1), 2);
    assert.equal(cpuWeight(1000), 39);
    assert.equal(cpuWeight(1), 1);
  });

  test('bad parent, pod id and limits are refused with the right codes', () => {
    const l = detectLayout(V2_MOUNTINFO, V2_CGROUP, v2All)._unsafeUnwrap();
    assert.equal(managerFor(l, { parent: '/a/../b' })._unsafeUnwrapErr().code, ErrorCodes.CONFIG);
    assert.equal(managerFor(l, { parent: '/' })._unsafeUnwrapErr().code, ErrorCodes.CONFIG);
    const m = managerFor(l, { parent: '/tspod' })._unsafeUnwrap();
    assert.equal(m.create('../../etc', {})._unsafeUnwrapErr().code, ErrorCodes.INTERNAL);
    assert.equal(m.open('a/b')._unsafeUnwrapErr().code, ErrorCodes.INTERNAL);
    assert.equal(m.create(randomUUID(), { memoryBytes: -1 })._unsafeUnwrapErr().code, ErrorCodes.CONFIG);
    assert.equal(m.create(randomUUID(), { cpuMillis: 5 })._unsafeUnwrapErr().code, ErrorCodes.CONFIG);
    const noMem = managerFor(detectLayout(V2_MOUNTINFO, V2_CGROUP, () => ['cpu'])._unsafeUnwrap(), { parent: '/t' })._unsafeUnwrap();
    assert.match(noMem.create(randomUUID(), { memoryBytes: 1 << 25 })._unsafeUnwrapErr().why, /no memory controller/);
  });

  test('v2 write path against a fake cgroupfs: controllers enabled down the chain, limits written', () => {
    const root = mkdtempSync(join(tmpdir(), 'tspod-cg2-'));
    try {
      const mi = `30 23 0:26 / ${root} rw - cgroup2 cgroup2 rw\n`;
      writeFileSync(join(root, 'cgroup.controllers'), 'cpu memory pids');
      writeFileSync(join(root, 'cgroup.subtree_control'), '');
      mkdirSync(join(root, 'svc'));
      writeFileSync(join(root, 'svc', 'cgroup.controllers'), 'cpu memory pids');
      const id = randomUUID();
      mkdirSync(join(root, 'svc', 'tspod', id), { recursive: true });
      writeFileSync(join(root, 'svc', 'tspod', 'cgroup.controllers'), 'cpu memory pids');
      writeFileSync(join(root, 'svc', 'tspod', id, 'memory.swap.max'), 'max');
      const l = detectLayout(mi, '0::/svc\n', () => ['cpu', 'memory', 'pids'])._unsafeUnwrap();
      const m = managerFor(l)._unsafeUnwrap();
      const cg = m.create(id, { memoryBytes: 32 << 20, cpuMillis: 250, pids: 7 })._unsafeUnwrap();
      const dir = join(root, 'svc', 'tspod', id);
      assert.deepEqual(cg.paths, { unified: dir });
      assert.deepEqual(cg.procsFiles, [join(dir, 'cgroup.procs')]);
      const read = (f: string) => readFileSync(join(dir, f), 'utf8');
      assert.equal(read('memory.max'), String(32 << 20));
      assert.equal(read('memory.swap.max'), '0');
      assert.equal(read('cpu.max'), '25000 100000');
      assert.equal(read('cpu.weight'), String(cpuWeight(250)));
      assert.equal(read('pids.max'), '7');
      // A regular file keeps only the last write, but each level of the chain got one.
      for (const d of [root, join(root, 'svc'), join(root, 'svc', 'tspod')]) {
        assert.match(readFileSync(join(d, 'cgroup.subtree_control'), 'utf8'), /^\+(cpu|memory|pids)$/, d);
      }
    } finally {
      rmSync(root, { recursive: true, force: true });
    }
  });
});

// ---------------------------------------------------------------------------------------------
// Real cgroups on this host.

const isRoot = process.getuid?.() === 0;
const savedEnv = process.env['TSPOD_CGROUP_PARENT'];
delete process.env['TSPOD_CGROUP_PARENT'];
const realMgr = isRoot ? cgroupManager() : undefined;
const skip = !isRoot ? 'needs root to create cgroups' : realMgr?.isErr() ? `no usable cgroups: ${realMgr.error.why}` : false;

const children: ChildProcess[] = [];
const pods: Array<[CgroupManager, PodCgroup]> = [];
const extraDirs: string[] = [];

after(() => {
  for (const c of children) if (c.exitCode === null && c.signalCode === null) c.kill('SIGKILL');
  for (const [m, cg] of pods) m.remove(cg);
  for (const d of extraDirs) {
    try {
      rmdirSync(d);
    } catch {
      // Not empty (another pod) or already gone.
    }
  }
  if (savedEnv !== undefined) process.env['TSPOD_CGROUP_PARENT'] = savedEnv;
});

function mgr(): CgroupManager {
  return realMgr!._unsafeUnwrap();
}

function track(m: CgroupManager, cg: PodCgroup): PodCgroup {
  pods.push([m, cg]);
  for (const p of Object.values(cg.paths)) extraDirs.push(dirname(p));
  return cg;
}

function start(cmd: string, args: string[]): ChildProcess {
  const c = spawn(cmd, args, { stdio: ['ignore', 'ignore', 'pipe'] });
  children.push(c);
  return c;
}

interface Exit { code: number | null; signal: NodeJS.Signals | null; stderr: string }
function exited(c: ChildProcess, timeoutMs = 20_000): Promise<Exit> {
  let stderr = '';
  c.stderr?.on('data', (d: Buffer) => (stderr += d.toString()));
  return new Promise((resolve, reject) => {
    if (c.exitCode !== null || c.signalCode !== null) {
      resolve({ code: c.exitCode, signal: c.signalCode, stderr });
      return;
    }
    const t = setTimeout(() => reject(new Error(`pid ${c.pid} did not exit in ${timeoutMs} ms`)), timeoutMs);
    c.on('exit', (code, signal) => {
      clearTimeout(t);
      setImmediate(() => resolve({ code, signal, stderr }));
    });
  });
}

/** A shell that joins the pod (every procsFile) and then execs the command. */
const JOIN = 'for f in $CG_PROCS; do echo $$ > "$f" || exit 99; done;';
function inPod(cg: PodCgroup, script: string): ChildProcess {
  const c = spawn('/bin/sh', ['-c', `${JOIN} ${script}`], {
    stdio: ['ignore', 'ignore', 'pipe'], env: { ...process.env, CG_PROCS: cg.procsFiles.join(' ') },
  });
  children.push(c);
  return c;
}

/** The directory of the hierarchy that owns a v1 controller, else the unified one. */
function dirFor(cg: PodCgroup, controller: string): { dir: string; v1: boolean } {
  const key = Object.keys(cg.paths).find((k) => k.split(',').includes(controller));
  return key ? { dir: cg.paths[key]!, v1: true } : { dir: cg.paths['unified']!, v1: false };
}

const read = (dir: string, f: string) => readFileSync(join(dir, f), 'utf8').trim();

function realPython(): string | undefined {
  const r = spawnSync('python3', ['-c', 'import sys; print(sys.executable)'], { encoding: 'utf8' });
  return r.status === 0 ? r.stdout.trim() : undefined;
}

describe('pod cgroups on this host', { skip }, () => {
  test('create writes limits the kernel reports; idempotent; open finds it', () => {
    const m = mgr();
    const id = randomUUID();
    const cg = track(m, m.create(id, { memoryBytes: 32 << 20, cpuMillis: 500, pids: 20 })._unsafeUnwrap());
    assert.equal(cg.id, id);
    assert.equal(cg.procsFiles.length, Object.keys(cg.paths).length);
    for (const p of Object.values(cg.paths)) assert.ok(existsSync(p), p);

    const mem = dirFor(cg, 'memory');
    if (mem.v1) {
      assert.equal(read(mem.dir, 'memory.limit_in_bytes'), String(32 << 20));
      if (existsSync(join(mem.dir, 'memory.memsw.limit_in_bytes'))) assert.equal(read(mem.dir, 'memory.memsw.limit_in_bytes'), String(32 << 20));
    } else assert.equal(read(mem.dir, 'memory.max'), String(32 << 20));
    const cpu = dirFor(cg, 'cpu');
    if (cpu.v1) {
      assert.equal(read(cpu.dir, 'cpu.cfs_quota_us'), '50000');
      assert.equal(read(cpu.dir, 'cpu.cfs_period_us'), '100000');
      assert.equal(read(cpu.dir, 'cpu.shares'), '512');
    } else assert.equal(read(cpu.dir, 'cpu.max'), '50000 100000');
    assert.equal(read(dirFor(cg, 'pids').dir, 'pids.max'), '20');
    const dev = dirFor(cg, 'devices');
    if (dev.v1) assert.deepEqual(read(dev.dir, 'devices.list').split('\n').sort(), [...ALLOWED_DEVICES].sort());

    const again = m.create(id, { memoryBytes: 64 << 20, cpuMillis: 500, pids: 20 })._unsafeUnwrap();
    assert.deepEqual(again, cg);
    if (mem.v1) assert.equal(read(mem.dir, 'memory.limit_in_bytes'), String(64 << 20));
    assert.deepEqual(m.open(id)._unsafeUnwrap(), cg);
    assert.equal(m.open(randomUUID())._unsafeUnwrap(), undefined);
  });

  test('default parent is this process\'s own cgroup + /tspod in every hierarchy', () => {
    const m = mgr();
    const id = randomUUID();
    const cg = track(m, m.create(id, {})._unsafeUnwrap());
    const own = parseProcCgroup(readFileSync('/proc/self/cgroup', 'utf8'));
    for (const [key, dir] of Object.entries(cg.paths)) {
      const cur = own.get(key === 'unified' ? '' : key.split(',')[0]!)!;
      assert.ok(dir.endsWith(join(cur, 'tspod', id)), `${key}: ${dir} is not under ${cur}/tspod`);
    }
    assert.ok(m.remove(cg).isOk());
  });

  test('a process joins through procsFiles; pids() and /proc/PID/cgroup agree; kill + remove clean up', async () => {
    const m = mgr();
    const id = randomUUID();
    const cg = track(m, m.create(id, { pids: 50 })._unsafeUnwrap());
    const sleeper = start('sleep', ['30']);
    for (const f of cg.procsFiles) writeFileSync(f, String(sleeper.pid));
    assert.deepEqual(m.pids(cg), [sleeper.pid]);
    const lines = parseProcCgroup(readFileSync(`/proc/${sleeper.pid}/cgroup`, 'utf8'));
    for (const key of Object.keys(cg.paths)) {
      const p = lines.get(key === 'unified' ? '' : key.split(',')[0]!);
      assert.ok(p?.endsWith(`/tspod/${id}`), `${key}: ${p}`);
    }
    // A forker too: freezing first means none of its children escapes the kill.
    const forker = inPod(cg, 'while :; do sleep 30 & done');
    await new Promise((r) => setTimeout(r, 300));
    assert.ok(m.pids(cg).length > 2);
    m.kill(cg, 'SIGTERM');
    assert.equal((await exited(sleeper)).signal, 'SIGTERM');
    assert.ok(m.remove(cg).isOk());
    await exited(forker);
    for (const p of Object.values(cg.paths)) assert.equal(existsSync(p), false, `${p} left behind`);
    assert.deepEqual(m.pids(cg), []);
    assert.ok(m.remove(cg).isOk(), 'remove is idempotent');
    assert.equal(m.open(id)._unsafeUnwrap(), undefined);
  });

  test('allocating past the memory limit gets OOM-killed and counted', async (t) => {
    const py = realPython();
    if (!py) return t.skip('python3 not found');
    const m = mgr();
    const cg = track(m, m.create(randomUUID(), { memoryBytes: 32 << 20 })._unsafeUnwrap());
    assert.equal(m.oomKilled(cg), 0);
    const c = inPod(cg, `exec ${py} -c "b=bytearray(200*1024*1024); import time; time.sleep(1)"`);
    const e = await exited(c);
    assert.equal(e.signal, 'SIGKILL', `expected an OOM kill, got ${JSON.stringify(e)}`);
    assert.ok(m.oomKilled(cg) > 0);
    assert.ok(m.remove(cg).isOk());
  });

  test('the pids limit stops forks', async () => {
    const m = mgr();
    const cg = track(m, m.create(randomUUID(), { pids: 5 })._unsafeUnwrap());
    // dash gives up at once on EAGAIN (bash would retry for a while).
    const c = inPod(cg, 'i=0; while [ $i -lt 20 ]; do sleep 10 & i=$((i+1)); done; echo forked all >&2; exit 0');
    const e = await exited(c);
    assert.notEqual(e.code, 0, `all 20 forks succeeded: ${e.stderr}`);
    assert.match(e.stderr, /fork/i);
    assert.ok(m.pids(cg).length <= 5);
    const pidsDir = dirFor(cg, 'pids').dir;
    if (existsSync(join(pidsDir, 'pids.events'))) assert.match(read(pidsDir, 'pids.events'), /max [1-9]/);
    assert.ok(m.remove(cg).isOk());
    for (const p of Object.values(cg.paths)) assert.equal(existsSync(p), false);
  });

  test('the device allow-list is enforced: /dev/null opens, /dev/kmsg does not', async (t) => {
    const m = mgr();
    const cg = track(m, m.create(randomUUID(), {})._unsafeUnwrap());
    if (!dirFor(cg, 'devices').v1) return t.skip('no v1 devices controller (v2 device policy is not implemented)');
    if (!existsSync('/dev/kmsg')) return t.skip('no /dev/kmsg to probe with');
    const e = await exited(inPod(cg, 'true </dev/null || exit 3; true </dev/urandom || exit 5; true </dev/kmsg && exit 4; exit 0'));
    assert.equal(e.code, 0, `exit ${e.code}: ${e.stderr}`);
    assert.match(e.stderr, /kmsg/);
    assert.ok(m.remove(cg).isOk());
  });

  test('parent override: opts.parent and TSPOD_CGROUP_PARENT', () => {
    const parent = `/tspod-test-${randomUUID()}`;
    const m = cgroupManager({ parent })._unsafeUnwrap();
    const id = randomUUID();
    const cg = track(m, m.create(id, { memoryBytes: 64 << 20 })._unsafeUnwrap());
    for (const p of Object.values(cg.paths)) assert.ok(p.endsWith(`${parent}/${id}`) && existsSync(p), p);
    process.env['TSPOD_CGROUP_PARENT'] = parent;
    try {
      const viaEnv = cgroupManager()._unsafeUnwrap();
      assert.deepEqual(viaEnv.open(id)._unsafeUnwrap(), cg);
    } finally {
      delete process.env['TSPOD_CGROUP_PARENT'];
    }
    assert.equal(cgroupManager({ parent: 'relative' })._unsafeUnwrapErr().code, ErrorCodes.CONFIG);
    assert.ok(m.remove(cg).isOk());
    for (const p of Object.values(cg.paths)) assert.equal(existsSync(p), false);
  });
});

