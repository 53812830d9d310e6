import { describe, expect, it } from "vitest";
import { LineSplitter, LineTooLongError } from "../src/parse/lines.js";

function split(chunks: (string | Uint8Array)[]) {
  const s = new LineSplitter();
  const lines: [number, string][] = [];
  for (const c of chunks) s.push(c, (t, n) => lines.push([n, t]));
  return { lines, tail: s.end(), count: s.lines };
}

/** every way of cutting `text` into two chunks, byte by byte */
function everyCut(text: string) {
  const b = Buffer.from(text, "utf8");
  return Array.from({ length: b.length + 1 }, (_, i) => [b.subarray(0, i), b.subarray(i)]);
}

describe("LineSplitter", () => {
  it("numbers lines from 1 and keeps the text", () => {
    expect(split(['{"a":1}\n{"b":2}\n']).lines).toEqual([
      [1, '{"a":1}'],
      [2, '{"b":2}'],
    ]);
  });

  it("gives the same lines wherever the chunks are cut, multi-byte characters included", () => {
    const text = 'first\n{"req":"é—日本"}\r\n\nlast line\n';
    const whole = split([text]);
    for (const cut of everyCut(text)) expect(split(cut)).toEqual(whole);
    // and one byte at a time
    expect(split([...Buffer.from(text)].map((b) => Uint8Array.of(b)))).toEqual(whole);
  });

  it("strips CR of CRLF, also when the CR ends a chunk", () => {
    expect(split(["a\r", "\nb\r\n"]).lines).toEqual([
      [1, "a"],
      [2, "b"],
    ]);
  });

  it("skips empty lines but counts them", () => {
    const r = split(["\n\na\n\r\n\nb\n"]);
    expect(r.lines).toEqual([
      [3, "a"],
      [6, "b"],
    ]);
    expect(r.count).toBe(6);
  });

  it("returns an unterminated last piece as the tail, with its line number", () => {
    const r = split(["a\nb\n{\"type\":", '"st']);
    expect(r.lines.map((l) => l[0])).toEqual([1, 2]);
    expect(r.tail).toEqual({ text: '{"type":"st', line: 3 });
    expect(split(["a\n"]).tail).toBeNull();
    expect(split([]).tail).toBeNull();
  });

  it("accepts string chunks", () => {
    expect(split(["x", "y\nz", "\n"]).lines).toEqual([
      [1, "xy"],
      [2, "z"],
    ]);
  });

  it("refuses a line longer than the limit instead of growing without bound", () => {
    const s = new LineSplitter(8);
    s.push("ok\n", () => {});
    expect(() => s.push("0123456789", () => {})).toThrow(LineTooLongError);
  });
});
