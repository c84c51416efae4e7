// Rules across fields, which a schema cannot say: names that must be unique, references that must
// resolve, keys that exclude each other or only mean something with another key's value.
import { closest, didYouMean, Report } from './report';
import { isPinned } from './formats';
import { K_ARRAY, K_BOOLEAN, K_INTEGER, K_STRING, K_TABLE, Tree } from './tree';

const SENSITIVE: StaticArray<string> = ['/proc', '/sys', '/dev', '/etc'];

export class CrossRules {
  constructor(public tree: Tree, public report: Report) {}

  run(root: i32): void {
    const apps = this.tablesOf(root, 'app');
    const volumes = this.tablesOf(root, 'volume');
    const volumeNames = this.uniqueNames(volumes, 'volume');
    this.uniqueNames(apps, 'app');
    for (let i = 0; i < volumes.length; i++) this.volume(volumes[i]);
    for (let i = 0; i < apps.length; i++) this.app(apps[i], volumeNames);
    this.stage1(root);
    this.network(root);
    this.ports(root);
    this.after(root);
  }

  /** The tables of the array of tables `name` under table t. */
  private tablesOf(t: i32, name: string): Array<i32> {
    const out = new Array<i32>();
    const a = this.tree.child(t, name);
    if (a < 0 || this.tree.kind(a) != K_ARRAY) return out;
    for (let c = this.tree.firstChild[a]; c >= 0; c = this.tree.nextSibling[c]) if (this.tree.kind(c) == K_TABLE) out.push(c);
    return out;
  }

  private stringOf(t: i32, key: string): string | null {
    const c = t < 0 ? -1 : this.tree.child(t, key);
    return c >= 0 && this.tree.kind(c) == K_STRING ? this.tree.str(c) : null;
  }

  private table(t: i32, key: string): i32 {
    const c = t < 0 ? -1 : this.tree.child(t, key);
    return c >= 0 && this.tree.kind(c) == K_TABLE ? c : -1;
  }

  private isTrue(t: i32, key: string): bool {
    const c = this.tree.child(t, key);
    return c >= 0 && this.tree.kind(c) == K_BOOLEAN && this.tree.bool(c);
  }

  /** Reports repeated `name`s; returns the names, in order, for references. */
  private uniqueNames(tables: Array<i32>, what: string): StaticArray<string> {
    const names = new StaticArray<string>(tables.length);
    for (let i = 0; i < tables.length; i++) {
      const n = this.tree.child(tables[i], 'name');
      const name = this.stringOf(tables[i], 'name');
      names[i] = name === null ? '' : name;
      if (name === null) continue;
      for (let j = 0; j < i; j++) {
        if (names[j] != name) continue;
        this.report.error('TSPOD_L_DUPLICATE_NAME', `another ${what} is already named "${name}": ${what} names must be unique in the pod; rename one.`, this.tree.valueRange(n));
        break;
      }
    }
    return names;
  }

  private volume(v: i32): void {
    const kind = this.stringOf(v, 'kind');
    if (kind === null) return;
    const only = new Map<string, string>();
    only.set('source', 'host');
    only.set('recursive', 'host');
    only.set('allow_sensitive', 'host');
    only.set('mode', 'empty');
    only.set('uid', 'empty');
    only.set('gid', 'empty');
    only.set('size', 'tmpfs');
    for (let c = this.tree.firstChild[v]; c >= 0; c = this.tree.nextSibling[c]) {
      const key = this.tree.key(c);
      if (only.has(key) && only.get(key) != kind) {
        this.report.warning('TSPOD_L_IGNORED_KEY', `"${key}" only applies to volumes of kind "${only.get(key)}"; this one is "${kind}": remove it or change the kind.`, this.tree.keyRange(c));
      }
    }
    if (kind != 'host') return;
    const source = this.stringOf(v, 'source');
    if (source === null) {
      if (this.tree.child(v, 'source') < 0) this.report.error('TSPOD_L_MISSING_KEY', 'a volume of kind "host" needs "source", the host directory to mount: add it.', this.tree.keyRange(v));
      return;
    }
    if (isSensitive(source) && !this.isTrue(v, 'allow_sensitive')) {
      this.report.warning('TSPOD_L_SENSITIVE_HOST_PATH', `mounting the host's "${source}" into a pod exposes the host: mount a narrower directory, or set allow_sensitive = true to acknowledge it.`, this.tree.valueRange(this.tree.child(v, 'source')));
    }
  }

  private app(a: i32, volumeNames: StaticArray<string>): void {
    const image = this.tree.child(a, 'image');
    if (image >= 0 && this.tree.kind(image) == K_STRING && this.tree.str(image).length > 0 && !isPinned(this.tree.str(image))) {
      this.report.info('TSPOD_L_UNPINNED_IMAGE', `"${this.tree.str(image)}" is not pinned: the pod runs whatever it names when fetched; pin an image ID (sha512-...) or a digest (@sha256:...) for reproducible pods.`, this.tree.valueRange(image));
    }
    const mounts = this.tablesOf(a, 'mount');
    for (let i = 0; i < mounts.length; i++) this.mount(mounts[i], volumeNames);
    const security = this.table(a, 'security');
    this.exclusive(this.table(security, 'capabilities'), 'capabilities');
    this.exclusive(this.table(security, 'seccomp'), 'seccomp');
    this.health(this.table(a, 'health'));
  }

  private mount(m: i32, volumeNames: StaticArray<string>): void {
    const name = this.stringOf(m, 'volume');
    if (name === null) return;
    for (let i = 0; i < volumeNames.length; i++) if (volumeNames[i] == name) return;
    const hint = didYouMean(closest(name, volumeNames, 0, volumeNames.length));
    this.report.error('TSPOD_L_UNKNOWN_VOLUME', `no [[volume]] is named "${name}".${hint} Add the volume or fix the name.`, this.tree.valueRange(this.tree.child(m, 'volume')));
  }

  private exclusive(t: i32, what: string): void {
    if (t < 0) return;
    const retain = this.tree.child(t, 'retain');
    const remove = this.tree.child(t, 'remove');
    if (retain < 0 || remove < 0) return;
    const second = retain > remove ? retain : remove;
    this.report.error('TSPOD_L_CONFLICT', `${what} has both "retain" and "remove": they exclude each other; keep one (retain lists what stays, remove what goes).`, this.tree.keyRange(second));
  }

  private health(h: i32): void {
    if (h < 0) return;
    const exec = this.tree.child(h, 'exec');
    const http = this.tree.child(h, 'http');
    if (exec >= 0 && http >= 0) {
      this.report.error('TSPOD_L_CONFLICT', 'a health check is either "exec" or "http", not both: keep one.', this.tree.keyRange(exec > http ? exec : http));
    } else if (exec < 0 && http < 0) {
      this.report.error('TSPOD_L_MISSING_KEY', 'the health check needs "exec" (a command) or "http" (a URL): add one.', this.tree.keyRange(h));
    }
  }

  private stage1(root: i32): void {
    const kvm = this.tree.child(root, 'kvm');
    const stage1 = this.stringOf(root, 'stage1');
    if (kvm >= 0 && (stage1 === null || stage1 != 'kvm')) {
      this.report.warning('TSPOD_L_IGNORED_KEY', `[kvm] only applies with stage1 = "kvm"; this pod uses "${stage1 === null ? 'cgroups' : stage1}": remove it or change stage1.`, this.tree.keyRange(kvm));
    }
  }

  private network(root: i32): void {
    const net = this.table(root, 'network');
    if (net < 0) return;
    const mode = this.stringOf(net, 'mode');
    const nets = this.tree.child(net, 'nets');
    const args = this.table(net, 'net_args');
    if (mode !== null && mode != 'private') {
      if (nets >= 0) this.report.warning('TSPOD_L_IGNORED_KEY', `"nets" only applies with mode = "private"; this pod's mode is "${mode}": remove it.`, this.tree.keyRange(nets));
      return;
    }
    if (args < 0) return;
    for (let c = this.tree.firstChild[args]; c >= 0; c = this.tree.nextSibling[c]) {
      const name = this.tree.key(c);
      if (this.listHas(nets, name, 'default')) continue;
      this.report.warning('TSPOD_L_UNKNOWN_NETWORK', `net_args names "${name}", which is not in nets: the arguments would never be used; add "${name}" to nets or fix the name.`, this.tree.keyRange(c));
    }
  }

  /** Whether the string array list holds name (a missing list holds only dflt). */
  private listHas(list: i32, name: string, dflt: string): bool {
    if (list < 0 || this.tree.kind(list) != K_ARRAY) return name == dflt;
    for (let c = this.tree.firstChild[list]; c >= 0; c = this.tree.nextSibling[c]) {
      if (this.tree.kind(c) == K_STRING && this.tree.str(c) == name) return true;
    }
    return false;
  }

  private ports(root: i32): void {
    const ports = this.tablesOf(root, 'port');
    const keys = new Array<string>();
    for (let i = 0; i < ports.length; i++) {
      const hp = this.tree.child(ports[i], 'host_port');
      if (hp < 0 || this.tree.kind(hp) != K_INTEGER) {
        keys.push('');
        continue;
      }
      const proto = this.stringOf(ports[i], 'protocol');
      const ip = this.stringOf(ports[i], 'host_ip');
      const key = `${this.tree.int(hp)}/${proto === null ? 'tcp' : proto}@${ip === null ? '*' : ip}`;
      if (keys.includes(key)) {
        this.report.error('TSPOD_L_DUPLICATE_PORT', `host port ${this.tree.int(hp)}/${proto === null ? 'tcp' : proto} is forwarded twice: each host port can serve one app port; pick another.`, this.tree.valueRange(hp));
      }
      keys.push(key);
    }
  }

  private after(root: i32): void {
    const name = this.stringOf(root, 'name');
    const after = this.tree.child(root, 'after');
    if (name === null || after < 0 || this.tree.kind(after) != K_ARRAY) return;
    for (let c = this.tree.firstChild[after]; c >= 0; c = this.tree.nextSibling[c]) {
      if (this.tree.kind(c) == K_STRING && this.tree.str(c) == name) {
        this.report.error('TSPOD_L_SELF_REFERENCE', `the pod "${name}" cannot start after itself: remove it from after.`, this.tree.valueRange(c));
      }
    }
  }
}

function isSensitive(path: string): bool {
  let p = path;
  while (p.length > 1 && p.endsWith('/')) p = p.substring(0, p.length - 1);
  if (p == '/') return true;
  for (let i = 0; i < SENSITIVE.length; i++) if (p == SENSITIVE[i] || p.startsWith(SENSITIVE[i] + '/')) return true;
  return false;
}
