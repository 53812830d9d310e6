import { existsSync, readdirSync, readFileSync } from "node:fs";
import path from "node:path";
import { describe, expect, it } from "vitest";
import { LanePacker } from "../src/analysis/timeline/lanes.js";
import { ProtoWriter } from "../src/render/perfetto/proto.js";
import { expectGolden, runCli } from "./helpers/golden.js";
import { tmpDir } from "./helpers/trace.js";

// The decoding checks (Perfetto's protos against convert's tables) are in
// test/python/perfetto; here: the encoder's byte-level cases, the lane packer, and the
// CLI's transcripts. After an intended change: UPDATE_GOLDEN=1 npx vitest run test/timeline.test.ts
const KV = "fixtures/kv-pressure-preempt/vsched-1-dp0.jsonl";

const hex = (w: ProtoWriter) => w.buf.subarray(0, w.pos).toString("hex");

describe("ProtoWriter: the protobuf encodings of the spec (protobuf.dev/programming-guides/encoding)", () => {
  it("writes varints, negative int64 and fixed64 as the spec's examples", () => {
    const w = new ProtoWriter();
    w.uint(1, 150);
    expect(hex(w)).toBe("089601"); // the spec's own example
    w.reset();
    w.rawVarint(2 ** 53 - 1);
    expect(hex(w)).toBe("ffffffffffffff0f");
    w.reset();
    w.int(4, -1);
    expect(hex(w)).toBe("20ffffffffffffffffff01");
    w.reset();
    w.fixed64(47, 2 ** 32 + 5);
    expect(hex(w)).toBe("f90205000000" + "01000000");
  });

  it("gives a nested message longer than 127 bytes a two-byte length", () => {
    const w = new ProtoWriter();
    w.begin(11);
    w.string(23, "x".repeat(200));
    w.end();
    // 5a = field 11, wire 2; length 204 = cc 01 (2-byte tag ba 01 for field 23, 2-byte length c8 01 = 200, 200 bytes)
    expect(hex(w).slice(0, 14)).toBe("5acc01ba01c801");
    expect(w.pos).toBe(3 + 204);
  });

  it("writes strings as UTF-8 bytes, whatever they contain", () => {
    const w = new ProtoWriter();
    w.string(2, 'a"\n名');
    expect(hex(w)).toBe("1206" + Buffer.from('a"\n名', "utf8").toString("hex"));
  });
});

describe("LanePacker", () => {
  it("never puts overlapping or touching intervals on one lane, and reuses freed lanes first", () => {
    const p = new LanePacker();
    expect(p.place(0, 10)).toBe(0);
    expect(p.place(5, 12)).toBe(1);
    expect(p.place(10, 20)).toBe(2); // touches lane 0's end: another lane
    expect(p.place(13, 30)).toBe(0);
    expect(p.count).toBe(3);
  });
});

describe("vsched timeline (golden transcripts)", { timeout: 120_000 }, () => {
  it("writes the protobuf form of a real trace", async () => {
    const dir = tmpDir();
    const r = await runCli(["timeline", KV, "-o", path.join(dir, "run.perfetto-trace")]);
    expect(existsSync(path.join(dir, "run.perfetto-trace"))).toBe(true);
    expect(readdirSync(dir)).toEqual(["run.perfetto-trace"]);
    expectGolden("test/golden/timeline-proto.md", r);
  });

  it("writes the Chrome JSON form (chosen by the .json of -o)", async () => {
    const dir = tmpDir();
    const out = path.join(dir, "run.json");
    const r = await runCli(["timeline", KV, "-o", out, "--requests", "3,7", "--from", "1s", "--to", "20s"]);
    const text = readFileSync(out, "utf8");
    JSON.parse(text);
    const head = text.split("\n").filter((l) => !l.includes('"ph":"C"') && !l.includes('"ph":"X","pid":1,"tid":1,')).slice(0, 30).join("\n");
    expectGolden("test/golden/timeline-json.md", r, [{ title: "run.json (without iterations and counters, first 30 lines)", body: head, lang: "json" }]);
  });

  it("warns when per_iteration_requests cannot give the causes (a logs directory converted without them)", async () => {
    const dir = tmpDir();
    const logs = path.join(dir, "logs");
    await runCli(["convert", KV, "-o", logs, "-q", "--iteration-requests", "none"]);
    const r = await runCli(["timeline", logs, "-o", path.join(dir, "t.perfetto-trace"), "--requests", "0,no-such-request"]);
    expectGolden("test/golden/timeline-no-causes.md", r);
  });

  it("refuses a time without a unit", async () => {
    const r = await runCli(["timeline", KV, "-o", path.join(tmpDir(), "t.perfetto-trace"), "--from", "90"]);
    expectGolden("test/golden/timeline-bad-time.md", r);
  });

  it("names a missing --requests file", async () => {
    const r = await runCli(["timeline", KV, "-o", path.join(tmpDir(), "t.perfetto-trace"), "--requests", "@no-such-file.txt"]);
    expectGolden("test/golden/timeline-requests-file-missing.md", r);
  });

  it("leaves no file behind when the input turns out to be malformed", async () => {
    const dir = tmpDir();
    const r = await runCli(["timeline", "test/data/convert/malformed.jsonl", "-o", path.join(dir, "t.perfetto-trace")]);
    expect(readdirSync(dir)).toEqual([]);
    expectGolden("test/golden/timeline-malformed.md", r);
  });

  it("says why the output cannot be written", async () => {
    const r = await runCli(["timeline", KV, "-o", path.join(tmpDir(), "no-such-dir", "t.perfetto-trace")]);
    expectGolden("test/golden/timeline-out-unwritable.md", r);
  });

  it("prints help ending in runnable examples", async () => {
    const r = await runCli(["timeline", "--help"]);
    expectGolden("test/golden/timeline-help.md", r);
  });
});

