// Seccomp filters for pod apps, compiled here in TypeScript to classic BPF.
//
// The stage1 (C) reads the bytes compileSeccomp returns — an array of `struct sock_filter
// { __u16 code; __u8 jt; __u8 jf; __u32 k; }`, 8 bytes each, little-endian — and installs them
// with prctl(PR_SET_NO_NEW_PRIVS, 1) and seccomp(SECCOMP_SET_MODE_FILTER, 0, &prog) right before
// execve. All policy lives here; the stage1 does not interpret the program.
//
// Program shape (every jump is short: at most a few instructions, far below the 8-bit limit):
//
//   ld  [arch]              ; seccomp_data.arch
//   jeq AUDIT_ARCH, +1      ; wrong ABI (i386 int 0x80, arm32 compat, ...) → KILL_PROCESS
//   ret KILL_PROCESS
//   ld  [nr]
//   jge 0x40000000 → ret ERRNO          (x86_64 only: refuse the x32 ABI)
//   jeq NR_a → ret ERRNO / ALLOW        one pair per listed syscall, sorted by number
//   ...
//   clone: ld args[0].lo; jset NS_FLAGS → ret ERRNO; ret ALLOW          (denylist mode only)
//   personality: ld args[0].lo; jeq each safe value → ret ALLOW; ret ERRNO (denylist mode only)
//   ret ALLOW (denylist mode) | ret ERRNO (retain mode)
//
// Argument checks read only the low 32 bits of an argument: clone's flags and personality's
// persona are truncated to 32 bits by the kernel (lower_32_bits(clone_flags), `unsigned int
// personality`), so the high half cannot change what the kernel does.

import { Buffer } from 'node:buffer';
import { ErrorCodes, tspodError, type TspodError } from '../errors.js';
import { err, ok, type Result } from '../result.js';
import { ERRNO, SYSCALLS_AARCH64, SYSCALLS_X86_64 } from './syscalls.js';

export type SeccompArch = 'x86_64' | 'aarch64';

export interface SeccompPolicy {
  /** Allowlist: only these syscalls are allowed; everything else returns errno. Exclusive with remove. */
  readonly retain?: readonly string[];
  /** Extra syscalls to refuse on top of the default denylist. */
  readonly remove?: readonly string[];
  /** errno name for refused syscalls; default EPERM. */
  readonly errno?: string;
}

/**
 * The default denylist: refused with the policy's errno (EPERM unless set) whatever the
 * arguments. This is what Docker's default profile refuses to a container without extra
 * capabilities (module loading, kexec, clocks, mounts and the new mount API, namespaces via
 * unshare/setns, keyrings, tracing other processes, bpf/perf, NUMA policy, swap, reboot, old and
 * obsolete calls). Names that do not exist on the target arch (e.g. ioperm, iopl on aarch64;
 * vm86 and vm86old, which are i386-only, everywhere) are skipped: listing them keeps the policy
 * identical to Docker's and costs nothing.
 *
 * Besides these, the default filter also refuses, conditionally (see DEFAULT_CONDITIONAL):
 *  - clone with any namespace flag in its flags (args[0] on x86_64 and aarch64) → errno;
 *  - personality with a persona other than PERSONALITY_ALLOWED → errno;
 *  - clone3 → ENOSYS always (its flags live in memory that BPF cannot read; ENOSYS makes glibc
 *    fall back to clone, which is checked), as Docker does.
 */
export const DEFAULT_DENIED: readonly string[] = Object.freeze([
  '_sysctl', 'acct', 'add_key', 'bpf', 'clock_adjtime', 'clock_settime', 'create_module',
  'delete_module', 'finit_module', 'fsconfig', 'fsmount', 'fsopen', 'fspick', 'get_kernel_syms',
  'get_mempolicy', 'init_module', 'ioperm', 'iopl', 'kcmp', 'kexec_file_load', 'kexec_load', 'keyctl',
  'lookup_dcookie', 'lsm_set_self_attr', 'mbind', 'mount', 'mount_setattr', 'move_mount', 'move_pages',
  'name_to_handle_at', 'nfsservctl', 'open_by_handle_at', 'open_tree', 'perf_event_open', 'pidfd_getfd',
  'pivot_root', 'process_vm_readv', 'process_vm_writev', 'ptrace', 'query_module', 'quotactl', 'reboot',
  'request_key', 'set_mempolicy', 'setns', 'settimeofday', 'swapoff', 'swapon', 'sysfs', 'syslog',
  'umount2', 'unshare', 'uselib', 'userfaultfd', 'ustat', 'vm86', 'vm86old',
]);

/** Syscalls the default filter refuses only for some arguments, or with a fixed errno. */
export const DEFAULT_CONDITIONAL: readonly string[] = Object.freeze(['clone', 'clone3', 'personality']);

/** CLONE_NEWTIME|NEWNS|NEWCGROUP|NEWUTS|NEWIPC|NEWUSER|NEWPID|NEWNET. In clone()'s flags, 0x80
 * (CLONE_NEWTIME) overlaps the exit-signal byte; a signal ≥ 128 is invalid anyway, so refusing it
 * costs nothing. */
export const CLONE_NAMESPACE_FLAGS = 0x00000080 | 0x00020000 | 0x02000000 | 0x04000000 | 0x08000000 |
  0x10000000 | 0x20000000 | 0x40000000;

/** personality values Docker allows: PER_LINUX, UNAME26, PER_LINUX32, PER_LINUX32|UNAME26, query. */
export const PERSONALITY_ALLOWED: readonly number[] = Object.freeze([0x0, 0x8, 0x20000, 0x20008, 0xffffffff]);

export const AUDIT_ARCH: Readonly<Record<SeccompArch, number>> = Object.freeze({
  x86_64: 0xc000003e,
  aarch64: 0xc00000b7,
});

export const SECCOMP_RET_KILL_PROCESS = 0x80000000;
export const SECCOMP_RET_ERRNO = 0x00050000;
export const SECCOMP_RET_ALLOW = 0x7fff0000;
export const SECCOMP_RET_DATA = 0x0000ffff;
/** x86_64: syscall numbers with this bit set are the x32 ABI. */
export const X32_SYSCALL_BIT = 0x40000000;
/** Kernel limit on a classic BPF program (include/uapi/linux/bpf_common.h). */
export const BPF_MAXINSNS = 4096;

/** Offsets in struct seccomp_data { int nr; __u32 arch; __u64 instruction_pointer; __u64 args[6]; }. */
export const SECCOMP_DATA_NR = 0;
export const SECCOMP_DATA_ARCH = 4;
/** Offset of the low 32 bits of args[i] (little-endian). */
export const seccompArgLo = (i: number): number => 16 + 8 * i;

/** Classic BPF opcodes used here. */
export const BPF = Object.freeze({
  LD_W_ABS: 0x20, // BPF_LD | BPF_W | BPF_ABS
  JMP_JA: 0x05, // BPF_JMP | BPF_JA
  JEQ_K: 0x15, // BPF_JMP | BPF_JEQ | BPF_K
  JGT_K: 0x25, // BPF_JMP | BPF_JGT | BPF_K
  JGE_K: 0x35, // BPF_JMP | BPF_JGE | BPF_K
  JSET_K: 0x45, // BPF_JMP | BPF_JSET | BPF_K
  RET_K: 0x06, // BPF_RET | BPF_K
});

export interface SockFilter {
  readonly code: number;
  readonly jt: number;
  readonly jf: number;
  readonly k: number;
}

export const SOCK_FILTER_SIZE = 8;

export function syscallTable(arch: SeccompArch): Readonly<Record<string, number>> {
  return arch === 'x86_64' ? SYSCALLS_X86_64 : SYSCALLS_AARCH64;
}

/** The seccomp arch of this host, or undefined if tspod has no syscall table for it. */
export function hostSeccompArch(): SeccompArch | undefined {
  return process.arch === 'x64' ? 'x86_64' : process.arch === 'arm64' ? 'aarch64' : undefined;
}

export function errnoNumber(name: string): number | undefined {
  return Object.hasOwn(ERRNO, name) ? ERRNO[name] : undefined;
}

export function encodeFilter(prog: readonly SockFilter[]): Buffer {
  const buf = Buffer.alloc(prog.length * SOCK_FILTER_SIZE);
  prog.forEach((ins, i) => {
    const o = i * SOCK_FILTER_SIZE;
    buf.writeUInt16LE(ins.code, o);
    buf.writeUInt8(ins.jt, o + 2);
    buf.writeUInt8(ins.jf, o + 3);
    buf.writeUInt32LE(ins.k >>> 0, o + 4);
  });
  return buf;
}

export function decodeFilter(buf: Buffer): SockFilter[] {
  if (buf.length % SOCK_FILTER_SIZE !== 0) throw new RangeError(`filter length ${buf.length} is not a multiple of 8`);
  const out: SockFilter[] = [];
  for (let o = 0; o < buf.length; o += SOCK_FILTER_SIZE) {
    out.push({ code: buf.readUInt16LE(o), jt: buf.readUInt8(o + 2), jf: buf.readUInt8(o + 3), k: buf.readUInt32LE(o + 4) });
  }
  return out;
}

/** A tiny assembler: jumps name labels; offsets are resolved and range-checked at the end. */
class Assembler {
  private readonly insns: { code: number; k: number; jt?: string; jf?: string }[] = [];
  private readonly labels = new Map<string, number>();
  private seq = 0;

  fresh(): string {
    return `L${this.seq++}`;
  }
  label(name: string): void {
    this.labels.set(name, this.insns.length);
  }
  ld(offset: number): void {
    this.insns.push({ code: BPF.LD_W_ABS, k: offset });
  }
  ret(k: number): void {
    this.insns.push({ code: BPF.RET_K, k: k >>> 0 });
  }
  /** Conditional jump; an omitted target falls through to the next instruction. */
  jump(code: number, k: number, jt?: string, jf?: string): void {
    this.insns.push({ code, k: k >>> 0, ...(jt === undefined ? {} : { jt }), ...(jf === undefined ? {} : { jf }) });
  }
  get length(): number {
    return this.insns.length;
  }
  assemble(): Result<SockFilter[], TspodError> {
    const out: SockFilter[] = [];
    for (let i = 0; i < this.insns.length; i++) {
      const ins = this.insns[i]!;
      const off = (l: string | undefined): number => {
        if (l === undefined) return 0;
        const at = this.labels.get(l);
        if (at === undefined) return -1;
        return at - (i + 1);
      };
      const jt = off(ins.jt);
      const jf = off(ins.jf);
      if (jt < 0 || jt > 255 || jf < 0 || jf > 255) {
        return err(tspodError(ErrorCodes.INTERNAL, 'compile seccomp filter',
          `instruction ${i} jumps out of range (jt ${jt}, jf ${jf}; must be 0..255 and forward)`,
          'this is a bug in tspod\'s seccomp compiler; please report it'));
      }
      out.push({ code: ins.code, jt, jf, k: ins.k });
    }
    return ok(out);
  }
}

function policyError(why: string, hint: string): TspodError {
  return tspodError(ErrorCodes.CONFIG, 'compile seccomp filter', why, hint);
}

const isKnownName = (n: string): boolean => Object.hasOwn(SYSCALLS_X86_64, n) || Object.hasOwn(SYSCALLS_AARCH64, n);

function checkNames(field: string, names: readonly string[]): Result<void, TspodError> {
  const unknown = [...new Set(names.filter((n) => typeof n !== 'string' || !isKnownName(n)))];
  if (unknown.length === 0) return ok(undefined);
  return err(policyError(
    `unknown syscall name${unknown.length > 1 ? 's' : ''} in ${field}: ${unknown.map((n) => JSON.stringify(n)).join(', ')}`,
    'use Linux syscall names as in <asm/unistd.h> without the __NR_ prefix (e.g. "chmod", "fchmodat", "umount2")'));
}

/** Number of each name present in the arch's table; names only known on the other arch are skipped. */
function numbersOf(names: readonly string[], table: Readonly<Record<string, number>>): Set<number> {
  const s = new Set<number>();
  for (const n of names) if (Object.hasOwn(table, n)) s.add(table[n]!);
  return s;
}

/**
 * Compile a policy to a BPF program (instructions). Prefer compileSeccomp, which returns the
 * bytes the stage1 installs.
 */
export function compileSeccompProgram(policy: SeccompPolicy, arch?: SeccompArch): Result<SockFilter[], TspodError> {
  const target = arch ?? hostSeccompArch();
  if (target === undefined) {
    return err(tspodError(ErrorCodes.UNSUPPORTED, 'compile seccomp filter',
      `tspod has no syscall table for host architecture ${process.arch}`, 'pass arch "x86_64" or "aarch64" explicitly'));
  }
  if (target !== 'x86_64' && target !== 'aarch64') {
    return err(policyError(`unsupported architecture ${JSON.stringify(target)}`, 'use "x86_64" or "aarch64"'));
  }
  const errnoName = policy.errno ?? 'EPERM';
  const errnoNum = errnoNumber(errnoName);
  if (errnoNum === undefined) {
    return err(policyError(`unknown errno name ${JSON.stringify(errnoName)}`,
      'use a Linux errno name such as EPERM, EACCES or ENOSYS (upper case)'));
  }
  const { retain, remove } = policy;
  if (retain !== undefined && remove !== undefined && remove.length > 0) {
    return err(policyError('both retain and remove are set',
      'use retain (an allowlist) or remove (extra denials on top of the default denylist), not both'));
  }
  if (retain !== undefined) {
    const r = checkNames('retain', retain);
    if (r.isErr()) return err(r.error);
    if (retain.length === 0) {
      return err(policyError('retain is empty: no syscall at all would be allowed, not even execve',
        'list the syscalls the app needs, or drop retain to use the default denylist'));
    }
  }
  if (remove !== undefined) {
    const r = checkNames('remove', remove);
    if (r.isErr()) return err(r.error);
  }

  const table = syscallTable(target);
  const RET_ERRNO = (SECCOMP_RET_ERRNO | (errnoNum & SECCOMP_RET_DATA)) >>> 0;
  const RET_ENOSYS = (SECCOMP_RET_ERRNO | ERRNO['ENOSYS']!) >>> 0;
  const a = new Assembler();

  // Only the ABI this filter was compiled for may make syscalls at all.
  const archOk = a.fresh();
  a.ld(SECCOMP_DATA_ARCH);
  a.jump(BPF.JEQ_K, AUDIT_ARCH[target], archOk);
  a.ret(SECCOMP_RET_KILL_PROCESS);
  a.label(archOk);
  a.ld(SECCOMP_DATA_NR);
  if (target === 'x86_64') {
    const notX32 = a.fresh();
    a.jump(BPF.JGE_K, X32_SYSCALL_BIT, undefined, notX32);
    a.ret(RET_ERRNO);
    a.label(notX32);
  }
  /** `jeq nr → ret action`, fall through otherwise. */
  const match = (nr: number, action: number): void => {
    const next = a.fresh();
    a.jump(BPF.JEQ_K, nr, undefined, next);
    a.ret(action);
    a.label(next);
  };

  if (retain !== undefined) {
    const allowed = [...numbersOf(retain, table)].sort((x, y) => x - y);
    for (const nr of allowed) match(nr, SECCOMP_RET_ALLOW);
    // Not retained: clone3 says ENOSYS so libc falls back to clone (if that is retained).
    const clone3 = table['clone3'];
    if (clone3 !== undefined && !allowed.includes(clone3)) match(clone3, RET_ENOSYS);
    a.ret(RET_ERRNO);
  } else {
    const denied = numbersOf([...DEFAULT_DENIED, ...(remove ?? [])], table);
    const actions = new Map<number, number>();
    for (const nr of denied) actions.set(nr, RET_ERRNO);
    // clone3 → ENOSYS, unless the policy removes it explicitly.
    const clone3 = table['clone3'];
    if (clone3 !== undefined && !actions.has(clone3)) actions.set(clone3, RET_ENOSYS);
    for (const nr of [...actions.keys()].sort((x, y) => x - y)) match(nr, actions.get(nr)!);

    const clone = table['clone'];
    if (clone !== undefined && !actions.has(clone)) {
      const skip = a.fresh();
      const deny = a.fresh();
      a.jump(BPF.JEQ_K, clone, undefined, skip);
      a.ld(seccompArgLo(0));
      a.jump(BPF.JSET_K, CLONE_NAMESPACE_FLAGS, deny);
      a.ret(SECCOMP_RET_ALLOW);
      a.label(deny);
      a.ret(RET_ERRNO);
      a.label(skip);
    }
    const personality = table['personality'];
    if (personality !== undefined && !actions.has(personality)) {
      const skip = a.fresh();
      const allow = a.fresh();
      a.jump(BPF.JEQ_K, personality, undefined, skip);
      a.ld(seccompArgLo(0));
      for (const v of PERSONALITY_ALLOWED) a.jump(BPF.JEQ_K, v, allow);
      a.ret(RET_ERRNO);
      a.label(allow);
      a.ret(SECCOMP_RET_ALLOW);
      a.label(skip);
    }
    a.ret(SECCOMP_RET_ALLOW);
  }

  if (a.length > BPF_MAXINSNS) {
    return err(policyError(`the filter has ${a.length} instructions, more than the kernel's limit of ${BPF_MAXINSNS}`,
      'shorten the syscall list'));
  }
  return a.assemble();
}

/**
 * Compile a seccomp policy for `arch` (default: the host's) to the raw `struct sock_filter`
 * array the stage1 installs. Errors (TSPOD_E_CONFIG): unknown syscall or errno names, retain
 * together with remove, an empty retain, a program over BPF_MAXINSNS.
 *
 * Default mode (no retain): everything is allowed except DEFAULT_DENIED and `remove` (→ errno),
 * clone with namespace flags (→ errno), personality outside PERSONALITY_ALLOWED (→ errno) and
 * clone3 (→ ENOSYS). Retain mode: exactly the listed syscalls are allowed, with no argument
 * checks; clone3, unless listed, answers ENOSYS; everything else → errno. In both modes a
 * syscall from another ABI kills the process, and x32 syscalls (x86_64) → errno. Names valid on
 * only the other arch are skipped.
 */
export function compileSeccomp(policy: SeccompPolicy, arch?: SeccompArch): Result<Buffer, TspodError> {
  return compileSeccompProgram(policy, arch).map(encodeFilter);
}
