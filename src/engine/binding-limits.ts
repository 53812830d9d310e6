/**
 * binding_limits: which limits would have had to be larger for a waiting request to be
 * admitted at a decision (docs/waiting-reasons.md, "Binding limits"). Pure: a step's facts
 * in, one label per waiting request out.
 *
 * It replays vLLM's waiting loop offline (requests examined head to tail; a break on
 * max_num_seqs, the token budget, a prompt larger than the budget with chunked prefill off,
 * or a failed KV allocation; LoRA-slot skips) once per relaxation set, with each limit
 * either as it was or unlimited, and keeps the minimal sets that admit the request: a set
 * is minimal when it admits it and no proper subset does. The counterfactual oracle of the
 * harness (emitter/src/vsched_emitter/harness/counterfactual.py) does the same with vLLM's
 * own schedule() on copies of the scheduler; test/binding-limits-agreement.test.ts compares.
 */

import { BIND_BUCKETS, formatLimitSets, LIMITS, type BindBucket, type Limit } from "../schema/binding.js";
import { ADMIT, isPlainStep, relaxationsFor, relaxBits, runLoop, scratch, shared, stateAfterAdmitted, stepIndex, walkIndex, examine, type LimitsConfig, type Relax, type StepIndex, type StepInput } from "./binding-loop.js";
import { plainStepSets } from "./binding-plain-step.js";

export { BIND_BUCKETS, LIMITS, type BindBucket, type Limit };
export type { LimitsConfig, LoopRequest, StepInput } from "./binding-loop.js";

/**
 * The ids this relaxation admits. `removeAhead` drops the waiting requests ahead of that
 * index (head_only). Victims count as admitted when they keep running.
 */
export function admittedUnder(cfg: LimitsConfig, st: StepInput, relax: ReadonlySet<Limit>, removeAhead = -1): Set<string> {
  return admittedUnderBits(cfg, st, relaxBits(relax), removeAhead);
}

function admittedUnderBits(cfg: LimitsConfig, st: StepInput, relax: Relax, removeAhead = -1): Set<string> {
  const out = new Set<string>();
  runLoop(cfg, st, relax, removeAhead, null, out);
  return out;
}

/**
 * admittedUnder(…).has(target) without walking past it: the loop's state when it reaches
 * `target` decides, and what it does after cannot change that. head_only's general case
 * (admitsAlone covers the usual one).
 */
function admits(cfg: LimitsConfig, st: StepInput, relax: Relax, removeAhead: number, target: string): boolean {
  const out = new Set<string>();
  runLoop(cfg, st, relax, removeAhead, target, out);
  return out.has(target);
}


/**
 * head_only for the waiting request at `pos`: the loop with everything ahead of it removed.
 * Without reordering that is the admitted requests, then the request itself, so the state
 * after the admitted ones is computed once per relaxation and each request costs one
 * examine() (a 1,000-deep queue asks this ~10 times per request per step). Only where
 * canAskAlone holds.
 */
function admitsAlone(cfg: LimitsConfig, st: StepInput, ix: StepIndex, relax: Relax, pos: number): boolean {
  let after = ix.afterAdmitted.get(relax);
  if (after === undefined) {
    after = stateAfterAdmitted(cfg, st, relax, ix);
    ix.afterAdmitted.set(relax, after);
  }
  if (after === null) return false;
  scratch.running = after.running;
  scratch.budget = after.budget;
  scratch.free = after.free;
  scratch.loras = after.loras && new Set(after.loras);
  return examine(cfg, st, relax, ix.threshold, st.waiting[pos], scratch) === ADMIT;
}

/**
 * Whether admitsAlone answers for the request at `pos`: not with a reordered queue or
 * duplicate ids (then "everything ahead" is not one stretch), nor for a victim (the running
 * loop may admit it); admits() walks the loop then.
 */
function canAskAlone(st: StepInput, ix: StepIndex, pos: number): boolean {
  const id = st.waiting[pos].id;
  const w = walkIndex(st, ix);
  return w.simple && !(st.victims.length > 0 && ix.victims.has(id)) && w.waitingIndex.get(id) === pos && w.lastAt.get(id) === st.admitted.length + pos;
}


/**
 * The minimal relaxation sets for every waiting request, in queue order. A request that no
 * set admits gets []: none of these limits holds it (a grammar, a remote KV transfer, ...).
 * A request the replay admits with nothing relaxed (the replay disagrees with vLLM) gets
 * null, and the caller falls back to the structural label.
 */
export function bindingSets(cfg: LimitsConfig, st: StepInput): (Limit[][] | null)[] {
  const order = relaxationsFor(cfg);
  const ix = stepIndex(cfg, st);
  if (isPlainStep(st, ix)) return plainStepSets(cfg, st, ix, order);
  // what each relaxation admits, once per step, computed when first asked
  const admitted: (Set<string> | undefined)[] = new Array(order.length);
  const masks: number[] = [];
  return st.waiting.map((q, pos) => {
    let found = 0; // bit i: order[i] is a minimal set (at most 32 relaxations)
    masks.length = 0;
    const alone = pos > 0 && canAskAlone(st, ix, pos);
    next: for (let i = 0; i < order.length; i++) {
      const o = order[i];
      for (const m of masks) if ((m & o.mask) === m) continue next;
      let ok: boolean;
      if (o.headOnly) {
        if (pos === 0) continue; // nothing ahead: head_only changes nothing
        ok = alone ? admitsAlone(cfg, st, ix, o.relax, pos) : admits(cfg, st, o.relax, pos, q.id);
      } else {
        ok = (admitted[i] ??= admittedUnderBits(cfg, st, o.relax)).has(q.id);
      }
      if (ok) {
        if (o.set.length === 0) return null;
        found |= 1 << i;
        masks.push(o.mask);
      }
    }
    return shared(order, found >>> 0);
  });
}


const formatted = new WeakMap<readonly (readonly Limit[])[], string>();

/** The column text: minimal sets joined by "|", a set's limits by "+"; "none" when no set admits. */
export function formatSets(sets: readonly (readonly Limit[])[]): string {
  let text = formatted.get(sets);
  if (text === undefined) formatted.set(sets, (text = formatLimitSets(sets)));
  return text;
}

export function parseSets(text: string): Limit[][] {
  if (text === "none" || text === "") return [];
  return text.split("|").map((s) => s.split("+") as Limit[]);
}

/** The time-split bucket of one decision's sets. */
export function bucketOf(sets: readonly (readonly Limit[])[]): BindBucket {
  if (sets.length === 0) return "none";
  if (sets.length > 1) return "alternatives";
  return sets[0].length === 1 ? sets[0][0] : "joint";
}

