// appc value types (spec types.md 0.8.11, /work/shared/reference/appc.md §4): AC Identifier,
// AC Name, SemVer, the well-known labels and their os/arch pairs, and image IDs.
// Every check returns `undefined` when the value is valid, or a sentence saying what is wrong,
// so manifest validation can attach it to a JSON pointer.

/** AC Identifier as the spec defines it: lower-case alphanumerics joined by single `-._~/`. */
export const AC_IDENTIFIER_RE = /^[a-z0-9]+([-._~/][a-z0-9]+)*$/;
/** AC Name: lower-case alphanumerics joined by single `-`. */
export const AC_NAME_RE = /^[a-z0-9]+(-[a-z0-9]+)*$/;

const AC_IDENTIFIER_CHARS = /^[a-z0-9\-._~/]*$/;
const AC_NAME_CHARS = /^[a-z0-9-]*$/;

/**
 * Why `s` is not an AC Identifier, or undefined. The first three checks are actool's (same
 * verdicts); the last is the spec's regular expression, which actool does not apply: it lets
 * doubled separators such as `a..b` through, tspod does not.
 */
export function acIdentifierProblem(s: string): string | undefined {
  if (s.length === 0) return 'an AC Identifier cannot be empty';
  if (!AC_IDENTIFIER_CHARS.test(s)) {
    return `${JSON.stringify(s)} is not an AC Identifier: only lower-case letters, digits and "-._~/" are allowed`;
  }
  if (!/^[a-z0-9]/.test(s) || !/[a-z0-9]$/.test(s)) {
    return `${JSON.stringify(s)} is not an AC Identifier: it must start and end with a lower-case letter or digit`;
  }
  if (!AC_IDENTIFIER_RE.test(s)) {
    return `${JSON.stringify(s)} is not an AC Identifier: separators "-._~/" must stand alone between letters or digits`;
  }
  return undefined;
}

export function isAcIdentifier(s: string): boolean {
  return AC_IDENTIFIER_RE.test(s);
}

/** Why `s` is not an AC Name, or undefined (same split as acIdentifierProblem). */
export function acNameProblem(s: string): string | undefined {
  if (s.length === 0) return 'an AC Name cannot be empty';
  if (!AC_NAME_CHARS.test(s)) {
    return `${JSON.stringify(s)} is not an AC Name: only lower-case letters, digits and "-" are allowed`;
  }
  if (s.startsWith('-') || s.endsWith('-')) {
    return `${JSON.stringify(s)} is not an AC Name: it must start and end with a lower-case letter or digit`;
  }
  if (!AC_NAME_RE.test(s)) return `${JSON.stringify(s)} is not an AC Name: "-" must stand alone between letters or digits`;
  return undefined;
}

export function isAcName(s: string): boolean {
  return AC_NAME_RE.test(s);
}

// SemVer 2.0.0 (semver.org's own expression): no leading zeros, dot-separated pre-release and
// build identifiers.
const SEMVER_RE = new RegExp(
  '^(0|[1-9]\\d*)\\.(0|[1-9]\\d*)\\.(0|[1-9]\\d*)' +
    '(?:-((?:0|[1-9]\\d*|\\d*[a-zA-Z-][0-9a-zA-Z-]*)(?:\\.(?:0|[1-9]\\d*|\\d*[a-zA-Z-][0-9a-zA-Z-]*))*))?' +
    '(?:\\+([0-9a-zA-Z-]+(?:\\.[0-9a-zA-Z-]+)*))?$',
);
const INT64_MAX = (1n << 63n) - 1n;

export interface SemVer {
  readonly major: bigint;
  readonly minor: bigint;
  readonly patch: bigint;
  readonly preRelease: string;
  readonly build: string;
}

export function parseSemVer(s: string): SemVer | undefined {
  const m = SEMVER_RE.exec(s);
  if (!m) return undefined;
  const [major, minor, patch] = [BigInt(m[1]!), BigInt(m[2]!), BigInt(m[3]!)];
  if (major > INT64_MAX || minor > INT64_MAX || patch > INT64_MAX) return undefined;
  return { major, minor, patch, preRelease: m[4] ?? '', build: m[5] ?? '' };
}

/**
 * Why `s` is not an AC Version (SemVer 2.0.0, not the zero version), or undefined. actool
 * refuses `1.0` and `0.0.0` too; it lets leading zeros (`01.2.3`) through, the spec does not.
 */
export function semverProblem(s: string): string | undefined {
  const v = parseSemVer(s);
  if (!v) return `${JSON.stringify(s)} is not a SemVer 2.0.0 version (MAJOR.MINOR.PATCH, e.g. "0.8.11")`;
  if (v.major === 0n && v.minor === 0n && v.patch === 0n && v.preRelease === '' && v.build === '') {
    return 'the version cannot be 0.0.0';
  }
  return undefined;
}

/** Labels the spec gives a meaning to; any other AC Identifier may be used too. */
export const WELL_KNOWN_LABELS = ['version', 'os', 'arch'] as const;
export type WellKnownLabel = (typeof WELL_KNOWN_LABELS)[number];

/**
 * os → arch pairs appc 0.8.11 accepts (Go's `types.ValidOSArch`; the spec text lists fewer).
 * Order kept as actool prints it in its errors.
 */
export const VALID_OS_ARCH: Readonly<Record<string, readonly string[]>> = {
  linux: ['amd64', 'i386', 'aarch64', 'aarch64_be', 'armv6l', 'armv7l', 'armv7b', 'ppc64', 'ppc64le', 's390x'],
  freebsd: ['amd64', 'i386', 'arm'],
  darwin: ['x86_64', 'i386'],
};

/**
 * Why an os/arch label pair is refused, or undefined: an unknown os is refused; arch is checked
 * only when os is given (the spec: "arch is meaningful only if os is provided").
 */
export function osArchProblem(os: string | undefined, arch: string | undefined): string | undefined {
  if (os === undefined) return undefined;
  const archs = VALID_OS_ARCH[os];
  if (!archs) return `unknown os ${JSON.stringify(os)} (one of: ${Object.keys(VALID_OS_ARCH).sort().join(', ')})`;
  if (arch !== undefined && !archs.includes(arch)) {
    return `unknown arch ${JSON.stringify(arch)} for os ${os} (one of: ${archs.join(', ')})`;
  }
  return undefined;
}

export interface AppcOsArch {
  readonly os: string;
  readonly arch: string;
}

export interface HostDescription {
  /** Node's process.platform spelling. */
  readonly platform?: string;
  /** Node's process.arch spelling. */
  readonly arch?: string;
  /** For arm: the ARM architecture version Node was built for ("6", "7"). */
  readonly armVersion?: string;
  readonly endianness?: 'LE' | 'BE';
}

/**
 * The running host in appc spelling (x64 → amd64, arm64 → aarch64, ia32 → i386, arm → armv6l or
 * armv7l, ppc64 → ppc64 or ppc64le by endianness; darwin x64 → x86_64), or undefined when appc
 * has no name for it (darwin/arm64, windows, ...). Pass `host` to ask about another machine.
 */
export function hostAppcOsArch(host: HostDescription = {}): AppcOsArch | undefined {
  const platform = host.platform ?? process.platform;
  const arch = host.arch ?? process.arch;
  const endianness = host.endianness ?? (new Uint8Array(new Uint16Array([1]).buffer)[0] === 1 ? 'LE' : 'BE');
  const armVersion = host.armVersion ?? String((process.config.variables as Record<string, unknown>)['arm_version'] ?? '');
  let mapped: string | undefined;
  if (platform === 'linux') {
    mapped = {
      x64: 'amd64',
      ia32: 'i386',
      arm64: endianness === 'BE' ? 'aarch64_be' : 'aarch64',
      arm: armVersion === '6' ? 'armv6l' : endianness === 'BE' ? 'armv7b' : 'armv7l',
      ppc64: endianness === 'LE' ? 'ppc64le' : 'ppc64',
      s390x: 's390x',
    }[arch];
  } else if (platform === 'freebsd') {
    mapped = { x64: 'amd64', ia32: 'i386', arm: 'arm' }[arch];
  } else if (platform === 'darwin') {
    mapped = { x64: 'x86_64', ia32: 'i386' }[arch];
  }
  return mapped === undefined ? undefined : { os: platform, arch: mapped };
}

/** A full image ID: `sha512-` and 128 lower-case hex digits. */
export const IMAGE_ID_RE = /^sha512-[0-9a-f]{128}$/;

export function isImageId(s: string): boolean {
  return IMAGE_ID_RE.test(s);
}

/** An image ID or a prefix of one (as rkt accepts on its command line): `sha512-` + 1..128 hex. */
export function isImageIdPrefix(s: string): boolean {
  return /^sha512-[0-9a-f]{1,128}$/.test(s);
}

/** `sha512-<hex>` from a hex SHA-512 digest. */
export function imageIdFromDigest(hex: string): string {
  return `sha512-${hex}`;
}

/**
 * The short form of an image ID: `sha512-` + the first 32 hex digits (what rkt's fetch printed,
 * appc's `types.ShortHash`), or 12 for tables. Shorter input is returned as it is.
 */
export function shortImageId(id: string, hexDigits: 32 | 12 = 32): string {
  const max = 'sha512-'.length + hexDigits;
  return id.length > max ? id.slice(0, max) : id;
}
