import type { FinishReason, PredictionRecord } from "../schema/raw.js";
import type { PredictionRow } from "../schema/tables.js";

/**
 * Length predictions per live request (trace `prediction` records), held until the
 * request finishes: only then is the true remaining length known, so rows leave at
 * completion and the engine stays streaming. Bounded: at most MAX_PER_REQUEST
 * predictions are kept per request (a re-prediction every 50 tokens reaches it only
 * past 200k output tokens); the rest are counted and reported.
 */
export const MAX_PER_REQUEST = 4096;

interface Held {
  t: number;
  outputTokens: number;
  predicted: number | null;
}

export class PredictionLog {
  private readonly held = new Map<string, Held[]>();
  private droppedCount = 0;

  constructor(private readonly dpRank: number) {}

  /** false when the per-request bound was reached and the prediction was not kept */
  add(rec: PredictionRecord, t: number): boolean {
    let list = this.held.get(rec.req);
    if (!list) this.held.set(rec.req, (list = []));
    if (list.length >= MAX_PER_REQUEST) {
      this.droppedCount++;
      return false;
    }
    list.push({ t, outputTokens: rec.output_tokens, predicted: rec.predicted_remaining });
    return true;
  }

  get dropped(): number {
    return this.droppedCount;
  }

  /** The request ended (finished, or unfinished at trace end): its rows, and it is forgotten. */
  complete(id: string, instance: number, finalOutputTokens: number, reason: FinishReason | "unfinished", emit: (row: PredictionRow) => void): void {
    const list = this.held.get(id);
    if (!list) return;
    this.held.delete(id);
    list.forEach((p, i) =>
      emit({
        request_id: id,
        prediction_time: p.t,
        prediction_index: i,
        output_tokens_at_prediction: p.outputTokens,
        predicted_remaining_tokens: p.predicted,
        actual_remaining_tokens: reason === "unfinished" ? null : Math.max(0, finalOutputTokens - p.outputTokens),
        final_output_tokens: finalOutputTokens,
        finish_reason: reason,
        dp_rank: this.dpRank,
        request_instance: instance,
      }),
    );
  }
}
