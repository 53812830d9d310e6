import type { TableSource } from "../tables/types.js";

/**
 * Which machine a recording ran on, from its trace header (schema 1.7: each sampled GPU's NVML
 * UUID, the host CPU's model; emitter/src/vsched_emitter/machine.py). Two recordings of the same
 * requests on the lent H100s differed by a few percent on one GPU and by up to tens of percent on
 * two (docs/fit.md, "A fourteenth session"), so calibrate and summary say which it was. A replay
 * runs on no GPU and has none.
 */
export interface MachineIdentity {
  gpus: { name: string | null; uuid: string | null }[];
  cpu_model: string | null;
}

/** the machine of a run's first trace (a run's ranks share one host); null where the header names none */
export function machineOf(source: TableSource): MachineIdentity | null {
  const h = source.info.sources[0]?.header;
  const gpus = (h?.gpu_stats?.devices ?? []).map((d) => ({ name: d.name, uuid: d.uuid ?? null }));
  const cpu = h?.host_cpu?.model ?? null;
  return gpus.some((g) => g.uuid !== null) || cpu !== null ? { gpus, cpu_model: cpu } : null;
}

/** whether two runs had the same GPUs (the same set of UUIDs); null unless both name theirs */
export function sameGpus(a: MachineIdentity | null, b: MachineIdentity | null): boolean | null {
  const ids = (m: MachineIdentity | null) => [...new Set((m?.gpus ?? []).map((g) => g.uuid).filter((u): u is string => u !== null))].sort();
  const x = ids(a), y = ids(b);
  if (!x.length || !y.length) return null;
  return x.length === y.length && x.every((u, i) => u === y[i]);
}
