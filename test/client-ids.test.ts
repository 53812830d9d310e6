import { describe, expect, it } from "vitest";
import { clientIds, idsSuffixed, pairingKeys } from "../src/analysis/client-ids.js";

/**
 * Pairing keys across runs (src/analysis/client-ids.ts). The suffix is vLLM's own format:
 * InputProcessor.assign_request_id writes f"{external_req_id}-{random_uuid():.8}", and
 * random_uuid() is uuid4().hex (lowercase hex), as in the H100 traces ("r0-ac7c2d2d").
 */
describe("client request ids", () => {
  it("drops vLLM's suffix only where every id of the run carries one", () => {
    expect(clientIds(["r0-ac7c2d2d", "warm0-a596385d", "cmpl-8f7e86da003c6d30-0-8290ebca"])).toEqual(["r0", "warm0", "cmpl-8f7e86da003c6d30-0"]);
    // one id without it: the client's own ids, some of which merely look suffixed
    expect(clientIds(["r0-ac7c2d2d", "r1"])).toEqual(["r0-ac7c2d2d", "r1"]);
    // not vLLM's: upper case, 7 or 9 characters, no dash
    for (const id of ["r0-AC7C2D2D", "r0-ac7c2d2", "r0-ac7c2d2d0", "r0ac7c2d2d"]) expect(idsSuffixed([id]), id).toBe(false);
    expect(idsSuffixed([])).toBe(false);
  });

  it("keys a client id used more than once by its place in arrival order", () => {
    const ids = ["a-00000001", "b-00000002", "a-00000003", "a-00000004"];
    const { keys, suffixed } = pairingKeys(ids, [30, 10, 10, null]);
    expect(suffixed).toBe(true);
    expect(keys).toEqual(["a\u00001", "b\u00000", "a\u00000", "a\u00002"]);
    // the other run's "a"s arrived in another order: the first to arrive pairs with the first
    const other = pairingKeys(["a-0000000f", "a-0000000e", "b-0000000d"], [11, 31, 9]).keys;
    expect(other).toEqual(["a\u00000", "a\u00001", "b\u00000"]);
  });

  it("leaves a run's unique plain ids as they are", () => {
    expect(pairingKeys(["0", "1", "2"], [3, 2, 1])).toEqual({ keys: ["0\u00000", "1\u00000", "2\u00000"], suffixed: false });
  });
});
