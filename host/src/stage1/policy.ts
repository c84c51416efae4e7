// What a pod's apps may do, decided here and handed to the stage1 as data: capability sets, the
// paths hidden or made read-only in /proc and /sys (runc's defaults), and the identity rules.
import { readFileSync } from 'node:fs';
import { ErrorCodes, tspodError, type TspodError } from '../errors.js';
import { err, ok, type Result } from '../result.js';

/** linux/capability.h numbers. */
export const CAPABILITIES: Readonly<Record<string, number>> = {
  CAP_CHOWN: 0, CAP_DAC_OVERRIDE: 1, CAP_DAC_READ_SEARCH: 2, CAP_FOWNER: 3, CAP_FSETID: 4, CAP_KILL: 5,
  CAP_SETGID: 6, CAP_SETUID: 7, CAP_SETPCAP: 8, CAP_LINUX_IMMUTABLE: 9, CAP_NET_BIND_SERVICE: 10,
  CAP_NET_BROADCAST: 11, CAP_NET_ADMIN: 12, CAP_NET_RAW: 13, CAP_IPC_LOCK: 14, CAP_IPC_OWNER: 15,
  CAP_SYS_MODULE: 16, CAP_SYS_RAWIO: 17, CAP_SYS_CHROOT: 18, CAP_SYS_PTRACE: 19, CAP_SYS_PACCT: 20,
  CAP_SYS_ADMIN: 21, CAP_SYS_BOOT: 22, CAP_SYS_NICE: 23, CAP_SYS_RESOURCE: 24, CAP_SYS_TIME: 25,
  CAP_SYS_TTY_CONFIG: 26, CAP_MKNOD: 27, CAP_LEASE: 28, CAP_AUDIT_WRITE: 29, CAP_AUDIT_CONTROL: 30,
  CAP_SETFCAP: 31, CAP_MAC_OVERRIDE: 32, CAP_MAC_ADMIN: 33, CAP_SYSLOG: 34, CAP_WAKE_ALARM: 35,
  CAP_BLOCK_SUSPEND: 36, CAP_AUDIT_READ: 37, CAP_PERFMON: 38, CAP_BPF: 39, CAP_CHECKPOINT_RESTORE: 40,
};

/** The 14 capabilities apps get by default (Docker's and rkt's set). */
export const DEFAULT_CAPABILITIES: readonly string[] = [
  'CAP_AUDIT_WRITE', 'CAP_CHOWN', 'CAP_DAC_OVERRIDE', 'CAP_FSETID', 'CAP_FOWNER', 'CAP_KILL', 'CAP_MKNOD',
  'CAP_NET_RAW', 'CAP_NET_BIND_SERVICE', 'CAP_SETUID', 'CAP_SETGID', 'CAP_SETPCAP', 'CAP_SETFCAP', 'CAP_SYS_CHROOT',
];

/** runc's masked paths: hidden behind /dev/null (files) or an empty read-only tmpfs (dirs). */
export const MASKED_PATHS: readonly string[] = [
  '/proc/acpi', '/proc/asound', '/proc/kcore', '/proc/keys', '/proc/latency_stats', '/proc/timer_list',
  '/proc/timer_stats', '/proc/sched_debug', '/proc/scsi', '/sys/firmware', '/sys/devices/virtual/powercap',
];

/** runc's read-only paths. */
export const READ_ONLY_PATHS: readonly string[] = ['/proc/bus', '/proc/fs', '/proc/irq', '/proc/sys', '/proc/sysrq-trigger'];

function normalizeCap(name: string): string {
  const upper = name.toUpperCase();
  return upper.startsWith('CAP_') ? upper : `CAP_${upper}`;
}

/** The app's capability mask: the default set, or exactly `retain`, minus `remove`. */
export function capabilityMask(retain: readonly string[] | undefined, remove: readonly string[] | undefined): Result<bigint, TspodError> {
  if (retain && remove) {
    return err(tspodError(ErrorCodes.CONFIG, 'set capabilities', 'both a retain and a remove set were given', 'give one: retain lists what stays, remove what goes'));
  }
  let mask = 0n;
  for (const name of retain ?? DEFAULT_CAPABILITIES) {
    const bit = CAPABILITIES[normalizeCap(name)];
    if (bit === undefined) return err(unknownCap(name));
    mask |= 1n << BigInt(bit);
  }
  for (const name of remove ?? []) {
    const bit = CAPABILITIES[normalizeCap(name)];
    if (bit === undefined) return err(unknownCap(name));
    mask &= ~(1n << BigInt(bit));
  }
  return ok(mask);
}

/**
 * Every capability tspod itself holds (its permitted set): what "all" can mean for fly pods and
 * --insecure-options=capabilities. A sandboxed host may lack some, and asking for more fails.
 */
export function allCapabilities(): bigint {
  const all = Object.values(CAPABILITIES).reduce((m, bit) => m | (1n << BigInt(bit)), 0n);
  try {
    const prm = /^CapPrm:\s*([0-9a-f]+)$/m.exec(readFileSync('/proc/self/status', 'utf8'))?.[1];
    return prm ? BigInt(`0x${prm}`) & all : all;
  } catch {
    return all;
  }
}

function unknownCap(name: string): TspodError {
  return tspodError(ErrorCodes.CONFIG, 'set capabilities', `${JSON.stringify(name)} is not a Linux capability`, 'use names like CAP_NET_BIND_SERVICE (see capabilities(7))');
}
