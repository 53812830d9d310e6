/**
 * Formats relative ns as absolute epoch ns text without BigInt on the hot path:
 * epochZero is split into whole seconds and a sub-second remainder, and the
 * relative time (exact in a double below 2^53) is added to the remainder.
 */
export function epochFormatter(epochZeroNs: bigint): (relNs: number) => string {
  const NS = 1_000_000_000n;
  const hi = Number(epochZeroNs / NS); // whole seconds, ~1.7e9: exact
  const lo = Number(epochZeroNs % NS);
  return (relNs: number): string => {
    const s = lo + relNs;
    const carry = Math.floor(s / 1e9);
    const sec = hi + carry;
    const sub = s - carry * 1e9;
    if (sec <= 0) return (BigInt(hi) * NS + BigInt(lo) + BigInt(relNs)).toString();
    return `${sec}${String(sub).padStart(9, "0")}`;
  };
}

/** a - b for two absolute-ns decimal strings, as a number (the difference is small). */
export function diffAbsNs(a: string, b: string): number {
  return Number(BigInt(a) - BigInt(b));
}

/** Compare two non-negative integer decimal strings numerically without BigInt. */
export function compareDecimal(a: string, b: string): number {
  if (a.length !== b.length) return a.length - b.length;
  return a < b ? -1 : a > b ? 1 : 0;
}

/**
 * vLLM's Request.arrival_time is frontend wall-clock (epoch) seconds, taken moments before the
 * scheduler's add_request(); offline callers may pass any float (vLLM's own tests pass 1.0).
 * Farther than this from the scheduler's own epoch clock at add_request(), it is not epoch time.
 */
export const VLLM_ARRIVAL_MAX_SKEW_NS = 3_600_000_000_000n; // one hour

/** True when vllmArrivalEpochNs is within VLLM_ARRIVAL_MAX_SKEW_NS of schedulerEpochNs (both decimal ns). */
export function plausibleVllmArrival(vllmArrivalEpochNs: string, schedulerEpochNs: string): boolean {
  const d = BigInt(vllmArrivalEpochNs) - BigInt(schedulerEpochNs);
  return d <= VLLM_ARRIVAL_MAX_SKEW_NS && d >= -VLLM_ARRIVAL_MAX_SKEW_NS;
}
