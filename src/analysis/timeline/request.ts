import type { TableRow } from "../../tables/types.js";
import { WAITING_REASONS, type WaitingReason } from "../../schema/waiting.js";
import type { ChildSlice } from "./types.js";

/**
 * One request's states, rebuilt from the tables the way the engine accounts them
 * (src/engine/request-state.ts), so the `waiting:<cause>` slices add up to
 * per_request's wait_<cause>_ns to the nanosecond:
 *
 * - a waiting stint starts at a state transition into waiting (arrival: cause
 *   arrived_after_decision) or preempted (cause preempted) and ends at the next
 *   transition out (admit, resume, or finishing while waiting);
 * - at every step the request waited, per_iteration_requests gives the cause at that
 *   step's decision time D = (stint start) + time_in_state; a changed cause closes the
 *   segment at D; zero or negative spans are not drawn (the engine does not count them);
 * - a running stint is split into prefill and decode by its steps: a step that
 *   scheduled prompt positions (computed - scheduled < input_tokens) or recomputed KV
 *   is prefill, one that only decoded is decode.
 *
 * Rows are kept as marks where the cause or phase changes, not one per step, so a
 * request waiting for 10,000 steps for one reason costs one mark.
 */

const NO = -1;
type Kind = 0 | 1; // 0: waiting row, 1: running row
const PREFILL = 0;
const DECODE = 1;

interface Mark {
  kind: Kind;
  step: number;
  /** time_in_state of the first row of the mark: ns since its stint started */
  tis: number;
  /** cause index (waiting) or PREFILL / DECODE (running) */
  value: number;
  /** running marks: steps and tokens scheduled while in this phase */
  steps: number;
  tokens: number;
}

export interface RequestFigures {
  start_ns: number;
  end_ns: number;
  first_token_ns: number | null;
  args: Record<string, number | string | null>;
}

interface Transition {
  t: number;
  to: "waiting" | "running" | "preempted" | "completed";
  step: number | null;
}

export class RequestBuilder {
  readonly transitions: Transition[] = [];
  private readonly marks: Mark[] = [];
  private sawRunningRow = false;
  /** from its per_request row (kept small: a logs directory holds every request until state_transitions) */
  figures: RequestFigures | null = null;

  constructor(
    readonly rank: number,
    readonly id: string,
  ) {}

  get completed(): boolean {
    const last = this.transitions[this.transitions.length - 1];
    return last !== undefined && last.to === "completed";
  }

  addTransition(r: TableRow<"state_transitions">): void {
    this.transitions.push({ t: r.timestamp, to: r.to_state, step: r.iteration_id });
  }

  /** One per_iteration_requests row, in step order. */
  addRow(r: TableRow<"per_iteration_requests">): void {
    if (r.state === "completed") return;
    const kind: Kind = r.state === "running" ? 1 : 0;
    let value: number;
    if (kind === 0) {
      if (r.waiting_reason === null) return;
      value = REASON_INDEX.get(r.waiting_reason)!;
    } else {
      if (r.scheduled_tokens === 0) return; // an unscheduled step does not change the phase
      // The engine labels every prefill step but one: a prompt scheduled whole at the
      // request's first step (running_reason null); that is its first running row.
      const first = !this.sawRunningRow && r.tokens_generated === 0;
      this.sawRunningRow = true;
      value = first || r.running_reason === "chunked_prefill" || r.running_reason === "recomputation" ? PREFILL : DECODE;
    }
    const last = this.marks[this.marks.length - 1];
    if (last && last.kind === kind && last.value === value && r.time_in_state >= last.tis) {
      last.steps++;
      last.tokens += r.scheduled_tokens;
      return;
    }
    this.marks.push({ kind, step: r.iteration_id, tis: r.time_in_state, value, steps: 1, tokens: r.scheduled_tokens });
  }

  /** The request's child slices, in time order, with flows from each preemption to its resume. */
  children(endNs: number, firstTokenNs: number | null, causes: boolean, nextFlowId: () => number): ChildSlice[] {
    const out: ChildSlice[] = [];
    const tr = this.transitions;
    let mi = 0;
    let preemptedAt: number | null = null;
    let firstRunning = true;
    for (let i = 0; i < tr.length; i++) {
      const s = tr[i];
      if (s.to === "completed") break;
      const next = tr[i + 1];
      const endT = next ? next.t : endNs;
      const endStep = next ? next.step : null;
      const upTo = (m: Mark) => endStep === null || (next!.to === "completed" ? m.step <= endStep : m.step < endStep);
      if (s.to === "running") {
        const start = out.length;
        mi = this.runningStint(s.t, endT, mi, upTo, out, firstRunning ? firstTokenNs : null);
        // a flow joins a preemption to the resume that follows it (none if it never resumed)
        if (preemptedAt !== null && out.length > start) {
          const flow = nextFlowId();
          out[preemptedAt].flow_out = flow;
          out[start].flow_in = flow;
        }
        preemptedAt = null;
        firstRunning = false;
      } else {
        let depth: 1 | 2 = 1;
        if (s.to === "preempted") {
          preemptedAt = out.length;
          out.push({ name: "preempted", depth: 1, start_ns: s.t, end_ns: endT, args: {} });
          depth = 2;
        }
        const cause0 = REASON_INDEX.get(s.to === "preempted" ? "preempted" : "arrived_after_decision")!;
        mi = this.waitingStint(s.t, endT, cause0, mi, upTo, depth, causes, out);
      }
    }
    return out;
  }

  private waitingStint(S: number, E: number, cause0: number, mi: number, upTo: (m: Mark) => boolean, depth: 1 | 2, causes: boolean, out: ChildSlice[]): number {
    let cause = cause0;
    let since = S;
    const push = (to: number) => {
      if (to - since > 0 && cause !== NO) {
        const c = WAITING_REASONS[cause];
        // without every step's waiting rows the cause is unknown: one plain `waiting` slice per stretch
        out.push(causes ? { name: `waiting:${c}`, depth, start_ns: since, end_ns: to, args: {} } : { name: "waiting", depth, start_ns: since, end_ns: to, args: {} });
      }
    };
    for (; mi < this.marks.length && upTo(this.marks[mi]); mi++) {
      const m = this.marks[mi];
      if (m.kind !== 0 || m.value === cause) continue;
      const D = S + m.tis;
      push(D);
      since = D;
      cause = m.value;
    }
    push(E);
    return mi;
  }

  private runningStint(S: number, E: number, mi: number, upTo: (m: Mark) => boolean, out: ChildSlice[], firstTokenNs: number | null): number {
    const mine: Mark[] = [];
    for (; mi < this.marks.length && upTo(this.marks[mi]); mi++) if (this.marks[mi].kind === 1) mine.push(this.marks[mi]);
    if (mine.length === 0) {
      // no running rows (per_iteration_requests written without them): only the first token tells the phases apart
      if (firstTokenNs !== null && firstTokenNs > S && firstTokenNs < E) {
        out.push(phase("prefill", S, firstTokenNs, {}), phase("decode", firstTokenNs, E, {}));
      } else if (E > S) out.push(phase("running", S, E, {}));
      return mi;
    }
    for (let k = 0; k < mine.length; k++) {
      const m = mine[k];
      const from = k === 0 ? S : S + m.tis;
      const to = k + 1 < mine.length ? S + mine[k + 1].tis : E;
      if (to <= from) continue;
      out.push(phase(m.value === PREFILL ? "prefill" : "decode", from, to, m.value === PREFILL ? { steps: m.steps, tokens: m.tokens } : { steps: m.steps }));
    }
    return mi;
  }
}

const REASON_INDEX = new Map<WaitingReason, number>(WAITING_REASONS.map((r, i) => [r, i]));

function phase(name: "prefill" | "decode" | "running", start: number, end: number, args: Record<string, number>): ChildSlice {
  return { name, depth: 1, start_ns: start, end_ns: end, args };
}
