import { readdir } from "node:fs/promises";
import path from "node:path";
import { createEngine } from "../engine/index.js";
import type { RowSink } from "../engine/types.js";
import { explainRecordFailure } from "../parse/records.js";
import { TRACE_FILE_RE } from "../parse/inputs.js";
import { TraceTail, type TailNote } from "../parse/tail.js";
import type { HeaderRecord } from "../schema/raw.js";
import { LiveStats } from "../analysis/live/live-stats.js";

/**
 * Growing traces → one engine per file → LiveStats (vsched watch). A directory is
 * listed again at every poll, so a rank whose file appears later joins the view. Each file
 * is replayed incrementally by the same engine convert uses; its rows update the rolling
 * figures and are not kept. No process, no clock, no output: the command drives poll().
 */
interface Followed {
  tail: TraceTail;
  engine: ReturnType<typeof createEngine> | null;
  ended: boolean;
}

export class LiveRun {
  readonly stats: LiveStats;
  readonly notes: TailNote[] = [];
  private readonly files = new Map<string, Followed>();
  private epochZeroNs: bigint | null = null;
  private polls = 0;

  constructor(
    /** absolute path of the directory or file */
    private readonly target: string,
    /** as the user gave it */
    private readonly display: string,
    private readonly isDir: boolean,
    windowSeconds: number,
    private readonly onNote: (note: TailNote) => void = () => {},
  ) {
    this.stats = new LiveStats(windowSeconds);
  }

  get fileCount(): number {
    return this.files.size;
  }

  /** every followed file has its end record (or can no longer be followed), and there is one */
  get ended(): boolean {
    if (!this.files.size) return false;
    for (const f of this.files.values()) if (!f.ended && f.tail.active) return false;
    return true;
  }

  async poll(): Promise<void> {
    for (const file of await this.discover()) {
      if (this.files.has(file)) continue;
      const display = this.isDir ? path.join(this.display, path.basename(file)) : this.display;
      if (this.polls > 0) this.note({ file: display, code: "TAIL_NEW_FILE", args: {} });
      this.files.set(file, this.follow(file, display));
    }
    this.polls++;
    for (const f of this.files.values()) await f.tail.poll();
  }

  /** Ends watching: incomplete last lines are reported. */
  finish(): void {
    for (const f of this.files.values()) f.tail.finish();
  }

  private async discover(): Promise<string[]> {
    if (!this.isDir) return [this.target];
    try {
      return (await readdir(this.target)).filter((n) => TRACE_FILE_RE.test(n)).sort().map((n) => path.join(this.target, n));
    } catch {
      return [...this.files.keys()]; // the directory went away: its files report themselves
    }
  }

  private note(n: TailNote): void {
    this.notes.push(n);
    if (this.notes.length > 100) this.notes.shift();
    this.onNote(n);
  }

  private follow(file: string, display: string): Followed {
    const f: Followed = { tail: null as unknown as TraceTail, engine: null, ended: false };
    f.tail = new TraceTail(file, display, {
      onHeader: (header) => {
        f.engine = this.engineFor(header, display);
      },
      onRecord: (rec, line) => {
        if (!f.engine || f.ended) return;
        try {
          f.engine.push(rec, line);
          if (rec.type === "end") {
            f.engine.end(); // the rows it still held (unfinished requests) come out now
            f.ended = true;
          }
        } catch (e) {
          const err = explainRecordFailure(rec, display, line, e) as Error;
          f.tail.abandon("TAIL_BAD_RECORD", { error: err.message.split("\n")[0] }, line);
        }
      },
      onNote: (n) => this.note(n),
    });
    return f;
  }

  private engineFor(header: HeaderRecord, display: string) {
    const epoch = BigInt(header.clock.epoch_ns);
    // t=0 is the first rank's anchor; a later rank's times are shifted onto it
    this.epochZeroNs ??= epoch;
    const stats = this.stats;
    const sink: RowSink = {
      perRequest: (r) => stats.perRequest(r),
      perIteration: (r) => stats.perIteration(r),
      perIterationRequest: (r) => stats.perIterationRequest(r),
      event: (r) => stats.event(r),
      stateTransition: () => {},
      prediction: () => {},
      finding: () => {},
    };
    return createEngine(header, sink, {
      timeOffsetNs: Number(epoch - this.epochZeroNs),
      epochZeroNs: this.epochZeroNs,
      iterationRequests: "all",
      iterationRequestsEvery: 1,
      scheduledEvents: false,
      file: display,
    });
  }
}
