import { LIMITS, type Limit, type LimitsConfig, type LoopRequest, type StepInput } from "../../src/engine/binding-limits.js";

/**
 * The straightforward reading of vLLM's waiting loop, kept as the reference for binding_limits
 * (the implementation before the fast paths): one full walk per relaxation set per request.
 * test/binding-limits-fast.test.ts and test/binding-carry.test.ts compare the engine with it.
 */
const INF = Number.POSITIVE_INFINITY;
const cdiv = (a: number, b: number) => Math.ceil(a / b);

export function referenceAdmitted(cfg: LimitsConfig, st: StepInput, relax: ReadonlySet<Limit>, removeAhead = -1): Set<string> {
  const out = new Set<string>();
  const admittedTokens = st.admitted.reduce((n, a) => n + a.tokens, 0);
  const admittedBlocks = st.admitted.reduce((n, a) => n + a.blocks, 0);
  let budget = relax.has("token_budget") ? INF : st.budgetLeft + admittedTokens;
  let running: number;
  let free: number;
  if (st.victims.length === 0) {
    running = st.running - st.admitted.length;
    free = relax.has("kv_blocks") ? INF : st.freeBlocks + admittedBlocks;
  } else {
    if (!relax.has("kv_blocks")) return out;
    if (!relax.has("token_budget")) for (const v of st.victims) budget -= Math.min(v.need, Math.max(0, budget));
    running = st.running + st.victims.length;
    free = INF;
  }
  if (st.victims.length > 0 && !relax.has("token_budget")) {
    let b = st.budgetLeft;
    for (const v of st.victims) {
      if (b <= 0) break;
      out.add(v.req.id);
      b -= v.need;
    }
  }
  const loras = new Set(st.runningLoras);
  const threshold = cfg.longPrefillThreshold > 0 && st.eligible > 1 ? cfg.longPrefillThreshold : INF;
  let queue = [...st.admitted.map((a) => a.req), ...st.waiting];
  if (st.order) {
    const byId = new Map(queue.map((q) => [q.id, q]));
    const ordered: LoopRequest[] = [];
    for (const id of st.order) {
      const q = byId.get(id);
      if (q) {
        ordered.push(q);
        byId.delete(id);
      }
    }
    for (const q of queue) if (byId.has(q.id)) ordered.push(q);
    queue = ordered;
  }
  const victims = new Set(st.victims.map((v) => v.req.id));
  const removed = new Set(removeAhead > 0 ? st.waiting.slice(0, removeAhead).map((q) => q.id) : []);
  for (const q of queue) {
    if (victims.has(q.id) || removed.has(q.id)) continue;
    if (!relax.has("max_num_seqs") && running >= cfg.maxNumSeqs) break;
    if (budget <= 0) break;
    if (q.blockedOther) continue;
    if (q.lora !== null && q.lora > 0 && cfg.maxLoras !== null && !relax.has("max_loras") && !loras.has(q.lora) && loras.size >= cfg.maxLoras) continue;
    let chunk = Math.min(Math.max(1, q.tokens - q.computed), threshold);
    if (!cfg.chunkedPrefill && chunk > budget) {
      if (cfg.skipOversizedPrompt) continue;
      break;
    }
    chunk = Math.min(chunk, budget);
    const held = Math.floor(q.computed / cfg.blockSize) - (q.evictable ?? 0);
    const alloc = Math.max(0, cdiv(q.computed + chunk, cfg.blockSize) - held);
    const gate = cfg.reserveFullIsl ? Math.max(alloc, cdiv(Math.min(q.tokens, cfg.maxModelLen), cfg.blockSize) - held) : alloc;
    if (gate > free) break;
    running++;
    budget -= chunk;
    free -= alloc;
    if (q.lora !== null && q.lora > 0) loras.add(q.lora);
    out.add(q.id);
  }
  return out;
}

export function referenceSets(cfg: LimitsConfig, st: StepInput): (Limit[][] | null)[] {
  const limits = LIMITS.filter((l) => l !== "max_loras" || cfg.maxLoras !== null);
  const order: Limit[][] = [];
  for (let mask = 0; mask < 1 << limits.length; mask++) order.push(limits.filter((_, i) => mask & (1 << i)));
  order.sort((a, b) => a.length - b.length || LIMITS.indexOf(a[0]) - LIMITS.indexOf(b[0]));
  return st.waiting.map((q, pos) => {
    const minimal: Limit[][] = [];
    for (const set of order) {
      if (minimal.some((m) => m.every((l) => set.includes(l)))) continue;
      if (set.includes("head_only") && pos === 0) continue;
      const ok = set.includes("head_only")
        ? referenceAdmitted(cfg, st, new Set(set.filter((l) => l !== "head_only")), pos).has(q.id)
        : referenceAdmitted(cfg, st, new Set(set)).has(q.id);
      if (ok) {
        if (set.length === 0) return null;
        minimal.push(set);
      }
    }
    return minimal;
  });
}

