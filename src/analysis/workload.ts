import type { TableSource } from "../tables/types.js";

/**
 * The workload a run served, as the harness replays it (`--workload file:PATH`,
 * emitter/src/vsched_emitter/harness/workloads.py from_file): one record per request.
 *
 * - arrival_ns: vLLM's own arrival (Request.arrival_time, the frontend's clock) from the
 *   trace's t=0, plus a frontend delay: when the request reaches the engine core's input
 *   queue. The scheduler-side add_request time is not used, because under load it already
 *   contains waiting for the engine loop, which the harness reproduces on its own steps.
 * - frontend_delay_ns (with a fitted visibility-delay model only): the delay arrival_ns
 *   includes, the model's median at this prompt length; the harness stamps vLLM's
 *   Request.arrival_time that much before arrival_ns, as the frontend did. Without it the
 *   one fixed delay shifts every arrival and the stamp alike (a pure time shift).
 * - max_tokens: finish "length" → the tokens it produced; else SamplingParams.max_tokens.
 * - eos_at: finish stop / repetition / error → output index of the last token, so the
 *   harness's model stops it exactly where vLLM did.
 * - abort_after_ns: an aborted request is aborted that long after its arrival.
 * Prompt contents are not in a trace, so shared prefixes are not reproduced (docs/fit.md).
 */
export interface WorkloadRequest {
  type: "request";
  req: string;
  arrival_ns: number;
  prompt_tokens: number;
  max_tokens: number;
  eos_at: number | null;
  priority: number;
  lora_id: number | null;
  abort_after_ns: number | null;
  frontend_delay_ns?: number;
}

export interface WorkloadHeader {
  type: "header";
  format: "vsched-workload";
  format_version: "1.0";
  source: string;
  requests: number;
  frontend_delay_ns: number;
  prefix_sharing: "not reproduced";
  /** per request (frontend_delay_ns on each record, from a fitted model) or one fixed delay */
  frontend_delay: "per-request" | "fixed";
}

export interface Workload {
  header: WorkloadHeader;
  requests: WorkloadRequest[];
}

export interface WorkloadOptions {
  /** the fixed delay, when no per-request delay is given */
  frontendDelayNs: number;
  /** a fitted visibility delay by prompt length (ns) */
  frontendDelayOf?: (promptTokens: number) => number;
}

export async function extractWorkload(source: TableSource, opts: WorkloadOptions): Promise<Workload> {
  const epochZero = BigInt(source.info.epochZeroNs ?? "0");
  const requests: WorkloadRequest[] = [];
  const schedArrival = new Map<string, number>();
  await source.scan({
    per_request: (r) => {
      const stamped = r.vllm_arrival_time_epoch_ns !== null;
      const delay = !stamped ? 0 : opts.frontendDelayOf ? opts.frontendDelayOf(r.input_tokens) : opts.frontendDelayNs;
      const vllmArrival = stamped ? Number(BigInt(r.vllm_arrival_time_epoch_ns!) - epochZero) + delay : r.arrival_time;
      const arrival = Math.max(0, vllmArrival);
      schedArrival.set(r.request_id, r.arrival_time);
      const stopped = r.finish_reason === "stop" || r.finish_reason === "repetition" || r.finish_reason === "error";
      const maxTokens = r.finish_reason === "length" ? Math.max(1, r.output_tokens) : Math.max(1, r.max_tokens ?? r.output_tokens);
      requests.push({
        type: "request",
        req: r.request_id,
        arrival_ns: arrival,
        prompt_tokens: r.input_tokens,
        max_tokens: maxTokens,
        eos_at: stopped && r.output_tokens >= 1 ? r.output_tokens - 1 : null,
        priority: r.priority,
        lora_id: r.lora_id,
        abort_after_ns: r.finish_reason === "abort" && r.completion_time !== null ? Math.max(0, r.completion_time - arrival) : null,
        ...(opts.frontendDelayOf ? { frontend_delay_ns: delay } : {}),
      });
    },
  });
  // equal arrivals keep the order the scheduler received them in (per_request is in finish order)
  requests.sort((a, b) => a.arrival_ns - b.arrival_ns || schedArrival.get(a.req)! - schedArrival.get(b.req)!);
  return {
    header: { type: "header", format: "vsched-workload", format_version: "1.0", source: source.info.label, requests: requests.length, frontend_delay_ns: opts.frontendDelayNs, prefix_sharing: "not reproduced", frontend_delay: opts.frontendDelayOf ? "per-request" : "fixed" },
    requests,
  };
}

export function workloadJsonl(w: Workload): string {
  return [w.header, ...w.requests].map((r) => JSON.stringify(r)).join("\n") + "\n";
}
