import { readFileSync } from "node:fs";
import path from "node:path";
import { describe, expect, it } from "vitest";
import { WaitingQueue, type QueueEntry } from "../src/engine/waiting-queue.js";

/** The FCFS rule's vectors, shared with the emitter's pytest (emitter/tests/test_order_rule.py). */
const { cases } = JSON.parse(readFileSync(path.join(import.meta.dirname, "vectors", "fcfs-waiting-order.json"), "utf8")) as {
  cases: { name: string; previous: string[]; arrivals: string[]; removed: string[]; preempted: string[]; expected: string[] }[];
};

describe("the engine's FCFS waiting queue follows the documented rule", () => {
  it("has the shared vectors", () => expect(cases.length).toBeGreaterThanOrEqual(10));
  for (const c of cases) {
    it(c.name, () => {
      const entries = new Map<string, QueueEntry>();
      const entry = (id: string) => entries.get(id) ?? (entries.set(id, { id, priority: 0, arrivalKey: "", kvHolding: false }), entries.get(id)!);
      const q = new WaitingQueue<QueueEntry>(false, (id) => entries.get(id));
      for (const id of c.previous) q.arrive(entry(id));
      q.applyStep([], null);
      expect(q.current().map((e) => e.id)).toEqual(c.previous);
      for (const id of c.arrivals) q.arrive(entry(id));
      for (const id of c.removed) q.remove(id);
      q.applyStep(c.preempted.map(entry), null);
      expect(q.current().map((e) => e.id)).toEqual(c.expected);
    });
  }
});
