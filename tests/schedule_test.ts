/**
 * The synthetic source's one schedule (server/sources/schedule.ts): due
 * times, skipping ahead, starting over after a pause, and the lag read from
 * it, on an injected clock.
 */
import assert from "node:assert/strict";
import { Schedule } from "../server/sources/schedule.ts";
import { sourceLag, SourceStats } from "../server/sources/source_stats.ts";

Deno.test("Schedule: message n is due at from + n / rate; skipped messages count as done; a restart owes nothing", () => {
  const s = new Schedule(100, 1000); // 10 ms apart from t = 1 s
  assert.deepEqual([0, 1, 50].map((n) => s.dueAt(n)), [1000, 1010, 1500]);
  assert.equal(s.dueBy(1000), 1);
  assert.equal(s.dueBy(1095), 10);
  // 40 published by t = 1.6 s: 21 due and not sent, the 41st due 200 ms ago.
  assert.deepEqual(s.lag(40, 1600), { lagMs: 200, behind: 21 });
  // The source skips the 20 it cannot send in time.
  s.skip(20);
  assert.deepEqual(s.lag(40, 1600), { lagMs: 0, behind: 1 });
  assert.equal(s.dueAt(40), 1600);
  // Paused (the broker was away) and started over at t = 9 s: nothing owed.
  s.restart(9000, 40);
  assert.equal(s.from, 9000);
  assert.deepEqual(s.lag(40, 9000), { lagMs: 0, behind: 1 });
  assert.equal(s.dueAt(41), 9010);
});

Deno.test("sourceLag reads the source's schedule: zeros without one, or while the source is not running", () => {
  const stats = new SourceStats("synthetic");
  assert.deepEqual(sourceLag(stats, 5000), { lagMs: 0, behind: 0 });
  assert.equal(stats.rate, 0);
  stats.schedule = new Schedule(10, 0);
  assert.equal(stats.rate, 10);
  stats.published = 5;
  assert.deepEqual(sourceLag(stats, 1000), { lagMs: 500, behind: 6 });
  stats.state = "paused";
  assert.deepEqual(sourceLag(stats, 1000), { lagMs: 0, behind: 0 });
});
