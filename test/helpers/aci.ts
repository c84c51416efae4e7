// ACIs for the store and fetch suites, built by Debian's actool from a busybox-static layout.
import { chmodSync, copyFileSync, mkdirSync, symlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { sh } from './cli.js';

export function appcManifest(name: string, extra: Record<string, unknown> = {}): Record<string, unknown> {
  return {
    acKind: 'ImageManifest', acVersion: '0.8.11', name,
    labels: [{ name: 'version', value: '1.35.0' }, { name: 'os', value: 'linux' }, { name: 'arch', value: 'amd64' }],
    app: { exec: ['/bin/sh', '-c', 'echo hello'], user: '0', group: '0' }, ...extra,
  };
}

/** dir/<tag>-layout (busybox, a symlink, a text file, the manifest) and dir/<tag>.aci built by actool. */
export function actoolAci(dir: string, tag: string, manifest: Record<string, unknown> | string): string {
  const layout = join(dir, `${tag}-layout`);
  mkdirSync(join(layout, 'rootfs', 'bin'), { recursive: true });
  copyFileSync('/bin/busybox', join(layout, 'rootfs', 'bin', 'busybox'));
  chmodSync(join(layout, 'rootfs', 'bin', 'busybox'), 0o755);
  symlinkSync('busybox', join(layout, 'rootfs', 'bin', 'sh'));
  writeFileSync(join(layout, 'rootfs', 'hello.txt'), `hello from ${tag}\n`);
  writeFileSync(join(layout, 'manifest'), typeof manifest === 'string' ? manifest : JSON.stringify(manifest));
  const aci = join(dir, `${tag}.aci`);
  sh('actool', ['build', '--overwrite', layout, aci]);
  return aci;
}
