import type { StepRecord, UpdateRecord } from "../schema/raw.js";
import type { PerIterationRow } from "../schema/tables.js";
import type { RowContext } from "./request-state.js";
import type { GpuColumns } from "./gpu-join.js";

/** One step's facts, held from its schedule() record until its update arrives. */
export class PendingIteration {
  readonly step: number;
  batchSize = 0;
  totalTokens = 0;
  prefillTokens = 0;
  decodeTokens = 0;
  recomputeTokens = 0;
  prefillReqs = 0;
  decodeReqs = 0;
  chunkMin: number | null = null;
  chunkMax: number | null = null;
  chunkSum = 0;
  admitted = 0;
  resumed = 0;
  completed = 0;
  runningUnscheduled = 0;
  kvFailures = 0;
  skipped: number | null = null;
  outputTokens = 0;
  runningCount = 0;
  waitingCount = 0;
  waitingQueueLength = 0;
  update: UpdateRecord | null = null;

  constructor(
    readonly rec: StepRecord,
    readonly decisionT: number,
    private readonly kvTotal: number,
    private readonly numGpuBlocks: number,
  ) {
    this.step = rec.step;
  }

  /** prefill = positions building KV for tokens already known (prompt, or recomputed output) */
  addScheduled(n: number, prefill: number, recompute: number): void {
    this.batchSize++;
    this.totalTokens += n;
    this.prefillTokens += prefill;
    this.decodeTokens += n - prefill;
    this.recomputeTokens += recompute;
    if (prefill > 0) {
      this.prefillReqs++;
      this.chunkSum += prefill;
      this.chunkMin = this.chunkMin === null ? prefill : Math.min(this.chunkMin, prefill);
      this.chunkMax = this.chunkMax === null ? prefill : Math.max(this.chunkMax, prefill);
    } else {
      this.decodeReqs++;
    }
  }

  private action(): string {
    const a: string[] = [];
    if (this.admitted > 0) a.push("admit_new");
    if (this.resumed > 0) a.push("resume");
    if (this.rec.preempted.length > 0) a.push("preempt");
    if (this.batchSize > this.admitted + this.resumed) a.push("continue");
    if (this.completed > 0) a.push("finish");
    return a.length ? a.join("+") : "idle";
  }

  row(u: UpdateRecord | null, ctx: RowContext, maxBatched: number, gpu: GpuColumns): PerIterationRow {
    const s = this.rec;
    const off = ctx.off;
    const usedAfterSched = Math.max(0, this.numGpuBlocks - 1 - s.free_blocks);
    const used = u ? Math.max(0, this.numGpuBlocks - 1 - u.free_blocks) : usedAfterSched;
    return {
      iteration_id: s.step,
      start_time: s.t_start + off,
      end_time: u ? u.t_end + off : null,
      duration: u ? u.t_end - s.t_start : null,
      scheduling_overhead: s.t_end - s.t_start,
      forward_duration: u ? u.t_start - s.t_end : null,
      batch_size: this.batchSize,
      total_tokens: this.totalTokens,
      prefill_tokens: this.prefillTokens,
      decode_tokens: this.decodeTokens,
      kv_cache_used: used,
      kv_cache_total: this.kvTotal,
      running_count: this.runningCount,
      waiting_count: this.waitingCount,
      preempted_count: s.preempted.length,
      scheduler_action: this.action(),
      start_time_epoch_ns: ctx.epoch(s.t_start + off),
      kv_cache_utilization: this.kvTotal > 0 ? used / this.kvTotal : null,
      kv_cache_used_after_schedule: usedAfterSched,
      admitted_count: this.admitted,
      resumed_count: this.resumed,
      completed_count: this.completed,
      running_unscheduled_count: this.runningUnscheduled,
      num_prefill_reqs: this.prefillReqs,
      num_decode_reqs: this.decodeReqs,
      prefill_chunk_min: this.chunkMin,
      prefill_chunk_max: this.chunkMax,
      prefill_chunk_mean: this.prefillReqs > 0 ? this.chunkSum / this.prefillReqs : null,
      recompute_tokens: this.recomputeTokens,
      output_tokens: this.outputTokens,
      token_budget_left: maxBatched - this.totalTokens,
      waiting_stop_cause: s.stop ? s.stop.cause : null,
      waiting_stop_request_id: s.stop ? s.stop.req : null,
      skipped_count: this.skipped,
      kv_alloc_failures: this.kvFailures,
      update_duration: u ? u.t_end - u.t_start : null,
      running_count_after_update: u ? u.running : null,
      waiting_count_after_update: u ? u.waiting : null,
      dp_rank: ctx.dpRank,
      waiting_queue_length: this.waitingQueueLength,
      num_skipped_waiting_reqs: Math.max(0, this.waitingQueueLength - this.waitingCount),
      ...gpu,
      engine_cpu_ns: s.cpu ? s.cpu[0] : null,
      engine_cpu_wait_ns: s.cpu ? s.cpu[1] : null,
      cpu_pressure_ns: s.cpu ? s.cpu[2] : null,
      gpu_step_ns: u?.gpu ? u.gpu[0] : null,
      gpu_gap_ns: u?.gpu ? u.gpu[1] : null,
      runner_host_ns: u?.gpu ? u.gpu[2] : null,
    };
  }
}
