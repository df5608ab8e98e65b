import assert from "node:assert/strict";
import {
  dropsInWindow,
  judgeSlow,
  newSlowState,
  noteFull,
  recordDrop,
} from "../server/modes/slow_policy.ts";
import { checkStall, newStallState } from "../server/core/stall_watch.ts";

const limits = { dropLimit: 50, fullTimeoutMs: 5000 };

Deno.test("judgeSlow() keeps a client at the drop limit and disconnects it one drop over", () => {
  const s = newSlowState();
  const t0 = 100_000;
  recordDrop(s, t0, 50);
  assert.equal(judgeSlow(s, limits, t0), undefined);
  recordDrop(s, t0 + 100);
  const verdict = judgeSlow(s, limits, t0 + 100);
  assert.equal(verdict?.reason, "slow_drops");
  assert.match(
    verdict!.detail,
    /51 messages dropped in 10 s, over --drop-limit 50/,
  );
});

Deno.test("dropsInWindow() forgets drops older than 10 s", () => {
  const s = newSlowState();
  const t0 = 100_000;
  recordDrop(s, t0, 40);
  recordDrop(s, t0 + 6000, 20);
  assert.equal(dropsInWindow(s, t0 + 6000), 60);
  assert.equal(dropsInWindow(s, t0 + 10_600), 20); // the first 40 slid out
  assert.equal(dropsInWindow(s, t0 + 60_000), 0);
  // A long silence must not leave stale counts in reused slots.
  recordDrop(s, t0 + 60_000, 1);
  assert.equal(dropsInWindow(s, t0 + 60_000), 1);
});

Deno.test("judgeSlow() disconnects a queue full for longer than --full-timeout, not before", () => {
  const s = newSlowState();
  const t0 = 100_000;
  noteFull(s, true, t0);
  noteFull(s, true, t0 + 3000); // still full: the start time holds
  assert.equal(judgeSlow(s, limits, t0 + 5000), undefined);
  const verdict = judgeSlow(s, limits, t0 + 5001);
  assert.equal(verdict?.reason, "slow_full");
  assert.match(verdict!.detail, /--full-timeout 5 s/);
});

Deno.test("noteFull(false) restarts the full-timeout clock", () => {
  const s = newSlowState();
  noteFull(s, true, 0);
  noteFull(s, false, 4000);
  noteFull(s, true, 4500);
  assert.equal(judgeSlow(s, limits, 9000), undefined);
  assert.equal(judgeSlow(s, limits, 9501)?.reason, "slow_full");
});

Deno.test("checkStall() fires only when buffered bytes make no progress for the limit", () => {
  const st = newStallState(0);
  assert.equal(
    checkStall(st, 1000, 0, 50_000, 2000),
    0,
    "an empty buffer is never stalled",
  );
  assert.equal(
    checkStall(st, 5000, 4000, 51_000, 2000),
    0,
    "first sight of data is progress",
  );
  assert.equal(
    checkStall(st, 9000, 7000, 52_000, 2000),
    0,
    "drained grew from 1000 to 2000",
  );
  assert.equal(
    checkStall(st, 9000, 7000, 53_500, 2000),
    0,
    "1.5 s without progress is within limit",
  );
  assert.equal(
    checkStall(st, 12000, 10000, 54_100, 2000),
    2100,
    "2.1 s without progress is a stall",
  );
});
