import type { TableSource } from "../../tables/types.js";

/** the why of the first source header's not_captured entry whose what starts with `prefix` (the emitter's NOT_CAPTURED_WHAT); null when none has one */
export function notCapturedWhy(source: TableSource, prefix: string): string | null {
  for (const s of source.info.sources) {
    const nc = (s.header.not_captured ?? []).find((x) => x.what.startsWith(prefix));
    if (nc) return nc.why;
  }
  return null;
}

/** what a per-step series without a point lacks, most specific first */
export interface MissingWhy {
  /** the figures are there but none follows a step it can be divided over */
  noInterval: string;
  /** the start of the emitter's not_captured entry for the figures */
  notCaptured: string;
  /** the trace has no figures and its header does not say why */
  none: string;
}

/** why no rank has a series of `figures` per-step figures: no interval, else the trace header's words, else what the tables lack */
export function missingWhy(source: TableSource, figures: number, why: MissingWhy): string {
  if (figures > 0) return why.noInterval;
  return notCapturedWhy(source, why.notCaptured) ?? why.none;
}
