// Diagnostics as the core returns them, and the "did you mean" that unknown names get.
import { Range } from './tree';

export const SEV_ERROR: i32 = 1;
export const SEV_WARNING: i32 = 2;
export const SEV_INFO: i32 = 3;

export class Diagnostic {
  constructor(public severity: i32, public rule: string, public message: string, public range: Range) {}
}

/** Bounded so a hostile file cannot make the output unbounded; the host says when it was cut. */
export const MAX_DIAGNOSTICS: i32 = 1000;

export class Report {
  items: Array<Diagnostic> = new Array<Diagnostic>();
  truncated: bool = false;

  add(severity: i32, rule: string, message: string, range: Range): void {
    if (this.items.length >= MAX_DIAGNOSTICS) {
      this.truncated = true;
      return;
    }
    this.items.push(new Diagnostic(severity, rule, message, range));
  }

  error(rule: string, message: string, range: Range): void {
    this.add(SEV_ERROR, rule, message, range);
  }

  warning(rule: string, message: string, range: Range): void {
    this.add(SEV_WARNING, rule, message, range);
  }

  info(rule: string, message: string, range: Range): void {
    this.add(SEV_INFO, rule, message, range);
  }
}

/** Edit distance counting a swap of two neighbours as one edit (typos like "nmae"); capped. */
export function distance(a: string, b: string): i32 {
  const n = a.length;
  const m = b.length;
  if (n > 64 || m > 64) return 1000;
  const w = m + 1;
  const d = new StaticArray<i32>((n + 1) * w);
  for (let i = 0; i <= n; i++) d[i * w] = i;
  for (let j = 0; j <= m; j++) d[j] = j;
  for (let i = 1; i <= n; i++) {
    const ca = a.charCodeAt(i - 1);
    for (let j = 1; j <= m; j++) {
      const cb = b.charCodeAt(j - 1);
      const cost = ca == cb ? 0 : 1;
      let v = min(min(d[(i - 1) * w + j] + 1, d[i * w + j - 1] + 1), d[(i - 1) * w + j - 1] + cost);
      if (i > 1 && j > 1 && ca == b.charCodeAt(j - 2) && a.charCodeAt(i - 2) == cb) v = min(v, d[(i - 2) * w + j - 2] + 1);
      d[i * w + j] = v;
    }
  }
  return d[n * w + m];
}

/** The closest candidate within a third of the name's length (at least 1, at most 3 edits), or ''. */
export function closest(name: string, candidates: StaticArray<string>, start: i32, count: i32): string {
  let best = '';
  let bestD = min(3, max(1, name.length / 3)) + 1;
  const lower = name.toLowerCase();
  for (let i = start; i < start + count; i++) {
    const c = candidates[i];
    const d = distance(lower, c.toLowerCase());
    if (d < bestD) {
      bestD = d;
      best = c;
    }
  }
  return best;
}

export function didYouMean(suggestion: string): string {
  return suggestion.length > 0 ? ` Did you mean "${suggestion}"?` : '';
}
