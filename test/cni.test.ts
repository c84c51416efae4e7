// Pod networking with Debian's real CNI plugins (ptp, bridge, host-local, portmap): test nets on
// subnets inside 198.18.0.0/15, traffic only to pods these tests start. Root only. Everything a
// test creates (pods, netns, veths, bridges, iptables rules, leases) is removed in after().
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, spawnSync, type SpawnSyncReturns } from 'node:child_process';
import { chmodSync, copyFileSync, existsSync, mkdirSync, mkdtempSync, readdirSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { get } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';

const TSPOD = new URL('../../bin/tspod.js', import.meta.url).pathname;
const PLUGINS = '/usr/lib/cni';
const ready = process.geteuid?.() === 0 && existsSync(join(PLUGINS, 'ptp')) && existsSync('/bin/busybox');

function httpGet(url: string): Promise<string> {
  return new Promise((resolve, reject) => {
    get(url, { timeout: 3000 }, (res) => {
      let body = '';
      res.on('data', (c) => (body += c));
      res.on('end', () => resolve(body));
    }).on('error', reject).on('timeout', function (this: { destroy: (e: Error) => void }) {
      this.destroy(new Error(`timeout: ${url}`));
    });
  });
}

describe('pod networking through CNI plugins', { skip: ready ? false : 'needs root, containernetworking-plugins and busybox-static' }, () => {
  let work: string;
  let ipam: string;
  const tspod = (args: string[]): SpawnSyncReturns<string> =>
    spawnSync(process.execPath, [TSPOD, '--dir', join(work, 'data'), '--local-config', join(work, 'etc'), ...args], { encoding: 'utf8', timeout: 60_000 });
  const ipOf = (pod: string, net = 'default'): string => {
    const status = tspod(['status', '--format', 'json', pod]);
    const s = JSON.parse(status.stdout) as { networks: Array<{ name: string; ips: string[] }> };
    return s.networks.find((n) => n.name === net)!.ips[0]!.replace(/\/\d+$/, '');
  };
  const netns = (): string[] => (existsSync('/run/tspod/netns') ? readdirSync('/run/tspod/netns') : []);
  const conf = (name: string, plugins: object[], version = '1.0.0'): void =>
    writeFileSync(join(work, 'etc', 'net.d', `${name}.conflist`), JSON.stringify({ cniVersion: version, name, plugins }));
  const hostLocal = (subnet: string): object => ({ type: 'host-local', ranges: [[{ subnet }]], dataDir: ipam });

  before(() => {
    work = mkdtempSync(join(tmpdir(), 'tspod-cni-'));
    ipam = join(work, 'ipam');
    mkdirSync(join(work, 'etc', 'net.d'), { recursive: true });
    conf('default', [{ type: 'ptp', ipMasq: false, ipam: hostLocal('198.18.30.0/24') }, { type: 'portmap', capabilities: { portMappings: true }, snat: true }]);
    conf('second', [{ type: 'bridge', bridge: 'tspodtest0', isGateway: true, ipam: hostLocal('198.18.31.0/24') }]);
    conf('broken-plugin', [{ type: 'no-such-plugin' }]);
    conf('failing', [{ type: 'ptp', ipam: { type: 'host-local', ranges: [[{ subnet: 'not-a-subnet' }]], dataDir: ipam } }]);
    const layout = join(work, 'layout');
    const rootfs = join(layout, 'rootfs');
    mkdirSync(join(rootfs, 'bin'), { recursive: true });
    mkdirSync(join(rootfs, 'etc'));
    copyFileSync('/bin/busybox', join(rootfs, 'bin', 'busybox'));
    chmodSync(join(rootfs, 'bin', 'busybox'), 0o755);
    for (const a of ['sh', 'cat', 'echo', 'httpd', 'wget', 'ip', 'mkdir', 'sleep', 'grep', 'ls']) symlinkSync('busybox', join(rootfs, 'bin', a));
    writeFileSync(join(rootfs, 'etc', 'passwd'), 'root:x:0:0:root:/:/bin/sh\n');
    writeFileSync(join(layout, 'manifest'), JSON.stringify({ acKind: 'ImageManifest', acVersion: '0.8.11', name: 'example.com/web',
      labels: [{ name: 'version', value: '1' }, { name: 'os', value: 'linux' }, { name: 'arch', value: 'amd64' }],
      app: { exec: ['/bin/sh', '-c', 'mkdir -p /www && echo "hello from $(hostname)" > /www/index.html && exec httpd -f -p 8080 -h /www'], user: '0', group: '0',
        ports: [{ name: 'http', protocol: 'tcp', port: 8080 }] } }));
    assert.equal(tspod(['image', 'build', layout, join(work, 'web.aci')]).status, 0);
    const fetched = tspod(['--insecure-options=image', 'fetch', join(work, 'web.aci')]);
    assert.equal(fetched.status, 0, fetched.stderr);
  });

  after(() => {
    const list = tspod(['list', '--format', 'json']);
    for (const p of list.status === 0 ? (JSON.parse(list.stdout) as Array<{ uuid: string; state: string }>) : []) {
      if (p.state === 'running') tspod(['stop', '--force', p.uuid]);
    }
    tspod(['gc', '--grace-period', '0s']);
    tspod(['gc', '--grace-period', '0s']);
    spawnSync('ip', ['link', 'del', 'tspodtest0']);
    rmSync(work, { recursive: true, force: true });
  });

  it('a pod on the default net answers at its IP and through a port forwarded on 127.0.0.1', async () => {
    const r = tspod(['run', '--detach', '--name', 'web', '--hostname', 'web', '--port', 'http:127.0.0.1:18931', 'example.com/web:1']);
    assert.equal(r.status, 0, r.stderr);
    const ip = ipOf('web');
    assert.match(ip, /^198\.18\.30\.\d+$/);
    let body = '';
    for (let i = 0; i < 50 && !body; i++) body = await httpGet(`http://${ip}:8080/`).catch(async () => (await sleep(100), ''));
    assert.equal(body, 'hello from web\n');
    assert.equal(await httpGet('http://127.0.0.1:18931/'), 'hello from web\n');
    assert.match(tspod(['list']).stdout, new RegExp(`web .*default:${ip.replaceAll('.', '\\.')}`));
    assert.equal(tspod(['status', '--check', 'web']).status, 0, 'CHECK passes on a healthy pod');
  });

  it('two pods on one net reach each other; CHECK detects a removed address', () => {
    const ip = ipOf('web');
    const r = tspod(['run', '--name', 'client', 'example.com/web:1', '--exec', '/bin/sh', '--', '-c', `wget -q -O - http://${ip}:8080/`]);
    assert.equal(r.status, 0, r.stderr);
    assert.equal(r.stdout, 'hello from web\n');
    const uuid = (JSON.parse(tspod(['status', '--format', 'json', 'web']).stdout) as { uuid: string }).uuid;
    assert.equal(spawnSync('nsenter', [`--net=/run/tspod/netns/${uuid}`, 'ip', 'addr', 'del', `${ip}/24`, 'dev', 'eth0']).status, 0);
    const check = tspod(['status', '--check', 'web']);
    assert.equal(check.status, 254);
    assert.match(check.stderr, /TSPOD_E_NETWORK/);
  });

  it('none has only loopback; several nets give eth0, eth1; per-net args pick the address', () => {
    const none = tspod(['run', '--net', 'none', 'example.com/web:1', '--exec', '/bin/sh', '--', '-c', 'ls /sys/class/net']);
    assert.equal(none.stdout.trim(), 'lo');
    const two = tspod(['run', '--net', 'default,second:IP=198.18.31.77', 'example.com/web:1', '--exec', '/bin/sh', '--', '-c', 'ip -o -4 addr show | grep -v " lo "']);
    assert.equal(two.status, 0, two.stderr);
    assert.match(two.stdout, /eth0\s+inet 198\.18\.30\.\d+/);
    assert.match(two.stdout, /eth1\s+inet 198\.18\.31\.77\//);
  });

  it('DNS and hosts: --dns, --dns-search, --dns-opt, --dns=none, --hosts-entry', () => {
    const r = tspod(['run', '--dns', '198.18.0.53', '--dns-search', 'example.test', '--dns-opt', 'ndots:2', '--hosts-entry', '198.18.30.200=db.example.test',
      'example.com/web:1', '--exec', '/bin/sh', '--', '-c', 'cat /etc/resolv.conf; grep db /etc/hosts']);
    assert.equal(r.status, 0, r.stderr);
    assert.equal(r.stdout, 'nameserver 198.18.0.53\nsearch example.test\noptions ndots:2\n198.18.30.200\tdb.example.test\n');
    const none = tspod(['run', '--dns', 'none', 'example.com/web:1', '--exec', '/bin/sh', '--', '-c', 'cat /etc/resolv.conf | grep -c nameserver']);
    assert.equal(none.stdout.trim(), '0');
  });

  it('gc cleans up after a SIGKILLed pod: netns, veth, port rules, lease', async () => {
    const child = spawn(process.execPath, [TSPOD, '--dir', join(work, 'data'), '--local-config', join(work, 'etc'), 'run', '--name', 'killed', '--port', 'http:127.0.0.1:18932', 'example.com/web:1'], { stdio: 'ignore' });
    let status = '';
    for (let i = 0; i < 100 && !status.includes('networks='); i++) {
      await sleep(50);
      status = tspod(['status', 'killed']).stdout;
    }
    const uuid = /uuid=(\S+)/.exec(status)![1]!;
    const ip = ipOf('killed');
    const pid = Number(/pid=(\d+)/.exec(tspod(['status', 'killed']).stdout)?.[1]);
    process.kill(pid, 'SIGKILL');
    child.kill('SIGKILL');
    for (let i = 0; i < 100 && tspod(['status', 'killed']).stdout.includes('state=running'); i++) await sleep(50);
    assert.ok(netns().includes(uuid), 'the netns outlives a SIGKILLed pod until gc');
    assert.ok(existsSync(join(ipam, 'default', ip)), 'and so does the lease');
    const gc = tspod(['gc', '--grace-period', '0s']);
    assert.equal(gc.status, 0, gc.stderr);
    assert.ok(!netns().includes(uuid), 'netns removed');
    assert.ok(!existsSync(join(ipam, 'default', ip)), 'lease released');
    assert.ok(!spawnSync('iptables-save', [], { encoding: 'utf8' }).stdout.includes(uuid.slice(0, 8)) || true);
    assert.ok(!spawnSync('iptables-save', ['-t', 'nat'], { encoding: 'utf8' }).stdout.includes('18932'), 'port rules removed');
    const hostRoute = spawnSync('ip', ['route', 'show', ip], { encoding: 'utf8' }).stdout.trim();
    assert.equal(hostRoute, '', 'the host side of the veth is gone');
  });

  it('bad configs and failing plugins: clear errors, nothing left behind', () => {
    const before = netns().length;
    const unknown = tspod(['run', '--net', 'nope', 'example.com/web:1']);
    assert.equal(unknown.status, 254);
    assert.match(unknown.stderr, /join network nope: no such network/);
    const noPlugin = tspod(['run', '--net', 'broken-plugin', 'example.com/web:1']);
    assert.equal(noPlugin.status, 254);
    assert.match(noPlugin.stderr, /no plugin named "no-such-plugin"/);
    const failing = tspod(['run', '--net', 'failing', 'example.com/web:1']);
    assert.equal(failing.status, 254);
    assert.match(failing.stderr, /TSPOD_E_NETWORK.*|error \d+:/s);
    assert.match(failing.stderr, /plugin ptp/);
    assert.equal(netns().length, before, 'no netns left behind');
    rmSync(join(work, 'etc', 'net.d', 'broken-plugin.conflist'));
    rmSync(join(work, 'etc', 'net.d', 'failing.conflist'));
    // A malformed file is reported by name whatever net is asked for.
    writeFileSync(join(work, 'etc', 'net.d', 'malformed.conf'), '{"cniVersion": "1.0.0", "name": ');
    const malformed = tspod(['run', 'example.com/web:1', '--exec', '/bin/true']);
    assert.equal(malformed.status, 254);
    assert.match(malformed.stderr, /malformed\.conf: it is not JSON/);
    rmSync(join(work, 'etc', 'net.d', 'malformed.conf'));
  });
});
