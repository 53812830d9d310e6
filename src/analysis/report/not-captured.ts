import type { TableSource } from "../../tables/types.js";

/** the why of the first source header's not_captured entry whose what starts with `prefix` (the emitter's NOT_CAPTURED_WHAT); null when none has one */
export function notCapturedWhy(source: TableSource, prefix: string): string | null {
  for (const s of source.info.sources) {
    const nc = (s.header.not_captured ?? []).find((x) => x.what.startsWith(prefix));
    if (nc) return nc.why;
  }
  return null;
}
