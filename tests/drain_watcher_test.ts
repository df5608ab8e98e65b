import assert from "node:assert/strict";
import { setTimeout as sleep } from "node:timers/promises";
import {
  DRAIN_POLL_MS,
  DrainWatcher,
  LONG_POLL_MS,
  LONG_WAIT_MS,
} from "../server/drain_watcher.ts";
import type { Sink } from "../server/sink.ts";

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
  const watcher = new DrainWatcher();
  const sink = countingSink(100_000);
  const drained = watcher.waitBelow(sink, 1024);
  await sleep(30);
  assert.equal(watcher.waiting, 1);
  sink.buffered = 512;
  assert.equal(await drained, true);
  assert.equal(watcher.waiting, 0);
});

Deno.test("DrainWatcher checks a long-blocked sink on the slow beat, not every 2 ms", async () => {
  const watcher = new DrainWatcher();
  const sink = countingSink(100_000);
  const drained = watcher.waitBelow(sink, 1024);
  const blockedMs = 400;
  await sleep(blockedMs);
  // At the fast cadence alone this would be ~blockedMs / DRAIN_POLL_MS reads;
  // a late timer only lowers the count, so the bound holds on a busy machine.
  const fastReads = blockedMs / DRAIN_POLL_MS;
  const bound = LONG_WAIT_MS / DRAIN_POLL_MS + blockedMs / LONG_POLL_MS + 5;
  assert.ok(
    sink.reads <= bound && bound < fastReads / 2,
    `${sink.reads} reads in ${blockedMs} ms (bound ${bound}, fast cadence ${fastReads})`,
  );
  sink.buffered = 0;
  assert.equal(await drained, true, "still resolved once it drains");
});

Deno.test("DrainWatcher.cancel() releases the wait with false and stops polling", async () => {
  const watcher = new DrainWatcher();
  const sink = countingSink(100_000);
  const drained = watcher.waitBelow(sink, 1024);
  watcher.cancel(sink);
  assert.equal(await drained, false);
  const reads = sink.reads;
  await sleep(40);
  assert.equal(sink.reads, reads, "no timer left polling a released sink");
});
