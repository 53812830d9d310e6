import type { TableSource } from "../../tables/types.js";

/**
 * What simulate reads from the recorded run to replay it on its own host: per step, the
 * schedule() time and batch (the host index) and the step-time bounds and CPU wait (the wait
 * share). One scan of per_iteration serves both: from raw traces a scan is a whole replay.
 * Steps by rank, in step order.
 */
export interface RecordedStep {
  it: number;
  batch: number;
  scheduleNs: number;
  schedEnd: number;
  updStart: number | null;
  tokens: number;
  wait: number | null;
}

export async function recordedSteps(source: TableSource): Promise<RecordedStep[][]> {
  const byRank = new Map<number, RecordedStep[]>();
  await source.scan({
    per_iteration: (r) => {
      const schedEnd = r.start_time + r.scheduling_overhead;
      const list = byRank.get(r.dp_rank) ?? byRank.set(r.dp_rank, []).get(r.dp_rank)!;
      list.push({
        it: r.iteration_id, batch: r.batch_size, scheduleNs: r.scheduling_overhead, schedEnd,
        updStart: r.forward_duration === null ? null : schedEnd + r.forward_duration, tokens: r.total_tokens,
        wait: r.engine_cpu_wait_ns ?? null,
      });
    },
  });
  return [...byRank.keys()].sort((a, b) => a - b).map((k) => byRank.get(k)!.sort((a, b) => a.it - b.it));
}
