// A real root filesystem built from Debian's busybox-static, plus the awkward corners of tar:
// devices, fifos, setuid/setgid/sticky modes, big uids, xattrs, hard links, long names, large files,
// read-only directories and nanosecond mtimes.
import { chmodSync, chownSync, copyFileSync, linkSync, mkdirSync, symlinkSync, utimesSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { sh } from './cli.js';

const APPLETS = ['sh', 'ls', 'cat', 'echo', 'mkdir', 'rm', 'cp', 'mv', 'true', 'false', 'env', 'id'];

function file(path: string, content: string | Buffer, mode = 0o644): void {
  writeFileSync(path, content);
  chmodSync(path, mode);
}

function pseudoRandom(size: number, seed: number): Buffer {
  const b = Buffer.alloc(size);
  let x = seed >>> 0 || 1;
  for (let i = 0; i < size; i++) {
    x ^= x << 13; x >>>= 0; x ^= x >>> 17; x ^= x << 5; x >>>= 0;
    b[i] = x & 0xff;
  }
  return b;
}

export function buildRootfs(root: string, opts: { manySmallFiles?: number } = {}): void {
  for (const d of ['bin', 'sbin', 'etc', 'dev', 'tmp', 'usr/bin', 'usr/lib', 'var/spool', 'srv/ro', 'home/user']) {
    mkdirSync(join(root, d), { recursive: true });
  }
  copyFileSync('/bin/busybox', join(root, 'bin/busybox'));
  chmodSync(join(root, 'bin/busybox'), 0o755);
  for (const a of APPLETS) symlinkSync('busybox', join(root, 'bin', a));
  symlinkSync('/bin/busybox', join(root, 'usr/bin/absolute-link'));
  symlinkSync('../../bin/busybox', join(root, 'usr/bin/relative-link'));
  symlinkSync('/nonexistent/dangling', join(root, 'usr/bin/dangling'));
  file(join(root, 'etc/passwd'), 'root:x:0:0:root:/root:/bin/sh\nuser:x:1000:1000::/home/user:/bin/sh\n');
  file(join(root, 'etc/shadow'), 'root:*:19000:0:99999:7:::\n', 0o640);
  file(join(root, 'etc/hostname'), 'tspod-test\n');
  sh('mknod', ['-m', '666', join(root, 'dev/null'), 'c', '1', '3']);
  sh('mknod', ['-m', '660', join(root, 'dev/loop9'), 'b', '7', '9']);
  sh('mknod', ['-m', '600', join(root, 'dev/bigminor'), 'c', '240', '300000']);
  sh('mkfifo', ['-m', '620', join(root, 'dev/initctl')]);
  chmodSync(join(root, 'tmp'), 0o1777);
  chmodSync(join(root, 'var/spool'), 0o2775);
  chownSync(join(root, 'var/spool'), 0, 8);
  file(join(root, 'usr/bin/suid'), '#!/bin/sh\n', 0o4755);
  file(join(root, 'usr/bin/sgid'), '#!/bin/sh\n', 0o2711);
  file(join(root, 'home/user/owned'), 'mine\n', 0o600);
  chownSync(join(root, 'home/user/owned'), 1000, 1000);
  chownSync(join(root, 'home/user'), 1000, 1000);
  file(join(root, 'home/user/bigid'), 'big uid\n');
  chownSync(join(root, 'home/user/bigid'), 3_000_000, 4_000_000);
  file(join(root, 'usr/lib/large.bin'), pseudoRandom(3 * 1024 * 1024 + 123, 7));
  file(join(root, 'usr/lib/empty'), '');
  // Past the extractor's eager-thread threshold (16 MiB), so input chunks are handed to writer threads whole.
  file(join(root, 'usr/lib/huge.bin'), pseudoRandom(18 * 1024 * 1024 + 5, 11));
  linkSync(join(root, 'usr/lib/large.bin'), join(root, 'usr/lib/large-hardlink.bin'));
  linkSync(join(root, 'etc/hostname'), join(root, 'etc/hostname.hardlink'));
  const long = 'a-directory-name-that-is-long-enough'.repeat(3);
  mkdirSync(join(root, 'srv', long, long), { recursive: true });
  file(join(root, 'srv', long, long, 'file-with-a-long-name-'.repeat(5)), 'deep\n');
  symlinkSync('target-'.repeat(20), join(root, 'srv', 'long-symlink-target'));
  file(join(root, 'srv/ro/inside'), 'in a read-only dir\n', 0o444);
  chmodSync(join(root, 'srv/ro'), 0o555);
  sh('setfattr', ['-n', 'user.tspod', '-v', 'value one', join(root, 'etc/hostname')]);
  sh('setfattr', ['-n', 'trusted.tspod', '-v', '0x00ff10', join(root, 'usr/bin/suid')]);
  sh('setfattr', ['-n', 'user.dir', '-v', 'on a dir', join(root, 'srv')]);
  const many = opts.manySmallFiles ?? 300;
  mkdirSync(join(root, 'usr/share/many'), { recursive: true });
  for (let i = 0; i < many; i++) file(join(root, 'usr/share/many', `f${i}`), pseudoRandom(i * 37 % 5000, i + 1));
  // Nanosecond mtimes survive only in PAX archives; whole seconds everywhere else.
  utimesSync(join(root, 'etc/passwd'), 1_600_000_000.123456, 1_600_000_000.123456);
  sh('touch', ['-h', '-d', '2021-03-04 05:06:07.123456789', join(root, 'usr/bin/absolute-link')]);
}
