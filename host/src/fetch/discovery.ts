// appc meta discovery (appc.md §5, rkt.md §4): for an image name `host/a/b`, GET
// `https://host/a/b?ac-discovery=1` and read its
//   <meta name="ac-discovery" content="PREFIX URL-TEMPLATE">
//   <meta name="ac-discovery-pubkeys" content="PREFIX URL">
// tags; a tag applies when PREFIX is a prefix of the name (longest prefix first). Templates render
// {name}, {version} (default "latest"), {os}, {arch}, any other label, and {ext} = aci | aci.asc; a
// template left with an unrendered {...} is skipped (as the Go implementation does). On a 4xx or a
// page with no usable tag, the name is walked up (`host/a/b` → `host/a` → `host`); redirects are
// followed; plain http is tried after https only with insecure.http. Other failures (network,
// TLS, 5xx) stop the walk: the parent paths live on the same host and would fail the same way.
import { ResultAsync, ok, err, type Result } from '../result.js';
import { ErrorCodes, tspodError, type TspodError } from '../errors.js';
import { fetchText, statusFailureError, type InsecureFetch, type TextResponse } from './http.js';

export interface DiscoveryOptions {
  readonly insecure: InsecureFetch;
  /** An extra trusted CA (PEM). */
  readonly ca?: Buffer;
  /** Overrides the port of the discovery URLs (actool's --port). */
  readonly port?: number;
  /** What ends the walk: image endpoints (default) or public keys (`trust --prefix`). */
  readonly want?: 'aci' | 'pubkeys';
  readonly signal?: AbortSignal;
}

export interface DiscoveredEndpoints {
  /** Image URLs, best (longest prefix) first; aci[i] pairs with asc[i]. */
  readonly aci: string[];
  /** Detached signature URLs ({ext} = aci.asc). */
  readonly asc: string[];
  /** Public key URLs from ac-discovery-pubkeys, longest prefix first. */
  readonly pubkeys: string[];
}

/** One discovery tag of a page. */
export interface DiscoveryTag {
  readonly kind: 'ac-discovery' | 'ac-discovery-pubkeys';
  readonly prefix: string;
  /** The URL template (ac-discovery) or key URL (ac-discovery-pubkeys). */
  readonly value: string;
}

/** appc's AC identifier: lower-case alphanumerics separated by single `-._~/`. */
const AC_IDENTIFIER = /^[a-z0-9]+(?:[-._~/][a-z0-9]+)*$/;

// ---------------------------------------------------------------------------------------------
// A tolerant <meta> scanner: any attribute order, double/single/no quotes, `/>`, upper case,
// character references in values, comments and script/style bodies ignored.

const NAMED_ENTITIES: Record<string, string> = { amp: '&', lt: '<', gt: '>', quot: '"', apos: "'", nbsp: '\u00a0' };

function decodeEntities(s: string): string {
  return s.replace(/&(#x[0-9a-f]+|#[0-9]+|[a-z]+);/gi, (whole, ref: string) => {
    if (ref[0] === '#') {
      const cp = ref[1] === 'x' || ref[1] === 'X' ? parseInt(ref.slice(2), 16) : parseInt(ref.slice(1), 10);
      return Number.isInteger(cp) && cp > 0 && cp <= 0x10ffff ? String.fromCodePoint(cp) : whole;
    }
    return NAMED_ENTITIES[ref.toLowerCase()] ?? whole;
  });
}

function isSpace(c: string | undefined): boolean {
  return c === ' ' || c === '\t' || c === '\n' || c === '\r' || c === '\f';
}

/** Attributes of the tag whose attribute list starts at `i`; returns them and the index after `>`. */
function readAttributes(html: string, i: number): { attrs: Map<string, string>; end: number } {
  const attrs = new Map<string, string>();
  const n = html.length;
  for (;;) {
    while (i < n && (isSpace(html[i]) || html[i] === '/')) i++;
    if (i >= n) return { attrs, end: n };
    if (html[i] === '>') return { attrs, end: i + 1 };
    const nameStart = i;
    while (i < n && !isSpace(html[i]) && html[i] !== '/' && html[i] !== '>' && html[i] !== '=') i++;
    const name = html.slice(nameStart, i).toLowerCase();
    if (i === nameStart) {
      i++; // a stray '=': skip it
      continue;
    }
    while (i < n && isSpace(html[i])) i++;
    let value = '';
    if (html[i] === '=') {
      i++;
      while (i < n && isSpace(html[i])) i++;
      const q = html[i];
      if (q === '"' || q === "'") {
        const close = html.indexOf(q, i + 1);
        const stop = close < 0 ? n : close;
        value = html.slice(i + 1, stop);
        i = stop + 1;
      } else {
        const start = i;
        while (i < n && !isSpace(html[i]) && html[i] !== '>') i++;
        value = html.slice(start, i);
      }
    }
    // As in HTML, the first of duplicate attributes wins.
    if (!attrs.has(name)) attrs.set(name, decodeEntities(value));
  }
}

/** Every <meta> tag's attributes (names lower-cased, values decoded), in document order. */
export function parseMetaTags(html: string): Array<Map<string, string>> {
  const text = html.replace(/<!--[\s\S]*?(?:-->|$)/g, '').replace(/<(script|style)\b[\s\S]*?(?:<\/\1\s*>|$)/gi, '');
  const tags: Array<Map<string, string>> = [];
  const re = /<meta(?=[\s/>])/gi;
  for (let m = re.exec(text); m; m = re.exec(text)) {
    const { attrs, end } = readAttributes(text, m.index + m[0].length);
    tags.push(attrs);
    re.lastIndex = end;
  }
  return tags;
}

/** The ac-discovery and ac-discovery-pubkeys tags of a page, in document order. */
export function discoveryTags(html: string): DiscoveryTag[] {
  const out: DiscoveryTag[] = [];
  for (const attrs of parseMetaTags(html)) {
    const kind = attrs.get('name')?.trim().toLowerCase();
    if (kind !== 'ac-discovery' && kind !== 'ac-discovery-pubkeys') continue;
    const fields = (attrs.get('content') ?? '').trim().split(/\s+/);
    if (fields.length !== 2 || !fields[0] || !fields[1]) continue;
    out.push({ kind, prefix: fields[0], value: fields[1] });
  }
  return out;
}

// ---------------------------------------------------------------------------------------------
// Templates

const UNRENDERED = /\{[^{}]*\}/;

/** Replaces each `{key}`; undefined when any `{...}` is left (such a template is skipped). */
export function renderTemplate(template: string, vars: Record<string, string>): string | undefined {
  let s = template;
  for (const [k, v] of Object.entries(vars)) s = s.split(`{${k}}`).join(v);
  return UNRENDERED.test(s) ? undefined : s;
}

/** The endpoints a page offers for `name`: tags whose prefix matches, longest prefix first. */
export function endpointsFromPage(html: string, name: string, labels: Record<string, string>): DiscoveredEndpoints {
  const matching = discoveryTags(html)
    .filter((t) => name.startsWith(t.prefix))
    .map((t, i) => ({ t, i }))
    .sort((a, b) => b.t.prefix.length - a.t.prefix.length || a.i - b.i)
    .map(({ t }) => t);
  // Labels first, then name and version, so a label cannot override them.
  const vars: Record<string, string> = { ...labels, name, version: labels['version'] || 'latest' };
  delete vars['ext'];
  const aci: string[] = [];
  const asc: string[] = [];
  const pubkeys: string[] = [];
  for (const t of matching) {
    if (t.kind === 'ac-discovery-pubkeys') {
      if (!pubkeys.includes(t.value)) pubkeys.push(t.value);
      continue;
    }
    const image = renderTemplate(t.value, { ...vars, ext: 'aci' });
    const signature = renderTemplate(t.value, { ...vars, ext: 'aci.asc' });
    if (image === undefined || signature === undefined || aci.includes(image)) continue;
    aci.push(image);
    asc.push(signature);
  }
  return { aci, asc, pubkeys };
}

// ---------------------------------------------------------------------------------------------
// The walk

function discoveryError(name: string, why: string, hint: string): TspodError {
  return tspodError(ErrorCodes.DISCOVERY, `discover ${name}`, why, hint);
}

/** A fetch failure, re-labelled as part of discovering `name`. */
function asDiscoveryStep(e: TspodError, name: string): TspodError {
  const url = e.what.replace(/^fetch /, '');
  return { ...e, what: `discover ${name}`, why: e.why.includes(url) ? e.why : `${url}: ${e.why}` };
}

function discoveryUrl(scheme: 'https' | 'http', prefix: string, port: number | undefined): string {
  const slash = prefix.indexOf('/');
  const host = slash < 0 ? prefix : prefix.slice(0, slash);
  const path = slash < 0 ? '/' : prefix.slice(slash);
  return `${scheme}://${host}${port !== undefined ? `:${port}` : ''}${path}?ac-discovery=1`;
}

/** One prefix's page: https, then (insecure.http only) plain http when https fails or is not 2xx. */
async function fetchPage(prefix: string, opts: DiscoveryOptions): Promise<Result<TextResponse, TspodError>> {
  const common = {
    insecure: opts.insecure,
    ...(opts.ca ? { ca: opts.ca } : {}),
    ...(opts.signal ? { signal: opts.signal } : {}),
  };
  const secure = await fetchText(discoveryUrl('https', prefix, opts.port), common);
  if (secure.isOk() && secure.value.statusCode >= 200 && secure.value.statusCode < 300) return secure;
  if (!opts.insecure.http) return secure;
  const plain = await fetchText(discoveryUrl('http', prefix, opts.port), common);
  return plain;
}

async function walk(name: string, labels: Record<string, string>, opts: DiscoveryOptions): Promise<Result<DiscoveredEndpoints, TspodError>> {
  if (!AC_IDENTIFIER.test(name)) {
    return err(
      discoveryError(
        name,
        `${JSON.stringify(name)} is not an image name (lower-case letters and digits separated by - . _ ~ /)`,
        'give a name such as example.com/app, optionally with :version',
      ),
    );
  }
  const want = opts.want ?? 'aci';
  const parts = name.split('/');
  const tried: string[] = [];
  for (let end = parts.length; end >= 1; end--) {
    const prefix = parts.slice(0, end).join('/');
    const page = await fetchPage(prefix, opts);
    if (page.isErr()) return err(asDiscoveryStep(page.error, name));
    const { statusCode, url, body } = page.value;
    if (statusCode >= 400 && statusCode < 500) {
      tried.push(`${url} answered ${statusCode}`);
      continue;
    }
    if (statusCode < 200 || statusCode >= 300) return err(asDiscoveryStep(statusFailureError(statusCode, url, `fetch ${url}`), name));
    const found = endpointsFromPage(body, name, labels);
    if (want === 'aci' ? found.aci.length > 0 : found.pubkeys.length > 0) return ok(found);
    tried.push(`${url} has no ${want === 'aci' ? 'usable ac-discovery' : 'ac-discovery-pubkeys'} tag for it`);
  }
  const needs = want === 'aci' ? 'ac-discovery' : 'ac-discovery-pubkeys';
  return err(
    discoveryError(
      name,
      `no discovery endpoint matched: ${tried.join('; ')}`,
      `check the image name and its labels (version, os, arch): the server must serve <meta name="${needs}" content="PREFIX ${want === 'aci' ? 'TEMPLATE' : 'URL'}"> for a prefix of it at https://PREFIX?ac-discovery=1`,
    ),
  );
}

/**
 * appc meta discovery of `name` with `labels` (os, arch, version, …; version defaults to latest).
 * Resolves to the image, signature and key URLs, or a DISCOVERY error when nothing matched.
 */
export function discover(
  name: string,
  labels: Record<string, string>,
  opts: DiscoveryOptions,
): ResultAsync<DiscoveredEndpoints, TspodError> {
  return new ResultAsync(walk(name, labels, opts));
}
