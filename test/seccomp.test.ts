// Seccomp filter compiler (host/src/stage1/seccomp.ts): policy errors, the byte format, a BPF
// interpreter that property-tests every compiled program against a reference model of the
// policy, and then the real kernel: a tiny C loader (test/fixtures/seccomp-loader.c, built with
// gcc into a temp dir) installs the filter as the stage1 will and execs busybox or python3,
// which call the syscalls and report errno.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { REPO, isRoot, removeDir, tempDir } from './helpers/cli.js';
import {
  AUDIT_ARCH, BPF, BPF_MAXINSNS, CLONE_NAMESPACE_FLAGS, compileSeccomp, compileSeccompProgram, decodeFilter,
  DEFAULT_DENIED, encodeFilter, PERSONALITY_ALLOWED, SECCOMP_RET_ALLOW, SECCOMP_RET_ERRNO, SECCOMP_RET_KILL_PROCESS,
  type SeccompArch, type SeccompPolicy, type SockFilter, syscallTable, X32_SYSCALL_BIT,
} from '../host/src/stage1/seccomp.js';
import { ERRNO, SYSCALLS_AARCH64, SYSCALLS_X86_64 } from '../host/src/stage1/syscalls.js';
import { prng as rng } from './helpers/prng.js';

// ---------------------------------------------------------------------------------------------
// A classic-BPF interpreter for seccomp programs (only what the kernel's seccomp checker allows
// that we use; anything else is an error, so an unexpected opcode fails the test).

interface SeccompData {
  readonly nr: number;
  readonly arch: number;
  /** Six 64-bit arguments. */
  readonly args: readonly bigint[];
}

function seccompDataBytes(d: SeccompData): Buffer {
  const b = Buffer.alloc(64);
  b.writeUInt32LE(d.nr >>> 0, 0);
  b.writeUInt32LE(d.arch >>> 0, 4);
  b.writeBigUInt64LE(0x401000n, 8);
  d.args.forEach((a, i) => b.writeBigUInt64LE(BigInt.asUintN(64, a), 16 + 8 * i));
  return b;
}

function runBpf(prog: readonly SockFilter[], d: SeccompData): number {
  const mem = seccompDataBytes(d);
  let A = 0;
  let pc = 0;
  for (let steps = 0; steps <= prog.length; steps++) {
    const ins = prog[pc];
    if (ins === undefined) throw new Error(`pc ${pc} ran off the end of the program`);
    switch (ins.code) {
      case BPF.LD_W_ABS:
        if (ins.k % 4 !== 0 || ins.k + 4 > 64) throw new Error(`bad load offset ${ins.k}`);
        A = mem.readUInt32LE(ins.k);
        pc++;
        break;
      case BPF.RET_K:
        return ins.k >>> 0;
      case BPF.JMP_JA:
        pc += 1 + ins.k;
        break;
      case BPF.JEQ_K:
      case BPF.JGT_K:
      case BPF.JGE_K:
      case BPF.JSET_K: {
        const k = ins.k >>> 0;
        const c = ins.code === BPF.JEQ_K ? A === k : ins.code === BPF.JGT_K ? A > k : ins.code === BPF.JGE_K ? A >= k
          : ((A & k) >>> 0) !== 0;
        pc += 1 + (c ? ins.jt : ins.jf);
        break;
      }
      default:
        throw new Error(`unexpected opcode 0x${ins.code.toString(16)} at ${pc}`);
    }
  }
  throw new Error('program did not terminate');
}

/** The policy as a plain function: what the kernel should answer. */
function model(policy: SeccompPolicy, arch: SeccompArch, d: SeccompData): number {
  const table = syscallTable(arch);
  const num = (names: readonly string[]): Set<number> =>
    new Set(names.filter((n) => table[n] !== undefined).map((n) => table[n]!));
  const errno = (SECCOMP_RET_ERRNO | ERRNO[policy.errno ?? 'EPERM']!) >>> 0;
  const enosys = (SECCOMP_RET_ERRNO | ERRNO['ENOSYS']!) >>> 0;
  if (d.arch !== AUDIT_ARCH[arch]) return SECCOMP_RET_KILL_PROCESS;
  if (arch === 'x86_64' && d.nr >>> 0 >= X32_SYSCALL_BIT) return errno;
  const lo0 = Number(BigInt.asUintN(32, d.args[0]!));
  if (policy.retain) {
    if (num(policy.retain).has(d.nr)) return SECCOMP_RET_ALLOW;
    return d.nr === table['clone3'] ? enosys : errno;
  }
  const removed = num(policy.remove ?? []);
  if (num(DEFAULT_DENIED).has(d.nr) || removed.has(d.nr)) return errno;
  if (d.nr === table['clone3']) return enosys;
  if (d.nr === table['clone']) return (lo0 & CLONE_NAMESPACE_FLAGS) !== 0 ? errno : SECCOMP_RET_ALLOW;
  if (d.nr === table['personality']) return PERSONALITY_ALLOWED.includes(lo0) ? SECCOMP_RET_ALLOW : errno;
  return SECCOMP_RET_ALLOW;
}


function unwrapProgram(policy: SeccompPolicy, arch: SeccompArch): SockFilter[] {
  const r = compileSeccompProgram(policy, arch);
  if (r.isErr()) assert.fail(`compile failed: ${r.error.why}`);
  return r.value;
}

const ARCHES: readonly SeccompArch[] = ['x86_64', 'aarch64'];

const TRUE_SET = [
  'execve', 'arch_prctl', 'set_tid_address', 'set_robust_list', 'rseq', 'prlimit64', 'brk', 'mprotect', 'readlink',
  'getuid', 'prctl', 'getrandom', 'exit_group', 'exit',
];

const POLICIES: readonly SeccompPolicy[] = [
  {},
  { errno: 'ENOSYS' },
  { errno: 'EACCES', remove: ['chmod', 'fchmodat', 'fchmodat2'] },
  { remove: ['clone', 'personality', 'clone3', 'ioperm'] },
  { retain: TRUE_SET },
  { retain: ['read', 'write', 'clone', 'clone3', 'personality'], errno: 'EIO' },
  { retain: Object.keys(SYSCALLS_X86_64) },
];

// ---------------------------------------------------------------------------------------------

describe('seccomp: policy errors', () => {
  test('unknown syscall names are refused, all of them named', () => {
    const r = compileSeccomp({ remove: ['chmod', 'no_such_call', 'frobnicate'] }, 'x86_64');
    assert.ok(r.isErr());
    assert.equal(r.error.code, 'TSPOD_E_CONFIG');
    assert.match(r.error.why, /unknown syscall names in remove: "no_such_call", "frobnicate"/);
    assert.match(r.error.what, /seccomp/);
    assert.ok(r.error.hint.length > 0);
    const r2 = compileSeccomp({ retain: ['read', '__NR_write'] }, 'x86_64');
    assert.ok(r2.isErr());
    assert.match(r2.error.why, /unknown syscall name in retain: "__NR_write"/);
  });

  test('unknown errno names are refused', () => {
    for (const e of ['EBOGUS', 'eperm', '1', '']) {
      const r = compileSeccomp({ errno: e }, 'x86_64');
      assert.ok(r.isErr(), e);
      assert.equal(r.error.code, 'TSPOD_E_CONFIG');
      assert.match(r.error.why, /unknown errno name/);
    }
    assert.ok(compileSeccomp({ errno: 'EWOULDBLOCK' }, 'x86_64').isOk(), 'aliases resolve');
  });

  test('retain with remove is refused; an empty retain is refused', () => {
    const r = compileSeccomp({ retain: ['read'], remove: ['write'] }, 'x86_64');
    assert.ok(r.isErr());
    assert.match(r.error.why, /both retain and remove/);
    assert.ok(compileSeccomp({ retain: ['read'], remove: [] }, 'x86_64').isOk());
    const e = compileSeccomp({ retain: [] }, 'x86_64');
    assert.ok(e.isErr());
    assert.match(e.error.why, /retain is empty/);
  });

  test('names of the other arch are accepted and skipped', () => {
    // ioperm and arch_prctl do not exist on aarch64; renameat exists on both, fstatat only as newfstatat.
    const p = unwrapProgram({ remove: ['ioperm', 'arch_prctl'] }, 'aarch64');
    const q = unwrapProgram({}, 'aarch64');
    assert.deepEqual(p, q);
  });
});

describe('seccomp: tables and program shape', () => {
  test('syscall and errno tables agree with well-known numbers', () => {
    assert.equal(SYSCALLS_X86_64['read'], 0);
    assert.equal(SYSCALLS_X86_64['clone'], 56);
    assert.equal(SYSCALLS_X86_64['personality'], 135);
    assert.equal(SYSCALLS_X86_64['clone3'], 435);
    assert.equal(SYSCALLS_X86_64['lsm_set_self_attr'], 460);
    assert.equal(SYSCALLS_AARCH64['clone'], 220);
    assert.equal(SYSCALLS_AARCH64['openat'], 56);
    assert.equal(SYSCALLS_AARCH64['personality'], 92);
    assert.equal(SYSCALLS_AARCH64['ioperm'], undefined);
    assert.deepEqual([ERRNO['EPERM'], ERRNO['EACCES'], ERRNO['ENOSYS'], ERRNO['EWOULDBLOCK']], [1, 13, 38, 11]);
  });

  test('every default-denied name exists on some arch (vm86, vm86old are i386-only and skipped)', () => {
    const missing = DEFAULT_DENIED.filter((n) => SYSCALLS_X86_64[n] === undefined && SYSCALLS_AARCH64[n] === undefined);
    assert.deepEqual(missing, ['vm86', 'vm86old']);
    for (const n of ['mount', 'unshare', 'setns', 'keyctl', 'ptrace', 'bpf', 'reboot', 'fsopen', 'mount_setattr']) {
      assert.ok(DEFAULT_DENIED.includes(n), n);
    }
  });

  test('encodeFilter/decodeFilter round-trip 8-byte little-endian sock_filter', () => {
    const prog: SockFilter[] = [{ code: 0x20, jt: 0, jf: 0, k: 4 }, { code: 0x15, jt: 1, jf: 255, k: 0xc000003e }];
    const b = encodeFilter(prog);
    assert.equal(b.length, 16);
    assert.deepEqual([...b.subarray(8)], [0x15, 0x00, 0x01, 0xff, 0x3e, 0x00, 0x00, 0xc0]);
    assert.deepEqual(decodeFilter(b), prog);
    const r = compileSeccomp({}, 'x86_64');
    assert.ok(r.isOk());
    assert.deepEqual(decodeFilter(r.value), unwrapProgram({}, 'x86_64'));
  });

  test('programs start with the arch check and stay within jump and size limits', () => {
    for (const arch of ARCHES) {
      for (const policy of POLICIES) {
        const prog = unwrapProgram(policy, arch);
        assert.deepEqual(prog.slice(0, 3), [
          { code: BPF.LD_W_ABS, jt: 0, jf: 0, k: 4 },
          { code: BPF.JEQ_K, jt: 1, jf: 0, k: AUDIT_ARCH[arch] },
          { code: BPF.RET_K, jt: 0, jf: 0, k: SECCOMP_RET_KILL_PROCESS },
        ]);
        assert.ok(prog.length <= BPF_MAXINSNS);
        prog.forEach((ins, i) => {
          if ((ins.code & 0x07) !== 0x05) return; // BPF_JMP class only
          assert.ok(i + 1 + ins.jt < prog.length && i + 1 + ins.jf < prog.length, `jump in range at ${i}`);
        });
      }
    }
    // The largest possible program (every syscall retained) fits easily.
    assert.ok(unwrapProgram({ retain: Object.keys(SYSCALLS_X86_64) }, 'x86_64').length < BPF_MAXINSNS / 2);
  });

  test('property: the program answers as the policy says for random syscalls and arguments', () => {
    const rand = rng(0x5ecc0);
    const u32 = (): number => Math.floor(rand() * 2 ** 32);
    const u64 = (): bigint => (BigInt(u32()) << 32n) | BigInt(u32());
    for (const arch of ARCHES) {
      const table = syscallTable(arch);
      const interesting = [table['clone']!, table['personality']!, table['clone3']!, table['mount']!];
      for (const policy of POLICIES) {
        const prog = unwrapProgram(policy, arch);
        for (let i = 0; i < 3000; i++) {
          const pick = rand();
          const nr = pick < 0.3 ? interesting[Math.floor(rand() * interesting.length)]!
            : pick < 0.9 ? Math.floor(rand() * 480)
              : pick < 0.95 ? (X32_SYSCALL_BIT | Math.floor(rand() * 600)) >>> 0 : u32();
          const archPick = rand();
          const auditArch = archPick < 0.9 ? AUDIT_ARCH[arch] : archPick < 0.95 ? 0x40000003 /* i386 */ : u32();
          let a0 = u64();
          const argPick = rand();
          if (argPick < 0.3) a0 = BigInt(PERSONALITY_ALLOWED[Math.floor(rand() * PERSONALITY_ALLOWED.length)]!);
          else if (argPick < 0.4) a0 = (BigInt(u32()) << 32n) | BigInt(PERSONALITY_ALLOWED[Math.floor(rand() * 5)]!);
          else if (argPick < 0.6) a0 = 0x11n | (rand() < 0.5 ? 0x100n : 0n) | (rand() < 0.5 ? (BigInt(u32()) << 32n) : 0n);
          else if (argPick < 0.7) a0 = 0x11n | BigInt(1 << Math.floor(rand() * 31));
          const d: SeccompData = { nr, arch: auditArch, args: [a0, u64(), u64(), u64(), u64(), u64()] };
          const got = runBpf(prog, d);
          const want = model(policy, arch, d);
          if (got !== want) {
            assert.fail(`${arch} ${JSON.stringify(policy).slice(0, 80)} nr=${nr} arch=0x${auditArch.toString(16)} ` +
              `a0=0x${a0.toString(16)}: got 0x${got.toString(16)}, want 0x${want.toString(16)}`);
          }
        }
        // Every syscall number of the table, deterministic arguments.
        for (const nr of Object.values(table)) {
          for (const a0 of [0n, 0x11n, 0x10000011n, 0x40000n, 0xffffffffn, 0x1_00000008n]) {
            const d: SeccompData = { nr, arch: AUDIT_ARCH[arch], args: [a0, 0n, 0n, 0n, 0n, 0n] };
            assert.equal(runBpf(prog, d), model(policy, arch, d), `${arch} nr=${nr} a0=${a0}`);
          }
        }
      }
    }
  });
});

// ---------------------------------------------------------------------------------------------
// The real kernel.

const PY_PROBE = String.raw`
import ctypes, json, os, sys
libc = ctypes.CDLL(None, use_errno=True)
libc.syscall.restype = ctypes.c_long
out = {}
for label, nr, *args in json.loads(sys.argv[1]):
    cargs = [ctypes.c_char_p(a.encode()) if isinstance(a, str) else ctypes.c_long(a) for a in args]
    ctypes.set_errno(0)
    r = libc.syscall(ctypes.c_long(nr), *cargs)
    e = ctypes.get_errno() if r == -1 else 0
    if label.startswith('clone') and r == 0:
        os._exit(0)  # the child of a raw clone: leave at once
    if label.startswith('clone') and r > 0:
        os.waitpid(r, 0)
    out[label] = e
print(json.dumps(out))
`;

/** i386 getpid via int 0x80 from mmapped code: the i386 ABI, AUDIT_ARCH_I386. */
const PY_INT80 = String.raw`
import ctypes, mmap, os
m = mmap.mmap(-1, 4096, prot=mmap.PROT_READ | mmap.PROT_WRITE | mmap.PROT_EXEC)
m.write(bytes([0xb8, 20, 0, 0, 0, 0xcd, 0x80, 0xc3]))
f = ctypes.CFUNCTYPE(ctypes.c_int)(ctypes.addressof(ctypes.c_char.from_buffer(m)))
print('same' if f() == os.getpid() else 'different')
`;

const onX86 = process.arch === 'x64';
const hasGcc = spawnSync('gcc', ['--version']).status === 0;
const realSkip = !onX86 ? 'real-kernel tests need x86_64'
  : !hasGcc ? 'needs gcc' : !existsSync('/bin/busybox') ? 'needs /bin/busybox'
    : !existsSync('/usr/bin/python3') ? 'needs /usr/bin/python3' : false;

describe('seccomp: real kernel (x86_64)', { skip: realSkip }, () => {
  let dir = '';
  let loader = '';
  let n = 0;
  const NR = SYSCALLS_X86_64;

  before(() => {
    dir = tempDir('tspod-seccomp-');
    loader = join(dir, 'seccomp-loader');
    const cc = spawnSync('gcc', ['-O2', '-Wall', '-o', loader, join(REPO, 'test', 'fixtures', 'seccomp-loader.c')],
      { encoding: 'utf8' });
    assert.equal(cc.status, 0, cc.stderr);
  });
  after(() => {
    if (dir) removeDir(dir);
  });

  function filterFile(policy: SeccompPolicy): string {
    const r = compileSeccomp(policy, 'x86_64');
    if (r.isErr()) assert.fail(r.error.why);
    const f = join(dir, `filter-${n++}.bpf`);
    writeFileSync(f, r.value);
    return f;
  }

  function run(policy: SeccompPolicy | null, argv: string[]) {
    const cmd = policy === null ? argv[0]! : loader;
    const args = policy === null ? argv.slice(1) : [filterFile(policy), ...argv];
    return spawnSync(cmd, args, { encoding: 'utf8', cwd: dir, timeout: 30_000 });
  }

  type Call = [label: string, nr: number, ...args: (number | string)[]];
  function probe(policy: SeccompPolicy | null, calls: Call[]): Record<string, number> {
    const r = run(policy, ['/usr/bin/python3', '-c', PY_PROBE, JSON.stringify(calls)]);
    assert.equal(r.status, 0, `python3 failed: ${r.stderr}`);
    return JSON.parse(r.stdout) as Record<string, number>;
  }

  const CLONE_NEWNS = 0x20000;
  const CLONE_NEWUSER = 0x10000000;
  const SIGCHLD = 17;
  const CALLS = (): Call[] => [
    ['unshare_newns', NR['unshare']!, CLONE_NEWNS],
    ['mount', NR['mount']!, 'none', join(dir, 'no-such-dir'), 'tmpfs', 0, 0],
    ['reboot_badmagic', NR['reboot']!, 0, 0, 0, 0],
    ['keyctl', NR['keyctl']!, 0 /* KEYCTL_GET_KEYRING_ID */, -2 /* process keyring */, 0],
    ['clone_newuser', NR['clone']!, CLONE_NEWUSER | SIGCHLD, 0, 0, 0, 0],
    ['clone_plain', NR['clone']!, SIGCHLD, 0, 0, 0, 0],
    ['clone3', NR['clone3']!, 0, 0],
    ['personality_query', NR['personality']!, 0xffffffff],
    ['personality_0', NR['personality']!, 0],
    ['personality_addr_no_randomize', NR['personality']!, 0x0040000],
    ['getpid', NR['getpid']!],
    ['x32_getpid', (X32_SYSCALL_BIT | NR['getpid']!) >>> 0],
  ];

  test('unfiltered baseline: the probes do what they should without a filter', () => {
    const base = probe(null, CALLS());
    assert.equal(base['clone_plain'], 0);
    assert.equal(base['clone3'], ERRNO['EINVAL'], 'clone3(NULL, 0) is EINVAL without a filter');
    assert.equal(base['getpid'], 0);
    if (isRoot) {
      assert.equal(base['mount'], ERRNO['ENOENT'], 'mount would reach the path lookup');
      assert.equal(base['reboot_badmagic'], ERRNO['EINVAL'], 'reboot with bad magic is EINVAL, not a reboot');
      assert.equal(base['unshare_newns'], 0);
    }
  });

  test('default filter: namespaces, mounts, reboot, keys, ptrace refused with EPERM; clone3 ENOSYS', () => {
    const got = probe({}, [...CALLS(), ['ptrace_traceme', NR['ptrace']!, 0, 0, 0, 0]]);
    const EPERM = ERRNO['EPERM'];
    assert.deepEqual(got, {
      unshare_newns: EPERM,
      mount: EPERM,
      reboot_badmagic: EPERM,
      keyctl: EPERM,
      clone_newuser: EPERM,
      clone_plain: 0,
      clone3: ERRNO['ENOSYS'],
      personality_query: 0,
      personality_0: 0,
      personality_addr_no_randomize: EPERM,
      getpid: 0,
      x32_getpid: EPERM,
      ptrace_traceme: EPERM,
    });
  });

  test('default filter: ordinary programs work (fork, exec, open, read, write)', () => {
    const echo = run({}, ['/bin/busybox', 'echo', 'ok']);
    assert.equal(echo.status, 0, echo.stderr);
    assert.equal(echo.stdout, 'ok\n');
    const ls = run({}, ['/bin/busybox', 'ls', '/']);
    assert.equal(ls.status, 0, ls.stderr);
    assert.match(ls.stdout, /^bin$/m);
    const sh = run({}, ['/bin/busybox', 'sh', '-c', 'echo a > f && /bin/busybox cat f && (/bin/busybox echo sub)']);
    assert.equal(sh.status, 0, sh.stderr);
    assert.equal(sh.stdout, 'a\nsub\n');
    const unshare = run({}, ['/bin/busybox', 'unshare', '-m', '/bin/busybox', 'true']);
    assert.notEqual(unshare.status, 0, 'busybox unshare must fail');
  });

  test('errno = ENOSYS changes the answer', () => {
    const got = probe({ errno: 'ENOSYS' }, CALLS());
    assert.equal(got['mount'], ERRNO['ENOSYS']);
    assert.equal(got['unshare_newns'], ERRNO['ENOSYS']);
    assert.equal(got['clone_newuser'], ERRNO['ENOSYS']);
    assert.equal(got['personality_addr_no_randomize'], ERRNO['ENOSYS']);
    assert.equal(got['x32_getpid'], ERRNO['ENOSYS']);
    assert.equal(got['getpid'], 0);
    const eacces = probe({ errno: 'EACCES' }, [['mount', NR['mount']!, 'none', '/x', 'tmpfs', 0, 0]]);
    assert.equal(eacces['mount'], ERRNO['EACCES']);
  });

  test('remove = [chmod, fchmodat] makes chmod fail', () => {
    const f = join(dir, 'target');
    writeFileSync(f, 'x');
    assert.equal(run({}, ['/bin/busybox', 'chmod', '600', f]).status, 0, 'chmod works under the default filter');
    const r = run({ remove: ['chmod', 'fchmodat', 'fchmodat2'] }, ['/bin/busybox', 'chmod', '644', f]);
    assert.notEqual(r.status, 0);
    assert.match(r.stderr, /Operation not permitted/);
    const got = probe({ remove: ['chmod', 'fchmodat'] }, [['chmod', NR['chmod']!, f, 0o644], ['getpid', NR['getpid']!]]);
    assert.deepEqual(got, { chmod: ERRNO['EPERM'], getpid: 0 });
  });

  test('retain mode: just enough for busybox true; anything more fails', () => {
    const ok = run({ retain: TRUE_SET }, ['/bin/busybox', 'true']);
    assert.equal(ok.status, 0, ok.stderr);
    // echo needs write, ls needs much more: refused with EPERM, so they fail.
    const echo = run({ retain: TRUE_SET }, ['/bin/busybox', 'echo', 'hi']);
    assert.notEqual(echo.status, 0);
    assert.equal(echo.stdout, '');
    assert.notEqual(run({ retain: TRUE_SET }, ['/bin/busybox', 'ls', '/']).status, 0);
    // With write retained, echo works.
    const echo2 = run({ retain: [...TRUE_SET, 'write'] }, ['/bin/busybox', 'echo', 'hi']);
    assert.equal(echo2.status, 0, echo2.stderr);
    assert.equal(echo2.stdout, 'hi\n');
    // Without execve nothing starts: the loader's execv is refused.
    const noExec = run({ retain: TRUE_SET.filter((s) => s !== 'execve') }, ['/bin/busybox', 'true']);
    assert.equal(noExec.status, 126);
  });

  test('a syscall from another ABI kills the process', () => {
    // A filter compiled for aarch64 refuses every x86_64 syscall, starting with the execve.
    const r = compileSeccomp({}, 'aarch64');
    assert.ok(r.isOk());
    const f = join(dir, 'aarch64.bpf');
    writeFileSync(f, r.value);
    const killed = spawnSync(loader, [f, '/bin/busybox', 'true']);
    assert.equal(killed.signal, 'SIGSYS');
    // i386 int 0x80 from a 64-bit process (if the kernel has IA32 emulation).
    const base = run(null, ['/usr/bin/python3', '-c', PY_INT80]);
    if (base.stdout.trim() !== 'same') return;
    const r2 = run({}, ['/usr/bin/python3', '-c', PY_INT80]);
    assert.equal(r2.signal, 'SIGSYS');
  });
});
