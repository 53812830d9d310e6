import { TIMELINE_COUNTERS, type ChildSlice, type IterationSlice, type RequestSlice, type TimelineProcess, type TimelineSink, type TimelineTotals } from "../../analysis/timeline/types.js";
import { childSliceColor } from "../palette.js";
import type { ChunkedFileWriter } from "./proto.js";

/**
 * The timeline in the Chrome JSON trace format (`{"traceEvents": [...]}`), which
 * chrome://tracing and Perfetto's UI both open: for small runs; the protobuf form is a
 * third of the size. Times are microseconds written as exact decimals of the ns values
 * (`12.345` = 12,345 ns), never through a float. Every string (request ids are
 * client-controlled) goes through JSON.stringify. Counters are written when their
 * value changes; a request lane is a thread (tid 1000 + lane), iterations tracks are
 * tids 1, 2, ….
 */
const REQUEST_TID0 = 1000;

export class ChromeJsonRenderer implements TimelineSink {
  private first = true;
  private readonly lastCounters = new Map<number, (number | null)[]>();
  private readonly threads = new Set<string>();

  constructor(private readonly out: ChunkedFileWriter) {
    out.text('{"displayTimeUnit":"ns","traceEvents":[\n');
  }

  private event(e: Record<string, unknown>): void {
    this.out.text(`${this.first ? "" : ",\n"}${eventJson(e)}`);
    this.first = false;
  }

  process(p: TimelineProcess): void {
    const pid = p.rank + 1;
    this.event({ ph: "M", pid, name: "process_name", args: { name: p.name } });
    this.lastCounters.set(p.rank, TIMELINE_COUNTERS.map(() => null));
  }

  private thread(pid: number, tid: number, name: string): void {
    const key = `${pid}:${tid}`;
    if (this.threads.has(key)) return;
    this.threads.add(key);
    this.event({ ph: "M", pid, tid, name: "thread_name", args: { name } });
    this.event({ ph: "M", pid, tid, name: "thread_sort_index", args: { sort_index: tid } });
  }

  iteration(it: IterationSlice): void {
    const pid = it.rank + 1;
    const tid = 1 + it.lane;
    this.thread(pid, tid, it.lane === 0 ? "iterations" : `iterations (overlapping ${it.lane})`);
    const args: Record<string, unknown> = {
      step: it.step,
      batch_size: it.batch_size,
      prefill_tokens: it.prefill_tokens,
      decode_tokens: it.decode_tokens,
      scheduling_overhead_ns: it.scheduling_overhead_ns,
      scheduler_action: it.scheduler_action,
    };
    if (it.unfinished) args.unfinished = 1;
    this.event({ ph: "X", pid, tid, ts: us(it.start_ns), dur: us(it.end_ns - it.start_ns), name: it.scheduler_action, args });
    const last = this.lastCounters.get(it.rank)!;
    TIMELINE_COUNTERS.forEach((c, i) => {
      const v = it.counters[i];
      if (last[i] === v) return;
      last[i] = v;
      this.event({ ph: "C", pid, ts: us(it.start_ns), name: c.name, args: { value: v } });
    });
  }

  request(q: RequestSlice): void {
    const pid = q.rank + 1;
    const tid = REQUEST_TID0 + q.lane;
    this.thread(pid, tid, `requests ${q.lane}`);
    const args: Record<string, unknown> = {};
    for (const [k, v] of Object.entries(q.args)) if (v !== null) args[k] = v;
    this.event({ ph: "X", pid, tid, ts: us(q.start_ns), dur: us(q.end_ns - q.start_ns), name: q.id, args });
    for (const c of q.children) this.child(pid, tid, c);
    if (q.first_token_ns !== null) this.event({ ph: "i", s: "t", pid, tid, ts: us(q.first_token_ns), name: "first token" });
  }

  private child(pid: number, tid: number, c: ChildSlice): void {
    this.event({ ph: "X", pid, tid, ts: us(c.start_ns), dur: us(c.end_ns - c.start_ns), name: c.name, args: { color: childSliceColor(c.name), ...c.args } });
    // flow v1, both ends bound to the enclosing slice ("bp":"e"): written just after the slice
    // that begins at their ts (the preempted one, the resumed one), which by then encloses them
    if (c.flow_out !== undefined) this.event({ ph: "s", pid, tid, ts: us(c.start_ns), id: c.flow_out, cat: "preemption", name: "preempted → resumed" });
    if (c.flow_in !== undefined) this.event({ ph: "f", bp: "e", pid, tid, ts: us(c.start_ns), id: c.flow_in, cat: "preemption", name: "preempted → resumed" });
  }

  end(_totals: TimelineTotals): void {
    this.out.text("\n]}\n");
    this.out.flush();
  }
}

/** ns → µs as an exact decimal literal (`2927050.729`), built from the integer, never through a float */
function us(ns: number): Raw {
  const neg = ns < 0 ? "-" : "";
  const a = Math.abs(ns);
  const frac = a % 1000;
  return new Raw(`${neg}${Math.floor(a / 1000)}${frac ? `.${String(frac).padStart(3, "0").replace(/0+$/, "")}` : ""}`);
}

/** a JSON literal written as is */
class Raw {
  constructor(readonly text: string) {}
}

/** one event object; values are JSON.stringify'd except Raw literals (the µs timestamps) */
function eventJson(e: Record<string, unknown>): string {
  let s = "{";
  let sep = "";
  for (const [k, v] of Object.entries(e)) {
    s += `${sep}${JSON.stringify(k)}:${v instanceof Raw ? v.text : JSON.stringify(v)}`;
    sep = ",";
  }
  return `${s}}`;
}
