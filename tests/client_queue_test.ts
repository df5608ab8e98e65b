import assert from "node:assert/strict";
import {
  createClientQueue,
  type SlowPolicy,
} from "../server/modes/client_queue.ts";
import type { OutFrame } from "../server/core/frame.ts";

const frame = (seq: number, bytes = 10, key?: string): OutFrame => ({
  seq,
  text: "x".repeat(bytes),
  bytes,
  enqueuedAt: 0,
  ...(key === undefined ? {} : { key }),
});

function drain(q: ReturnType<typeof createClientQueue>): number[] {
  const out: number[] = [];
  for (let f = q.shift(); f; f = q.shift()) out.push(f.seq);
  return out;
}

Deno.test("createClientQueue() applies each policy at the count bound", async (t) => {
  const want: Record<
    SlowPolicy,
    { seqs: number[]; dropped: number; overflow: boolean }
  > = {
    "drop-oldest": { seqs: [3, 4, 5], dropped: 2, overflow: false },
    "drop-newest": { seqs: [1, 2, 3], dropped: 2, overflow: false },
    "disconnect": { seqs: [1, 2, 3], dropped: 2, overflow: true },
    "conflate": { seqs: [3, 4, 5], dropped: 2, overflow: false }, // no keys: like drop-oldest
    "ladder": { seqs: [3, 4, 5], dropped: 2, overflow: false }, // not conflating until its tier says so
  };
  for (
    const [policy, expected] of Object.entries(want) as [
      SlowPolicy,
      typeof want[SlowPolicy],
    ][]
  ) {
    await t.step(policy, () => {
      const q = createClientQueue({ maxsize: 3, maxBytes: Infinity, policy });
      let dropped = 0;
      let overflow = false;
      for (let seq = 1; seq <= 5; seq++) {
        const r = q.push(frame(seq));
        dropped += r.dropped;
        overflow ||= r.overflow;
      }
      assert.equal(dropped, expected.dropped);
      assert.equal(overflow, expected.overflow);
      assert.deepEqual(drain(q), expected.seqs);
    });
  }
});

Deno.test("createClientQueue() bounds bytes as well as count (--max-queue-bytes)", () => {
  const q = createClientQueue({
    maxsize: 100,
    maxBytes: 250,
    policy: "drop-oldest",
  });
  for (let seq = 1; seq <= 5; seq++) q.push(frame(seq, 100));
  assert.equal(q.length, 2);
  assert.equal(q.bytes, 200);
  assert.equal(q.isFull, false);
  q.push(frame(6, 50));
  assert.equal(q.isFull, true, "250 of 250 bytes");
  assert.deepEqual(drain(q), [4, 5, 6]);
  assert.equal(q.bytes, 0);
});

Deno.test("createClientQueue() still queues one message larger than the byte bound on its own", () => {
  const q = createClientQueue({
    maxsize: 10,
    maxBytes: 100,
    policy: "drop-newest",
  });
  assert.deepEqual(q.push(frame(1, 500)), { dropped: 0, overflow: false });
  assert.equal(
    q.push(frame(2, 10)).dropped,
    1,
    "a full queue refuses the newest",
  );
  assert.deepEqual(drain(q), [1]);
});

Deno.test("conflate keeps the latest message per key in first-seen order and counts replacements", () => {
  const q = createClientQueue({
    maxsize: 3,
    maxBytes: Infinity,
    policy: "conflate",
  });
  const pushes: [number, string][] = [[1, "A"], [2, "B"], [3, "A"], [4, "C"], [
    5,
    "B",
  ], [6, "A"]];
  let dropped = 0;
  let conflated = 0;
  for (const [seq, key] of pushes) {
    const outcome = q.push(frame(seq, 10, key));
    dropped += outcome.dropped;
    conflated += outcome.conflated ?? 0;
  }
  assert.equal(conflated, 3, "three values superseded");
  assert.equal(dropped, 0, "superseded is not dropped");
  assert.deepEqual(drain(q), [6, 5, 4]);
  // After draining, a key is free again.
  q.push(frame(7, 10, "A"));
  q.push(frame(8, 10, "A"));
  assert.deepEqual(drain(q), [8]);
});

Deno.test("conflate evicts the oldest key when a new key arrives at the bound", () => {
  const q = createClientQueue({
    maxsize: 2,
    maxBytes: Infinity,
    policy: "conflate",
  });
  q.push(frame(1, 10, "A"));
  q.push(frame(2, 10, "B"));
  assert.equal(q.push(frame(3, 10, "C")).dropped, 1);
  q.push(frame(4, 10, "A")); // A was evicted: this is a new entry, evicting B
  assert.deepEqual(drain(q), [3, 4]);
});

Deno.test("createClientQueue() under ladder conflates only once told to, keyless messages per channel", () => {
  const q = createClientQueue({
    maxsize: 10,
    maxBytes: Infinity,
    policy: "ladder",
  });
  q.push(frame(1));
  q.push(frame(2));
  assert.equal(q.length, 2, "not conflating: both kept");
  assert.equal(q.setConflating!(true), 1, "1 superseded by 2");
  assert.equal(q.length, 1);
  assert.equal(q.push(frame(3)).conflated, 1, "replaces the keyless one");
  assert.equal(q.push(frame(4, 10, "a")).conflated ?? 0, 0);
  assert.equal(q.push(frame(5, 10, "a")).conflated, 1);
  assert.equal(q.bytes, 20);
  assert.deepEqual(drain(q), [3, 5]);
  q.setConflating!(false);
  q.push(frame(6));
  q.push(frame(7));
  assert.deepEqual(drain(q), [6, 7], "off again: nothing replaced");
});
