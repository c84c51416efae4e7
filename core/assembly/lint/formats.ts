// Checks of string (and number) values whose meaning the schema names with x-tspod-format.
// Each check returns '' when the value is fine, or "RULE\tmessage": what is wrong and what to do.
import { CAPABILITIES, ERRNOS, SYSCALLS } from '../generated/lint_schema';
import { closest, didYouMean } from './report';

// Format codes, in core/gen/lint-schema.mjs's FORMATS order.
export const F_AC_NAME: i32 = 1;
export const F_MEMORY: i32 = 2;
export const F_CPU: i32 = 3;
export const F_DURATION: i32 = 4;
export const F_CAPABILITY: i32 = 5;
export const F_SYSCALL: i32 = 6;
export const F_ERRNO: i32 = 7;
export const F_SIGNAL: i32 = 8;
export const F_IMAGE: i32 = 9;
export const F_HOST_PATH: i32 = 10;
export const F_TARGET_PATH: i32 = 11;
export const F_ABS_PATH: i32 = 12;
export const F_IP: i32 = 13;
export const F_HOSTNAME: i32 = 14;
export const F_FILE_MODE: i32 = 15;
export const F_HTTP_URL: i32 = 16;
export const F_USER: i32 = 17;
export const F_AC_IDENTIFIER: i32 = 18;
export const F_SEMVER: i32 = 19;
export const F_IMAGE_ID: i32 = 20;
export const F_OCI_DIGEST: i32 = 21;
export const F_ENV_ENTRY: i32 = 22;

const I64_MAX: i64 = 0x7fffffffffffffff;
/** Quantities that do not fit in 63 bits (and durations over 100 years in ns) are refused. */
export const OVERFLOW: i64 = -2;
export const INVALID: i64 = -1;

const SIGNALS: StaticArray<string> = [
  'SIGHUP', 'SIGINT', 'SIGQUIT', 'SIGILL', 'SIGTRAP', 'SIGABRT', 'SIGBUS', 'SIGFPE', 'SIGKILL', 'SIGUSR1',
  'SIGSEGV', 'SIGUSR2', 'SIGPIPE', 'SIGALRM', 'SIGTERM', 'SIGSTKFLT', 'SIGCHLD', 'SIGCONT', 'SIGSTOP',
  'SIGTSTP', 'SIGTTIN', 'SIGTTOU', 'SIGURG', 'SIGXCPU', 'SIGXFSZ', 'SIGVTALRM', 'SIGPROF', 'SIGWINCH',
  'SIGIO', 'SIGPWR', 'SIGSYS',
];

function isDigit(c: i32): bool {
  return c >= 48 && c <= 57;
}

function isLowerAlnum(c: i32): bool {
  return (c >= 97 && c <= 122) || isDigit(c);
}

function fail(rule: string, message: string): string {
  return rule + '\t' + message;
}

function inList(s: string, list: StaticArray<string>): bool {
  for (let i = 0; i < list.length; i++) if (list[i] == s) return true;
  return false;
}

/** appc's AC name: lower-case letters and digits, separated by single -._~/ characters. */
export function checkAcName(s: string): string {
  let ok = s.length > 0 && s.length <= 255;
  for (let i = 0; ok && i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (isLowerAlnum(c)) continue;
    const sep = c == 45 || c == 46 || c == 95 || c == 126 || c == 47;
    ok = sep && i > 0 && i < s.length - 1 && isLowerAlnum(s.charCodeAt(i - 1));
  }
  if (ok) return '';
  return fail('TSPOD_L_BAD_NAME', `"${s}" is not a valid name: use 1-255 lower-case letters and digits, separated by single - . _ ~ or / characters (e.g. "web-1").`);
}

/** Digits with an optional fraction, times mult; INVALID or OVERFLOW when it cannot be. */
function scaled(num: string, mult: i64): i64 {
  const dot = num.indexOf('.');
  const whole = dot < 0 ? num : num.substring(0, dot);
  const frac = dot < 0 ? '' : num.substring(dot + 1);
  if (whole.length == 0 || (dot >= 0 && frac.length == 0) || frac.length > 9) return INVALID;
  let v: i64 = 0;
  for (let i = 0; i < whole.length; i++) {
    const c = whole.charCodeAt(i);
    if (!isDigit(c)) return INVALID;
    if (v > (I64_MAX - (c - 48)) / 10) return OVERFLOW;
    v = v * 10 + (c - 48);
  }
  if (v > I64_MAX / mult) return OVERFLOW;
  let result = v * mult;
  let f: i64 = 0;
  let scale: i64 = 1;
  for (let i = 0; i < frac.length; i++) {
    const c = frac.charCodeAt(i);
    if (!isDigit(c)) return INVALID;
    f = f * 10 + (c - 48);
    scale *= 10;
  }
  // The fraction rounds up to whole units: 1.5 of a suffix that is not divisible still fits.
  const extra = f == 0 ? 0 : (mult / scale) * f + ((mult % scale) * f + scale - 1) / scale;
  if (result > I64_MAX - extra) return OVERFLOW;
  return result + extra;
}

/** A byte quantity as Kubernetes writes it: 1000-based k M G T P E, 1024-based Ki Mi Gi Ti Pi Ei. */
export function parseMemory(s: string): i64 {
  let n = s.length;
  let mult: i64 = 1;
  const binary = n >= 2 && s.charCodeAt(n - 1) == 105; // "i"
  const unit = n >= 1 ? s.charAt(binary ? n - 2 : n - 1) : '';
  const units = 'kMGTPE';
  let power = units.indexOf(unit) + 1;
  if (unit == 'K' && binary) power = 1;
  if (power == 0 && binary) return INVALID;
  if (power > 0) {
    n -= binary ? 2 : 1;
    for (let i = 0; i < power; i++) mult *= binary ? 1024 : 1000;
  }
  return scaled(s.substring(0, n), mult);
}

/** CPU in millicores: "500m", "1.5", "2". */
export function parseCpuString(s: string): i64 {
  if (s.endsWith('m')) return s.indexOf('.') >= 0 ? INVALID : scaled(s.substring(0, s.length - 1), 1);
  return scaled(s, 1000);
}

/** A duration in milliseconds: one or more <number><unit>, units h m s ms ("1h30m", "500ms"). */
export function parseDuration(s: string): i64 {
  if (s.length == 0) return INVALID;
  let total: i64 = 0;
  let i = 0;
  while (i < s.length) {
    const start = i;
    while (i < s.length && isDigit(s.charCodeAt(i))) i++;
    if (i == start || i - start > 12) return i == start ? INVALID : OVERFLOW;
    const n = I64.parseInt(s.substring(start, i));
    let mult: i64 = 0;
    if (s.startsWith('ms', i)) {
      mult = 1;
      i += 2;
    } else if (i < s.length) {
      const u = s.charCodeAt(i);
      mult = u == 104 ? 3600000 : u == 109 ? 60000 : u == 115 ? 1000 : 0;
      i++;
    }
    if (mult == 0) return INVALID;
    total += n * mult;
    if (total > 3155760000000) return OVERFLOW; // 100 years
  }
  return total;
}

function quantityMessage(value: i64, what: string, example: string): string {
  if (value == OVERFLOW) return fail('TSPOD_L_OUT_OF_RANGE', `${what} is too large to be meant.`);
  return fail('TSPOD_L_BAD_QUANTITY', `${what} cannot be parsed: write it like ${example}.`);
}

export function checkMemory(s: string): string {
  const v = parseMemory(s);
  if (v < 0) return quantityMessage(v, `"${s}"`, '"256M", "1Gi", "512Ki" or a number of bytes');
  if (v == 0) return fail('TSPOD_L_OUT_OF_RANGE', `"${s}" is zero bytes: give a positive size.`);
  return '';
}

export function checkCpu(millis: i64, shown: string): string {
  if (millis < 0) return quantityMessage(millis, shown, '"500m" (millicores), "1.5" or 2');
  if (millis == 0 || millis > 1024000) return fail('TSPOD_L_OUT_OF_RANGE', `${shown} is not a usable CPU limit: give more than 0 and at most 1024 cores.`);
  return '';
}

export function checkDuration(s: string): string {
  const v = parseDuration(s);
  if (v < 0) return quantityMessage(v, `"${s}"`, '"500ms", "10s", "5m" or "1h30m"');
  return '';
}

function checkNamed(s: string, list: StaticArray<string>, rule: string, what: string, example: string): string {
  if (inList(s, list)) return '';
  return fail(rule, `"${s}" is not a known ${what}.${didYouMean(closest(s, list, 0, list.length))} Names look like ${example}.`);
}

function segments(path: string): Array<string> {
  return path.split('/');
}

function checkPath(s: string, what: string): string {
  if (!s.startsWith('/')) return fail('TSPOD_L_BAD_PATH', `${what} "${s}" is not absolute: start it with /.`);
  if (s.indexOf('\0') >= 0) return fail('TSPOD_L_BAD_PATH', `${what} contains a NUL character.`);
  const parts = segments(s);
  for (let i = 0; i < parts.length; i++) {
    if (parts[i] == '..') return fail('TSPOD_L_PATH_TRAVERSAL', `${what} "${s}" contains "..": a path must not climb out of its root; write the normalized path.`);
  }
  return '';
}

function checkIp(s: string): string {
  return isIPv4(s) || isIPv6(s) ? '' : fail('TSPOD_L_BAD_ADDRESS', `"${s}" is not an IPv4 or IPv6 address (e.g. "198.18.0.1" or "fd00::1").`);
}

function isIPv4(s: string): bool {
  const parts = s.split('.');
  if (parts.length != 4) return false;
  for (let i = 0; i < 4; i++) {
    const p = parts[i];
    if (p.length == 0 || p.length > 3 || (p.length > 1 && p.charCodeAt(0) == 48)) return false;
    for (let j = 0; j < p.length; j++) if (!isDigit(p.charCodeAt(j))) return false;
    if (I32.parseInt(p) > 255) return false;
  }
  return true;
}

function isHexGroup(p: string): bool {
  if (p.length == 0 || p.length > 4) return false;
  for (let j = 0; j < p.length; j++) {
    const c = p.charCodeAt(j);
    if (!(isDigit(c) || (c >= 97 && c <= 102) || (c >= 65 && c <= 70))) return false;
  }
  return true;
}

function isIPv6(s: string): bool {
  const dbl = s.indexOf('::');
  if (dbl >= 0 && s.indexOf('::', dbl + 1) >= 0) return false;
  const halves = dbl >= 0 ? [s.substring(0, dbl), s.substring(dbl + 2)] : [s];
  let groups = 0;
  for (let h = 0; h < halves.length; h++) {
    if (halves[h].length == 0) continue;
    const parts = halves[h].split(':');
    for (let i = 0; i < parts.length; i++) {
      const last = h == halves.length - 1 && i == parts.length - 1;
      if (last && parts[i].indexOf('.') >= 0) {
        if (!isIPv4(parts[i])) return false;
        groups += 2;
      } else if (isHexGroup(parts[i])) groups++;
      else return false;
    }
  }
  return dbl >= 0 ? groups < 8 : groups == 8;
}

function checkHostname(s: string): string {
  let ok = s.length > 0 && s.length <= 253;
  const labels = s.split('.');
  for (let i = 0; ok && i < labels.length; i++) {
    const l = labels[i];
    ok = l.length > 0 && l.length <= 63 && l.charCodeAt(0) != 45 && l.charCodeAt(l.length - 1) != 45;
    for (let j = 0; ok && j < l.length; j++) {
      const c = l.charCodeAt(j);
      ok = isLowerAlnum(c) || (c >= 65 && c <= 90) || c == 45;
    }
  }
  return ok ? '' : fail('TSPOD_L_BAD_HOSTNAME', `"${s}" is not a valid host name: use dot-separated labels of letters, digits and - (1-63 characters each, not starting or ending with -).`);
}

function checkFileMode(s: string): string {
  let ok = s.length >= 3 && s.length <= 5;
  for (let i = 0; ok && i < s.length; i++) {
    const c = s.charCodeAt(i);
    ok = c >= 48 && c <= 55;
  }
  if (ok && s.length == 5 && s.charCodeAt(0) != 48) ok = false;
  return ok ? '' : fail('TSPOD_L_BAD_MODE', `"${s}" is not an octal file mode: write it like "0755" (a string, at most 07777).`);
}

/** Pinned images name an exact image: an image ID, or a digest. */
export function isPinned(s: string): bool {
  if (s.startsWith('sha512-') || s.startsWith('sha256-')) return true;
  const at = s.indexOf('@sha256:');
  return at >= 0 && s.length - (at + 8) == 64;
}

function checkImage(s: string): string {
  if (s.length == 0) return fail('TSPOD_L_BAD_IMAGE', 'image is empty: name the image to run (e.g. "example.com/app:1.0" or "docker://busybox:1.36").');
  if (s.indexOf(' ') >= 0) return fail('TSPOD_L_BAD_IMAGE', `"${s}" contains a space: an image reference has none.`);
  return '';
}

/** Checks the string s against format; '' when it passes. */
export function checkStringFormat(format: i32, s: string): string {
  switch (format) {
    case F_AC_NAME: return checkAcName(s);
    case F_MEMORY: return checkMemory(s);
    case F_CPU: return checkCpu(parseCpuString(s), `"${s}"`);
    case F_DURATION: return checkDuration(s);
    case F_CAPABILITY: return checkNamed(s, CAPABILITIES, 'TSPOD_L_UNKNOWN_CAPABILITY', 'Linux capability', '"CAP_NET_BIND_SERVICE"');
    case F_SYSCALL: return checkNamed(s, SYSCALLS, 'TSPOD_L_UNKNOWN_SYSCALL', 'system call', '"reboot" or "kexec_load"');
    case F_ERRNO: return checkNamed(s, ERRNOS, 'TSPOD_L_UNKNOWN_ERRNO', 'errno name', '"EPERM" or "ENOSYS"');
    case F_SIGNAL: return checkNamed(s, SIGNALS, 'TSPOD_L_UNKNOWN_SIGNAL', 'signal', '"SIGTERM" or "SIGINT"');
    case F_IMAGE: return checkImage(s);
    case F_HOST_PATH: return checkPath(s, 'the host path');
    case F_TARGET_PATH: return checkPath(s, 'the target');
    case F_ABS_PATH: return checkPath(s, 'the path');
    case F_IP: return checkIp(s);
    case F_HOSTNAME: return checkHostname(s);
    case F_FILE_MODE: return checkFileMode(s);
    case F_HTTP_URL: return s.startsWith('http://') && s.length > 7 ? '' : fail('TSPOD_L_BAD_URL', `"${s}" is not an http:// URL (e.g. "http://127.0.0.1:8080/healthz").`);
    case F_USER: return s.length > 0 ? '' : fail('TSPOD_L_BAD_USER', 'the user or group is empty: give a name or a number.');
    case F_AC_IDENTIFIER: return checkAcName(s).length == 0 ? '' : fail('TSPOD_L_BAD_NAME', `"${s}" is not an AC identifier: use lower-case letters and digits separated by single - . _ ~ or / (e.g. "example.com/app").`);
    case F_SEMVER: return isSemver(s) ? '' : fail('TSPOD_L_BAD_VERSION', `"${s}" is not a semantic version (MAJOR.MINOR.PATCH, e.g. "0.8.11").`);
    case F_IMAGE_ID: return isImageId(s) ? '' : fail('TSPOD_L_BAD_DIGEST', `"${s}" is not an image ID: write it as sha512- followed by lower-case hex digits.`);
    case F_OCI_DIGEST: return isOciDigest(s) ? '' : fail('TSPOD_L_BAD_DIGEST', `"${s}" is not a digest: write it as sha256: followed by 64 lower-case hex digits.`);
    case F_ENV_ENTRY: return s.indexOf('=') > 0 ? '' : fail('TSPOD_L_BAD_VALUE', `"${s}" is not an environment entry: write it as NAME=value.`);
    default: return '';
  }
}

/** Checks a number against format (cpu cores, numeric user or group IDs). */
export function checkNumberFormat(format: i32, value: f64, shown: string): string {
  if (format == F_CPU) return checkCpu(value > 0 && value <= 1.0e7 ? <i64>Math.round(value * 1000) : value <= 0 ? 0 : 2000000000, shown);
  if (format == F_USER && (value < 0 || value > 4294967294 || value != Math.floor(value))) {
    return fail('TSPOD_L_OUT_OF_RANGE', `${shown} is not a user or group ID: use 0 to 4294967294.`);
  }
  return '';
}

function isHex(s: string, from: i32): bool {
  if (from >= s.length) return false;
  for (let i = from; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (!(isDigit(c) || (c >= 97 && c <= 102))) return false;
  }
  return true;
}

function isImageId(s: string): bool {
  return s.startsWith('sha512-') && s.length <= 7 + 128 && isHex(s, 7);
}

function isOciDigest(s: string): bool {
  if (s.startsWith('sha256:')) return s.length == 7 + 64 && isHex(s, 7);
  if (s.startsWith('sha512:')) return s.length == 7 + 128 && isHex(s, 7);
  return false;
}

function isNumericPart(p: string): bool {
  if (p.length == 0 || (p.length > 1 && p.charCodeAt(0) == 48)) return false;
  for (let i = 0; i < p.length; i++) if (!isDigit(p.charCodeAt(i))) return false;
  return true;
}

/** SemVer 2.0: MAJOR.MINOR.PATCH, numbers without leading zeros, optional -pre and +build. */
function isSemver(s: string): bool {
  let core = s;
  const plus = core.indexOf('+');
  if (plus >= 0) core = core.substring(0, plus);
  const dash = core.indexOf('-');
  if (dash >= 0) core = core.substring(0, dash);
  const parts = core.split('.');
  if (parts.length != 3) return false;
  for (let i = 0; i < 3; i++) if (!isNumericPart(parts[i])) return false;
  return true;
}
