import type { TableRow } from "../../tables/types.js";

/** What the host's CPU did to the engine-core thread over the run (per_iteration engine_* columns, trace step.cpu). */
export interface EngineCpu {
  /** wall time the figures cover: from the first recorded step's schedule() entry to the last one's, summed over ranks */
  covered_ns: number;
  /** share of it the engine thread ran on a CPU */
  cpu_share: number;
  /** share of it the thread was runnable but waited for a CPU: contention that delays every step whose CPU part is on the critical path */
  wait_share: number;
  /** share of it in which some task of the machine waited for a CPU (PSI cpu some); null without PSI */
  pressure_share: number | null;
}

/**
 * Sums of the per-step figures. Each step's figure covers the time since the previous step's
 * schedule() entry, so a rank's first step counts only from the second on (its figure covers
 * the time since the emitter attached, before the run).
 */
export class EngineCpuAccumulator {
  private readonly lastStart = new Map<number, number>();
  private covered = 0;
  private cpu = 0;
  private wait = 0;
  private pressure = 0;
  private pressureSeen = true;
  private any = false;

  add(row: TableRow<"per_iteration">): void {
    const cpu = row.engine_cpu_ns, wait = row.engine_cpu_wait_ns, start = row.start_time;
    if (start === null) return;
    const rank = row.dp_rank ?? 0;
    const last = this.lastStart.get(rank);
    // every step moves the start, figures or not: after a step without one (the scheduler
    // moved thread; the emitter restarts its counters there) the next figure covers only the
    // time since that step's start
    this.lastStart.set(rank, start);
    if (cpu === null || cpu === undefined || wait === null || wait === undefined) return;
    if (last === undefined || start <= last) return;
    this.any = true;
    this.covered += start - last;
    this.cpu += cpu;
    this.wait += wait;
    if (row.cpu_pressure_ns === null) this.pressureSeen = false;
    else this.pressure += row.cpu_pressure_ns;
  }

  stats(): EngineCpu | null {
    if (!this.any || this.covered <= 0) return null;
    const c = this.covered;
    return { covered_ns: c, cpu_share: this.cpu / c, wait_share: this.wait / c, pressure_share: this.pressureSeen ? this.pressure / c : null };
  }
}
