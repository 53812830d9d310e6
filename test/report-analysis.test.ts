import { describe, expect, test } from "vitest";
import { compactLane } from "../src/analysis/report/requests.js";
import { minMaxPerBucket, stackedPerBucket } from "../src/render/html/downsample.js";
import { escapeHtml, scriptJson } from "../src/render/html/encode.js";

describe("min/max per pixel bucket", () => {
  const n = 100_000;
  const x = Float64Array.from({ length: n }, (_, i) => i * 1000);
  const y = new Float64Array(n);
  y[54_321] = 100; // a one-step spike
  y[77_777] = -5; // and a dip
  test("a one-step spike and dip survive at full height; at most 2 points per bucket", () => {
    const d = minMaxPerBucket(x, [y], 1000);
    expect(d.points).toBe(n);
    expect(d.x.length).toBeLessThanOrEqual(2000);
    expect(Math.max(...d.ys[0])).toBe(100);
    expect(Math.min(...d.ys[0])).toBe(-5);
    // the spike is drawn where it happened (within its bucket's span)
    const at = d.x[d.ys[0].indexOf(100)];
    expect(Math.abs(at - x[54_321])).toBeLessThanOrEqual((x[n - 1] / 1000) * 1.01);
    expect([...d.x].every((v, i) => i === 0 || v >= d.x[i - 1])).toBe(true);
  });
  test("small series are not touched", () => {
    const d = minMaxPerBucket(x.subarray(0, 1500), [y.subarray(0, 1500)], 1000);
    expect(d.x.length).toBe(1500);
  });
  test("stacked: layers taken at the same steps, so they add up to a real total", () => {
    const a = Float64Array.from({ length: n }, (_, i) => i % 7);
    const b = Float64Array.from({ length: n }, (_, i) => (i === 54_321 ? 1000 : i % 3));
    const d = stackedPerBucket(x, [a, b], 1000);
    const totals = d.ys[0].map((v, i) => v + d.ys[1][i]);
    expect(Math.max(...totals)).toBe(54_321 % 7 + 1000);
    const real = new Set(Array.from({ length: n }, (_, i) => a[i] + b[i]));
    for (const t of totals) expect(real.has(t)).toBe(true);
  });
});

describe("data in a script element", () => {
  test("no byte sequence can end the element; JSON.parse gives the ids back; typed arrays travel as base64", () => {
    const ids = ["</script><script>alert(1)</script>", '"><img src=x onerror=alert(1)>', "a\u2028b\u2029c", "<!--", "&amp;"];
    const text = scriptJson({ ids, v: Float64Array.from([1.5, NaN, -2]) });
    expect(text).not.toMatch(/[<>&\u2028\u2029]/);
    const back = JSON.parse(text) as { ids: string[]; v: { $t: string; n: number; b64: string } };
    expect(back.ids).toEqual(ids);
    const bytes = Buffer.from(back.v.b64, "base64");
    expect(Array.from(new Float64Array(bytes.buffer, bytes.byteOffset, back.v.n))).toEqual([1.5, NaN, -2]);
    expect(escapeHtml(ids[1])).toBe("&#34;&#62;&#60;img src=x onerror=alert(1)&#62;");
  });
});

describe("compactLane", () => {
  test("a lane alternating step by step keeps its span, at most k segments, and its long states", () => {
    const segs: number[] = [];
    for (let i = 0; i < 200; i++) segs.push(i, i + 1, i % 2); // causes 0/1 alternating
    segs.push(200, 400, 5); // then 200 steps of state 5
    const out = compactLane(segs, 32);
    expect(out.length / 3).toBeLessThanOrEqual(32);
    expect(out[0]).toBe(0);
    expect(out[out.length - 2]).toBe(400);
    for (let k = 3; k < out.length; k += 3) expect(out[k]).toBe(out[k - 2]); // contiguous
    const five = out.filter((_, k) => k % 3 === 2).indexOf(5);
    expect(out[five * 3]).toBe(200);
    // each span takes the state covering most of it: the alternating ones (either), then 5; nothing invented
    const codes = new Set(out.filter((_, k) => k % 3 === 2));
    expect(codes.has(5)).toBe(true);
    for (const c of codes) expect([0, 1, 5]).toContain(c);
  });
});
