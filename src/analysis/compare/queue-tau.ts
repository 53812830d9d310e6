import type { TableRow } from "../../tables/types.js";
import { kendallTauB } from "../math/stats.js";

/**
 * Kendall τ-b over each step's waiting queue (predictor.ts, kendall_tau_b_waiting_queue): each
 * waiting row pairs the request's latest prediction at the step's start with its true remaining
 * tokens then (final output tokens − tokens generated so far). Both need the request's end:
 * its per_request row and its prediction rows, which a replay writes when it finishes, after
 * every step it waited in. So a step's rows are held until each of its requests has finished
 * (the queue's requests and the steps they wait through, like the engine's own state), and its
 * τ is taken then; the steps' τ are summed in step order, as one pass after the fact would.
 *
 * `streaming` (rows in replay order: a request's waiting rows before its end) lets this ride
 * on compare's one pass over a replayed trace and drop each request once its steps are done.
 * Otherwise (a logs directory reads table after table) the requests are fed first and the
 * waiting rows in a second pass over per_iteration_requests alone.
 */
export class QueueTau {
  private readonly ended = new Map<string, RequestEnd>();
  /** each request that has not ended yet: the steps it waits in that wait for it */
  private readonly waitingIn = new Map<string, PendingStep[]>();
  private readonly starts = new Map<string, number>();
  /** per_request rows seen since the last resolution (a replay writes their prediction rows right after) */
  private justEnded: string[] = [];
  private current: PendingStep | null = null;
  private nextIndex = 0;
  /** steps closed while some of their requests still wait to end */
  private readonly openSteps = new Set<PendingStep>();
  /** streaming: steps whose requests all ended before their start time came (per_iteration comes after the rows) */
  private readonly byStart = new Map<string, PendingStep>();
  /** τ of steps taken out of order, until every earlier step is summed */
  private readonly early = new Map<number, number | null>();
  private summedUpTo = 0;
  private sum = 0;
  private steps = 0;

  constructor(private readonly streaming: boolean) {}

  request(r: TableRow<"per_request">): void {
    const e = this.entry(requestKey(r.dp_rank, r.request_id, r.request_instance));
    e.final = r.finish_reason === "stop" || r.finish_reason === "length" ? r.output_tokens : null;
    this.justEnded.push(requestKey(r.dp_rank, r.request_id, r.request_instance));
  }

  prediction(p: TableRow<"predictions">): void {
    this.entry(requestKey(p.dp_rank, p.request_id, p.request_instance)).predictions.push({ t: p.prediction_time, predicted: p.predicted_remaining_tokens });
  }

  iteration(it: TableRow<"per_iteration">): void {
    this.resolveEnded();
    const key = `${it.dp_rank}:${it.iteration_id}`;
    this.starts.set(key, it.start_time);
    const s = this.byStart.get(key);
    if (s) {
      this.byStart.delete(key);
      this.compute(s);
    }
  }

  /** A row of per_iteration_requests, in stored order: a step is a run of rows with one (dp_rank, iteration_id). */
  row(row: TableRow<"per_iteration_requests">): void {
    this.resolveEnded();
    const stepKey = `${row.dp_rank}:${row.iteration_id}`;
    if (this.current?.key !== stepKey) {
      this.closeCurrent();
      this.current = { key: stepKey, index: this.nextIndex++, ids: [], generated: [], open: 0 };
    }
    if (row.state !== "waiting" && row.state !== "preempted") return;
    const s = this.current!;
    const key = requestKey(row.dp_rank, row.request_id, row.request_instance);
    const e = this.entry(key);
    e.refs++;
    s.ids.push(key);
    s.generated.push(row.tokens_generated);
    if (e.done) return;
    s.open++;
    let list = this.waitingIn.get(key);
    if (!list) this.waitingIn.set(key, (list = []));
    list.push(s);
  }

  /** Every row seen: the steps still open take what is known. */
  end(): { mean_tau_b: number | null; steps: number } {
    this.resolveEnded();
    this.closeCurrent();
    for (const s of this.openSteps) this.compute(s);
    for (const s of this.byStart.values()) this.compute(s);
    this.openSteps.clear();
    this.byStart.clear();
    this.waitingIn.clear();
    return { mean_tau_b: this.steps ? this.sum / this.steps : null, steps: this.steps };
  }

  private entry(key: string): RequestEnd {
    let e = this.ended.get(key);
    if (!e) this.ended.set(key, (e = { final: null, predictions: [], done: false, refs: 0 }));
    return e;
  }

  private closeCurrent(): void {
    const s = this.current;
    this.current = null;
    if (!s) return;
    if (s.open === 0) this.settle(s);
    else this.openSteps.add(s);
  }

  /** The requests whose per_request row came since the last call, their prediction rows in too: their steps may be complete. */
  private resolveEnded(): void {
    if (this.justEnded.length === 0) return;
    for (const key of this.justEnded) {
      const e = this.ended.get(key)!;
      e.done = true;
      const list = this.waitingIn.get(key);
      if (list) {
        this.waitingIn.delete(key);
        for (const s of list) {
          if (--s.open > 0 || s === this.current || !this.openSteps.delete(s)) continue;
          this.settle(s);
        }
      }
      if (this.streaming && e.refs === 0) this.ended.delete(key);
    }
    this.justEnded = [];
  }

  /** Every request of the step ended: take its τ (streaming: once its start time is known). */
  private settle(s: PendingStep): void {
    if (this.streaming && !this.starts.has(s.key)) this.byStart.set(s.key, s);
    else this.compute(s);
  }

  private compute(s: PendingStep): void {
    const t = this.starts.get(s.key);
    const xs: number[] = [];
    const ys: number[] = [];
    for (let i = 0; i < s.ids.length; i++) {
      const e = this.ended.get(s.ids[i])!;
      if (this.streaming && --e.refs === 0 && e.done) this.ended.delete(s.ids[i]);
      if (t === undefined || e.final === null) continue;
      let cur: number | null = null;
      for (const p of e.predictions) if (p.t <= t) cur = p.predicted;
      if (cur === null) continue;
      xs.push(cur);
      ys.push(e.final - s.generated[i]);
    }
    this.early.set(s.index, xs.length >= 2 ? kendallTauB(xs, ys) : null);
    while (this.early.has(this.summedUpTo)) {
      const tau = this.early.get(this.summedUpTo)!;
      this.early.delete(this.summedUpTo++);
      if (tau !== null) {
        this.sum += tau;
        this.steps++;
      }
    }
  }
}

interface RequestEnd {
  /** final output tokens when it completed (stop or length); null otherwise */
  final: number | null;
  predictions: { t: number; predicted: number | null }[];
  /** its per_request row (and so its prediction rows) was seen */
  done: boolean;
  /** streaming: rows of steps not yet taken that name it (it is dropped at 0 once done) */
  refs: number;
}

interface PendingStep {
  key: string;
  /** its place among the steps, for the sum in step order */
  index: number;
  ids: string[];
  generated: number[];
  /** its waiting requests that have not ended yet */
  open: number;
}

const requestKey = (dp: number, id: string, instance: number) => `${dp}\u0000${instance}\u0000${id}`;
