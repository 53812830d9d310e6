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
 */
export class ProgressAccumulator {
  private readonly itlValues = new Values();
  private readonly tokenState = new Map<string, { tokens: number; lastT: number }>();
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

    // inter-token latency
    if (!this.completedIds.has(id)) return;
    const g = row.tokens_generated ?? 0;
    let st = this.tokenState.get(id);
    if (!st) this.tokenState.set(id, (st = { tokens: 0, lastT: NaN }));
    if (g > st.tokens) {
      const t = state === "completed" ? this.iters.updateEnd(rank, it) : this.iters.lastUpdateBeforeSchedule(rank, it);
      if (!Number.isNaN(t)) {
        if (!Number.isNaN(st.lastT) && t > st.lastT) this.itlValues.push(t - st.lastT);
        st.lastT = t;
      }
      st.tokens = g;
    }
    if (state === "completed") this.tokenState.delete(id);
  }

  /** ITL samples, or null when the table does not record every busy iteration with its waiting rows */
  itl(): Values | null {
    const complete = this.busyRows === this.iters.busyIterations && (this.waitingRows > 0 || !this.iters.waitingSeen);
    return complete ? this.itlValues : null;
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
