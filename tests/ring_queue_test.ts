import assert from "node:assert/strict";
import { RingQueue } from "../lib/ring_queue.ts";

Deno.test("RingQueue keeps FIFO order below its limit", () => {
  const q = new RingQueue<number>(4);
  for (const n of [1, 2, 3]) assert.equal(q.push(n), undefined);
  assert.equal(q.length, 3);
  assert.equal(q.isFull, false);
  assert.deepEqual([q.shift(), q.shift(), q.shift(), q.shift()], [
    1,
    2,
    3,
    undefined,
  ]);
  assert.equal(q.length, 0);
});

Deno.test("RingQueue.push() drops the oldest item when full and returns it", () => {
  const q = new RingQueue<string>(3);
  q.push("a");
  q.push("b");
  q.push("c");
  assert.equal(q.isFull, true);
  assert.equal(q.push("d"), "a");
  assert.equal(q.push("e"), "b");
  assert.equal(q.length, 3);
  assert.deepEqual([q.shift(), q.shift(), q.shift()], ["c", "d", "e"]);
});

Deno.test("RingQueue wraps around its backing array many times without losing order", () => {
  // limit 5 → capacity 8: head and tail wrap repeatedly.
  const q = new RingQueue<number>(5);
  let pushed = 0;
  let delivered = 0;
  let dropped = 0;
  let last = -1;
  for (let round = 0; round < 1000; round++) {
    for (let i = 0; i < (round % 7) + 1; i++) {
      if (q.push(pushed++) !== undefined) dropped++;
    }
    for (let i = 0; i < (round % 3) + 1 && q.length > 0; i++) {
      const got = q.shift()!;
      assert.ok(got > last, `out of order: ${got} after ${last}`);
      last = got;
      delivered++;
    }
    assert.ok(q.length <= 5);
  }
  let remaining = 0;
  while (q.shift() !== undefined) remaining++;
  assert.ok(dropped > 0, "the workload must overflow the queue");
  assert.equal(
    delivered + dropped + remaining,
    pushed,
    "every item is delivered, dropped or queued",
  );
});

Deno.test("RingQueue.peek() and clear() leave the queue usable", () => {
  const q = new RingQueue<number>(2);
  assert.equal(q.peek(), undefined);
  q.push(1);
  q.push(2);
  assert.equal(q.peek(), 1);
  q.clear();
  assert.equal(q.length, 0);
  assert.equal(q.shift(), undefined);
  q.push(3);
  assert.equal(q.shift(), 3);
});

Deno.test("RingQueue rejects a limit that is not a positive integer", async (t) => {
  for (const bad of [0, -1, 1.5, NaN]) {
    await t.step(`limit ${bad}`, () => {
      assert.throws(() => new RingQueue(bad), RangeError);
    });
  }
});

Deno.test("RingQueue grows on demand without losing order, then drops oldest at its limit", () => {
  const q = new RingQueue<number>(1000);
  const model: number[] = [];
  let next = 0;
  // Interleave pushes and shifts so the head sits mid-array when it grows.
  for (let round = 0; round < 200; round++) {
    for (let i = 0; i < 9; i++) {
      const dropped = q.push(next);
      model.push(next++);
      const expected = model.length > 1000 ? model.shift() : undefined;
      assert.equal(dropped, expected);
    }
    for (let i = 0; i < 3; i++) assert.equal(q.shift(), model.shift());
  }
  assert.equal(q.length, 997, "each round ends three below the limit");
  for (let i = 0; i < 3; i++) {
    q.push(next);
    model.push(next++);
  }
  assert.ok(q.isFull);
  assert.deepEqual([...q], model);
});
