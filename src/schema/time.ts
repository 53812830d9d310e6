import { z } from "zod";

/**
 * Nanoseconds relative to the trace's clock anchor (header.clock.monotonic_ns).
 * Kept as a JS number: relative spans stay below 2^53 ns (104 days) and are exact.
 */
export const RelNs = z.number().int().meta({ description: "integer nanoseconds since the trace's clock anchor (monotonic clock)" });

/**
 * Absolute nanoseconds (epoch or raw monotonic). These exceed 2^53, so the trace
 * carries them as decimal strings and vsched only ever handles them as BigInt or text.
 */
export const AbsNs = z.string().regex(/^-?\d+$/).meta({ description: "absolute integer nanoseconds as a decimal string (exceeds 2^53)" });
