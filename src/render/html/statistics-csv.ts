import type { ReportData } from "../../analysis/report/types.js";

/** The figures of the statistics cards, as rows: name, value (ns for times), where it comes from. */
export function statisticsRows(d: ReportData): { figure: string; value: number | null; source: "summary" | "statistics" }[] {
  const s = d.summary;
  const st = d.statistics;
  const sum = (figure: string, value: number | null) => ({ figure, value, source: "summary" as const });
  const own = (figure: string, value: number | null) => ({ figure, value, source: "statistics" as const });
  return [
    sum("batches", s.scheduler.iterations),
    sum("schedule_mean_ns", s.scheduler.scheduling_overhead.mean_ns),
    own("schedule_p95_ns", st.schedule_ns.p95),
    own("schedule_max_ns", st.schedule_ns.max),
    own("schedule_min_ns", st.schedule_ns.min),
    sum("model_run_mean_ns", s.scheduler.forward_duration.mean_ns),
    own("model_run_p95_ns", st.model_run_ns.p95),
    sum("scheduling_share", s.scheduler.scheduling_share),
    own("scheduled_tokens_per_s", st.scheduled_tokens_per_s),
    sum("output_tokens_per_s", s.throughput.output_tokens_per_s),
    sum("prefill_request_share", s.scheduler.prefill_request_share),
    sum("prefill_chunk_mean_tokens", s.scheduler.prefill_chunks.mean_tokens),
    sum("prefill_chunk_min_tokens", s.scheduler.prefill_chunks.min_tokens),
    sum("prefill_chunk_max_tokens", s.scheduler.prefill_chunks.max_tokens),
    own("decode_chunk_mean_tokens", st.decode_chunks.mean_tokens),
    own("decode_chunk_min_tokens", st.decode_chunks.min_tokens),
    own("decode_chunk_max_tokens", st.decode_chunks.max_tokens),
    sum("ttft_p50_ns", s.latency.ttft.p50_ns),
    sum("ttft_p99_ns", s.latency.ttft.p99_ns),
    sum("tpot_p50_ns", s.latency.tpot.p50_ns),
    sum("tpot_p99_ns", s.latency.tpot.p99_ns),
    sum("e2e_p50_ns", s.latency.e2e.p50_ns),
    sum("e2e_p99_ns", s.latency.e2e.p99_ns),
    sum("preemptions", s.resources.preemptions),
    sum("kv_utilization_mean", s.resources.kv_utilization_mean),
  ];
}
