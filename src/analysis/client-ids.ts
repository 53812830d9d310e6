/**
 * Keys that pair the requests of two runs of the same workload by the id the client gave them.
 *
 * Why not request_id alone: vLLM's engines (AsyncLLM and LLM, through
 * InputProcessor.assign_request_id; in 0.24.0 and 0.34.0, not in 0.11.0) append "-" and 8
 * random hex characters to each client id, so two real runs of the same requests share no
 * request_id ("r0-ac7c2d2d" in one, "r0-bb9725ee" in the other). A run whose every id ends so is
 * read as suffixed and the suffix is dropped. A replay keeps the recorded ids, suffix and all, so
 * it and its recording are read alike. (Setting VLLM_DISABLE_REQUEST_ID_RANDOMIZATION, or driving
 * the scheduler directly as the harness does, leaves the ids as given.)
 *
 * A client id may recur in a run (vLLM suffixes precisely so that it may; ids are also reused
 * after a request finishes), so the key is the id and its place among that id's requests by
 * arrival: the k-th "r0" of one run pairs with the k-th "r0" of the other.
 */
const VLLM_SUFFIX = /-[0-9a-f]{8}$/;
const SUFFIX_LENGTH = 9;

/** whether vLLM suffixed this run's ids: all of them end in "-" and 8 lowercase hex characters */
export function idsSuffixed(ids: readonly string[]): boolean {
  return ids.length > 0 && ids.every((id) => VLLM_SUFFIX.test(id));
}

/** the id without vLLM's suffix where it has one (read one id at a time; a run is suffixed only if all are) */
export function withoutSuffix(id: string): string {
  return VLLM_SUFFIX.test(id) ? id.slice(0, -SUFFIX_LENGTH) : id;
}

/** the client's id of each request, in the order given */
export function clientIds(ids: readonly string[]): string[] {
  return idsSuffixed(ids) ? ids.map(withoutSuffix) : [...ids];
}

/**
 * One pairing key per request, in the order given: its client id and its place among the
 * requests with that id by arrival (null arrivals last, ties in the order given); and whether the
 * run's ids were read as suffixed, which callers report (one pass over the ids for both).
 */
export function pairingKeys(ids: readonly string[], arrivals: readonly (number | null)[]): { keys: string[]; suffixed: boolean } {
  const suffixed = idsSuffixed(ids);
  const client = suffixed ? ids.map(withoutSuffix) : ids;
  const byId = new Map<string, number[]>();
  client.forEach((c, i) => {
    const list = byId.get(c);
    if (list) list.push(i);
    else byId.set(c, [i]);
  });
  const keys = new Array<string>(ids.length);
  const at = (i: number) => arrivals[i] ?? Infinity;
  for (const [c, list] of byId) {
    if (list.length > 1) list.sort((a, b) => at(a) - at(b) || a - b);
    list.forEach((i, k) => (keys[i] = `${c}\u0000${k}`));
  }
  return { keys, suffixed };
}
