// A one-line download progress bar: bytes, speed and ETA, redrawn at most ten times a second on
// a terminal and cleared when done. Off a terminal (a pipe, a log file, CI) it writes nothing, so
// scripts and logs never see carriage returns. Library code stays silent unless asked: the caller
// passes `true` (stderr) or a stream.

/** What a download reports to; `done()` clears the line (if anything was drawn). */
export interface Progress {
  /** The total bytes now on disk (resumed bytes included). */
  update(received: number): void;
  done(): void;
}

export interface ProgressOptions {
  /** Shown at the start of the line, e.g. the file name. */
  readonly label: string;
  /** Expected final size, when the server said (Content-Length / Content-Range). */
  readonly total?: number;
  /** Bytes already there before this transfer (a resumed download). */
  readonly start?: number;
  /** false/undefined: silent; true: process.stderr; a stream: that stream. Drawn only on a TTY. */
  readonly output?: boolean | NodeJS.WritableStream;
  /** Clock in ms, for tests. */
  readonly now?: () => number;
}

/** Minimum time between two redraws. */
export const REDRAW_INTERVAL_MS = 100;
/** Speed is averaged over this window, so the ETA follows the current rate, not the whole run's. */
const SPEED_WINDOW_MS = 5000;

const SILENT: Progress = { update() {}, done() {} };

interface TtyLike {
  readonly isTTY?: boolean;
  readonly columns?: number;
}

/** A progress bar on `output` when it is a terminal; a no-op otherwise. */
export function createProgress(opts: ProgressOptions): Progress {
  const out = opts.output === true ? process.stderr : opts.output === false || opts.output === undefined ? undefined : opts.output;
  if (out === undefined || (out as unknown as TtyLike).isTTY !== true) return SILENT;
  return new TtyProgress(out, opts);
}

class TtyProgress implements Progress {
  private readonly now: () => number;
  private readonly samples: Array<{ t: number; bytes: number }> = [];
  private lastDraw = -Infinity;
  private drawn = false;
  private finished = false;
  private received: number;

  constructor(
    private readonly out: NodeJS.WritableStream,
    private readonly opts: ProgressOptions,
  ) {
    this.now = opts.now ?? Date.now;
    this.received = opts.start ?? 0;
    this.samples.push({ t: this.now(), bytes: this.received });
  }

  update(received: number): void {
    if (this.finished) return;
    this.received = received;
    const t = this.now();
    if (t - this.lastDraw < REDRAW_INTERVAL_MS) return;
    this.samples.push({ t, bytes: received });
    while (this.samples.length > 2 && t - this.samples[0]!.t > SPEED_WINDOW_MS) this.samples.shift();
    this.lastDraw = t;
    this.drawn = true;
    this.out.write(`\r${this.line(t)}\x1b[K`);
  }

  done(): void {
    if (this.finished) return;
    this.finished = true;
    if (this.drawn) this.out.write('\r\x1b[K');
  }

  /** Bytes per second over the window; undefined until there is a measurable interval. */
  private speed(t: number): number | undefined {
    const first = this.samples[0]!;
    const dt = t - first.t;
    return dt > 0 ? ((this.received - first.bytes) * 1000) / dt : undefined;
  }

  private line(t: number): string {
    const columns = (this.out as unknown as TtyLike).columns ?? 80;
    const { total } = this.opts;
    const speed = this.speed(t);
    const parts: string[] = [];
    if (total !== undefined && total > 0) {
      const frac = Math.min(1, this.received / total);
      parts.push(`${String(Math.floor(frac * 100)).padStart(3)}%`);
      parts.push(`${formatBytes(this.received)} / ${formatBytes(total)}`);
    } else {
      parts.push(formatBytes(this.received));
    }
    if (speed !== undefined) parts.push(`${formatBytes(speed)}/s`);
    if (total !== undefined && speed !== undefined && speed > 0 && this.received <= total) {
      parts.push(`ETA ${formatDuration((total - this.received) / speed)}`);
    }
    const stats = parts.join('  ');
    // Label, then a bar using what room is left, then the figures.
    const room = columns - 1 - stats.length - 2;
    let label = this.opts.label;
    const barWidth = total !== undefined && total > 0 ? Math.min(30, room - Math.min(label.length, 24) - 4) : 0;
    const labelRoom = Math.max(0, room - (barWidth >= 10 ? barWidth + 4 : 0));
    if (label.length > labelRoom) label = labelRoom > 1 ? `${label.slice(0, labelRoom - 1)}…` : '';
    let bar = '';
    if (barWidth >= 10 && total !== undefined) {
      const filled = Math.round(Math.min(1, this.received / total) * barWidth);
      bar = ` [${'#'.repeat(filled)}${'.'.repeat(barWidth - filled)}] `;
    }
    const text = `${label}${bar ? bar : label ? '  ' : ''}${stats}`;
    return text.length > columns - 1 ? text.slice(0, Math.max(0, columns - 1)) : text;
  }
}

/** 1536 → "1.5 KiB"; binary units as the rest of tspod. */
export function formatBytes(n: number): string {
  const units = ['B', 'KiB', 'MiB', 'GiB', 'TiB'];
  let v = n;
  let i = 0;
  while (v >= 1024 && i < units.length - 1) {
    v /= 1024;
    i++;
  }
  return i === 0 ? `${Math.round(v)} B` : `${v.toFixed(1)} ${units[i]}`;
}

/** Seconds → "m:ss" or "h:mm:ss". */
export function formatDuration(seconds: number): string {
  const s = Math.max(0, Math.ceil(seconds));
  const h = Math.floor(s / 3600);
  const m = Math.floor((s % 3600) / 60);
  const ss = String(s % 60).padStart(2, '0');
  return h > 0 ? `${h}:${String(m).padStart(2, '0')}:${ss}` : `${m}:${ss}`;
}
