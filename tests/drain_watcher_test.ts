/**
 * The drain watcher on a manual clock with timers: when it polls, how often,
 * and that a released wait leaves no timer behind. No sleeps.
 */
import assert from "node:assert/strict";
import {
  DRAIN_POLL_MS,
  DrainWatcher,
  LONG_POLL_MS,
  LONG_WAIT_MS,
} from "../server/modes/drain_watcher.ts";
import type { Sink } from "../server/core/sink.ts";
import { FakeClock } from "./_helpers.ts";

/** A sink that counts how often its backlog is read. */
function countingSink(
  buffered: number,
): Sink & { reads: number; buffered: number } {
  return {
    reads: 0,
    buffered,
    send() {},
    close() {},
    get bufferedAmount() {
      this.reads++;
      return this.buffered;
    },
  };
}

Deno.test("DrainWatcher resolves a wait once the backlog falls to the threshold", async () => {
  const clock = new FakeClock();
  const watcher = new DrainWatcher(clock);
  const sink = countingSink(100_000);
  let drained: boolean | undefined;
  watcher.waitBelow(sink, 1024).then((d) => drained = d);
  await clock.run(30);
  assert.equal(watcher.waiting, 1);
  assert.equal(drained, undefined, "still blocked");
  sink.buffered = 512;
  await clock.run(LONG_POLL_MS);
  assert.equal(drained, true);
  assert.equal(watcher.waiting, 0);
  assert.equal(clock.pending, 0, "no timer once nobody waits");
});

Deno.test("DrainWatcher checks a long-blocked sink on the slow beat, not every 2 ms", async () => {
  const clock = new FakeClock();
  const watcher = new DrainWatcher(clock);
  const sink = countingSink(100_000);
  let drained: boolean | undefined;
  watcher.waitBelow(sink, 1024).then((d) => drained = d);
  const before = sink.reads; // waitBelow's own first look
  const blockedMs = 400;
  await clock.run(blockedMs);
  // Every DRAIN_POLL_MS for LONG_WAIT_MS, then once per LONG_POLL_MS: the
  // fast cadence alone would read it blockedMs / DRAIN_POLL_MS times.
  const expected = LONG_WAIT_MS / DRAIN_POLL_MS +
    Math.ceil((blockedMs - LONG_WAIT_MS) / LONG_POLL_MS);
  const reads = sink.reads - before;
  assert.ok(
    Math.abs(reads - expected) <= 2,
    `${reads} reads in ${blockedMs} ms (expected ~${expected}; the fast cadence would be ${
      blockedMs / DRAIN_POLL_MS
    })`,
  );
  sink.buffered = 0;
  await clock.run(LONG_POLL_MS);
  assert.equal(drained, true, "still resolved once it drains");
});

Deno.test("DrainWatcher.cancel() releases the wait with false and stops polling", async () => {
  const clock = new FakeClock();
  const watcher = new DrainWatcher(clock);
  const sink = countingSink(100_000);
  const drained = watcher.waitBelow(sink, 1024);
  watcher.cancel(sink);
  assert.equal(await drained, false);
  const reads = sink.reads;
  await clock.run(40);
  assert.equal(sink.reads, reads, "no timer left polling a released sink");
  assert.equal(clock.pending, 0);
});
