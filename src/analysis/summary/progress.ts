import type { TableRow } from "../../tables/types.js";
import { Values } from "../math/stats.js";
import type { IterationAccumulator } from "./iterations.js";
import type { Summary } from "./types.js";
import { lifetimeKey } from "./requests.js";

/**
 * Accumulates per_iteration_requests.csv for two figures the per-request table cannot give:
 *
 * - inter-token latency: a request's tokens_generated counts tokens delivered before the
 *   row's schedule() returned (a completed row: all of them). When it grows between two
 *   rows, the delivering update is the latest one that ended before that schedule()
 *   returned (for a completed row: the update of its own step). ITL samples are the gaps
 *   between successive delivering updates of a completed request. Only sound when every
 *   iteration is recorded with waiting rows, so it is withheld otherwise.
 * - queue-position progress: successive waiting observations of a request compared by
 *   queue_position (0 = head).
 *
 * It reads per_iteration_requests in the same pass as per_request and per_iteration (a trace
 * is replayed once), so whether a request completes and when each update ended are not known
 * while its rows go by: each row where a request's tokens grew is logged (TokenLog) and the
 * ITL samples are derived from the log, in row order, once the pass is over.
 */
export class ProgressAccumulator {
  private itlValues: Values | null = null;
  private readonly tokens = new Map<string, number>();
  private readonly log = new TokenLog();
  private readonly busySeen = new Map<number, Set<number>>();
  private busyRows = 0;
  private waitingRows = 0;
  private readonly queueState = new Map<string, number>();
  private observations = 0;
  private advanced = 0;
  private unchanged = 0;
  private overtaken = 0;
  private readonly overtakenIds = new Set<string>();

  constructor(
    private readonly iters: IterationAccumulator,
    private readonly completedIds: ReadonlySet<string>,
  ) {}

  add(row: TableRow<"per_iteration_requests">): void {
    const id = lifetimeKey(row);
    const it = row.iteration_id;
    const rank = row.dp_rank ?? 0;
    const state = row.state;
    if (it === null) return;

    if ((row.scheduled_tokens ?? 0) > 0) {
      let s = this.busySeen.get(rank);
      if (!s) this.busySeen.set(rank, (s = new Set()));
      if (!s.has(it)) {
        s.add(it);
        this.busyRows++;
      }
    }

    // queue-position progress
    const pos = row.queue_position;
    if ((state === "waiting" || state === "preempted") && pos !== null) {
      this.waitingRows++;
      const prev = this.queueState.get(id);
      if (prev !== undefined) {
        this.observations++;
        if (pos < prev) this.advanced++;
        else if (pos === prev) this.unchanged++;
        else {
          this.overtaken++;
          this.overtakenIds.add(id);
        }
      }
      this.queueState.set(id, pos);
    } else this.queueState.delete(id);

    // inter-token latency: the rows where the tokens grew, for itl()
    const g = row.tokens_generated ?? 0;
    if (g > (this.tokens.get(id) ?? 0)) {
      this.tokens.set(id, g);
      this.log.add(id, rank, it, state === "completed");
    } else if (state === "completed") this.log.reset(id, rank);
    if (state === "completed") this.tokens.delete(id);
  }

  /** ITL samples, or null when the table does not record every busy iteration with its waiting rows */
  itl(): Values | null {
    const complete = this.busyRows === this.iters.busyIterations && (this.waitingRows > 0 || !this.iters.waitingSeen);
    return complete ? (this.itlValues ??= this.itlSamples()) : null;
  }

  /**
   * The gaps between successive delivering updates of each completed request. A growth in a
   * completed row was delivered by its own step's update; otherwise by the latest update that
   * ended before the row's schedule() returned.
   */
  private itlSamples(): Values {
    const out = new Values();
    const lastT = new Map<number, number>();
    this.log.forEach((key, rank, it, kind) => {
      if (!this.completedIds.has(this.log.keys[key])) return;
      if (kind !== RESET) {
        const t = kind === COMPLETED ? this.iters.updateEnd(rank, it) : this.iters.lastUpdateBeforeSchedule(rank, it);
        if (!Number.isNaN(t)) {
          const prev = lastT.get(key);
          if (prev !== undefined && t > prev) out.push(t - prev);
          lastT.set(key, t);
        }
      }
      // a completed row ends the request's token state, whether or not its tokens grew
      if (kind !== RUNNING) lastT.delete(key);
    });
    return out;
  }

  queueProgress(): Summary["fairness"]["queue_progress"] {
    if (this.waitingRows === 0) return null;
    return {
      observations: this.observations,
      advanced: this.advanced,
      unchanged: this.unchanged,
      overtaken: this.overtaken,
      overtaken_share: this.observations ? this.overtaken / this.observations : null,
      requests_overtaken: this.overtakenIds.size,
    };
  }
}

const RUNNING = 0;
const COMPLETED = 1;
const RESET = 2;
type LogKind = typeof RUNNING | typeof COMPLETED | typeof RESET;

/**
 * The rows where a request's tokens grew (and its completed row), in row order: 8 bytes a row
 * (the request as a number, the iteration with the kind in its low bits), so a run's worth stays small.
 */
class TokenLog {
  readonly keys: string[] = [];
  private readonly ranks: number[] = [];
  private readonly index = new Map<string, number>();
  private buf = new Int32Array(2048);
  private n = 0;

  add(key: string, rank: number, iteration: number, completed: boolean): void {
    this.push(key, rank, iteration, completed ? COMPLETED : RUNNING);
  }

  /** a completed row without new tokens */
  reset(key: string, rank: number): void {
    this.push(key, rank, 0, RESET);
  }

  private push(key: string, rank: number, iteration: number, kind: LogKind): void {
    let k = this.index.get(key);
    if (k === undefined) {
      this.index.set(key, (k = this.keys.length));
      this.keys.push(key);
      this.ranks.push(rank);
    }
    if (this.n + 2 > this.buf.length) {
      const next = new Int32Array(this.buf.length * 2);
      next.set(this.buf);
      this.buf = next;
    }
    this.buf[this.n++] = k;
    this.buf[this.n++] = iteration * 4 + kind;
  }

  forEach(f: (key: number, rank: number, iteration: number, kind: LogKind) => void): void {
    for (let i = 0; i < this.n; i += 2) {
      const k = this.buf[i];
      const v = this.buf[i + 1];
      f(k, this.ranks[k], v >>> 2, (v & 3) as LogKind);
    }
  }
}
