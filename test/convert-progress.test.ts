import { describe, expect, it } from "vitest";
import { colorEnabled, progressEnabled } from "../src/cli/io.js";
import { createProgress, renderProgressLine } from "../src/render/progress.js";

describe("progress and colour policy", () => {
  it("shows progress only on a TTY and never in CI", () => {
    expect(progressEnabled({ isTTY: true }, {})).toBe(true);
    expect(progressEnabled({ isTTY: true }, { CI: "true" })).toBe(false);
    expect(progressEnabled({ isTTY: false }, {})).toBe(false);
    expect(progressEnabled({}, {})).toBe(false);
  });

  it("colours only on a TTY without NO_COLOR (any value, even empty)", () => {
    expect(colorEnabled({ isTTY: true }, {})).toBe(true);
    expect(colorEnabled({ isTTY: true }, { NO_COLOR: "" })).toBe(false);
    expect(colorEnabled({ isTTY: false }, {})).toBe(false);
  });
});

describe("progress bar", () => {
  it("renders bytes, percent, rate and ETA within the terminal width", () => {
    const line = renderProgressLine(450e6, 1000e6, 3, 100);
    expect(line).toBe("converting [##################......................]  45% 450/1000 MB 150 MB/s ETA 4s");
    expect(line.length).toBeLessThan(100);
    expect(renderProgressLine(5, 10, 1, 30).length).toBeLessThanOrEqual(29);
  });

  it("draws nothing before its delay, throttles, and erases itself when done", () => {
    let now = 0;
    const out: string[] = [];
    const p = createProgress({ total: 100, stream: { write: (s: string) => out.push(s), columns: 80 }, delayMs: 500, intervalMs: 100, now: () => now });
    p.add(10);
    now = 400;
    p.add(10);
    expect(out).toEqual([]);
    now = 600;
    p.add(10);
    now = 650;
    p.add(10);
    expect(out).toHaveLength(1);
    expect(out[0]).toMatch(/^\rconverting \[.*\]  30% /);
    p.done();
    expect(out[1]).toBe("\r\x1b[2K");
  });

  it("leaves no trace when it never drew", () => {
    const out: string[] = [];
    const p = createProgress({ total: 1, stream: { write: (s: string) => out.push(s) }, now: () => 0 });
    p.add(1);
    p.done();
    expect(out).toEqual([]);
  });
});
