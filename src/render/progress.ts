/**
 * A one-line progress bar for long conversions (bytes read / total) on stderr.
 * The caller decides whether to show it at all (cli/io.ts progressEnabled: TTY and
 * not CI, and not --quiet). Nothing is drawn for the first `delayMs`, so short runs
 * never flicker; done() erases the line so the summary stands alone.
 */
export interface Progress {
  add(bytes: number): void;
  done(): void;
}

export interface ProgressOptions {
  total: number;
  stream: { write(s: string): unknown; columns?: number };
  label?: string;
  delayMs?: number;
  intervalMs?: number;
  now?: () => number;
}

export const NO_PROGRESS: Progress = { add() {}, done() {} };

export function createProgress(o: ProgressOptions): Progress {
  const now = o.now ?? (() => performance.now());
  const start = now();
  const delay = o.delayMs ?? 500;
  const interval = o.intervalMs ?? 100;
  let done = 0;
  let next = start + delay;
  let drawn = false;
  return {
    add(bytes) {
      done += bytes;
      const t = now();
      if (t < next) return;
      next = t + interval;
      o.stream.write("\r" + renderProgressLine(done, o.total, (t - start) / 1000, o.stream.columns ?? 80, o.label));
      drawn = true;
    },
    done() {
      if (drawn) o.stream.write("\r\x1b[2K");
    },
  };
}

/** Pure: `label [#######.......]  45%  450/1000 MB  120 MB/s  ETA 5s`, cut to `width`. */
export function renderProgressLine(done: number, total: number, seconds: number, width: number, label = "converting"): string {
  const frac = total > 0 ? Math.min(1, done / total) : 0;
  const mb = (n: number) => (n / 1e6).toFixed(n >= 1e8 ? 0 : 1);
  const rate = seconds > 0 ? done / seconds : 0;
  const eta = rate > 0 && total > done ? ` ETA ${Math.ceil((total - done) / rate)}s` : "";
  const text = ` ${String(Math.floor(frac * 100)).padStart(3)}% ${mb(done)}/${mb(total)} MB ${mb(rate)} MB/s${eta}`;
  const barWidth = Math.max(10, Math.min(40, width - label.length - text.length - 4));
  const filled = Math.round(frac * barWidth);
  const line = `${label} [${"#".repeat(filled)}${".".repeat(barWidth - filled)}]${text}`;
  return line.slice(0, Math.max(0, width - 1));
}
