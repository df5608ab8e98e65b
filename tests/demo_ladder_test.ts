/**
 * The demo's third run: the same slow client on the ladder is served a
 * tier instead of cut, and the verdict is computed from the run.
 */
import assert from "node:assert/strict";
import { DEMO_DEFAULTS } from "../demo/options.ts";
import { formatComparison, ladderVerdict, tierPath } from "../demo/report.ts";
import { runScenario } from "../demo/scenario.ts";

Deno.test("demo ladder run: the slow client that queue mode cuts stays connected on the ladder, moved down its tiers", async () => {
  // 64 KiB payloads fill the loopback socket buffers ~1 s after the slow
  // client joins; --drop-limit's default 50 cuts it in queue mode.
  const options = {
    ...DEMO_DEFAULTS,
    durationSec: 8,
    fast: 2,
    slowMs: 300,
    slowJoinSec: 1,
    payloadBytes: 65536,
  };
  const progress: string[] = [];
  const queue = await runScenario("queue", options, (l) => progress.push(l));
  const ladder = await runScenario("ladder", options, (l) => progress.push(l));
  assert.ok(queue.slow.disconnects.length > 0, "queue mode cuts it");
  assert.equal(ladder.slow.disconnects.length, 0, "the ladder keeps it");
  assert.equal(ladder.run, "ladder");
  assert.ok(ladder.slow.tiers.length >= 1, tierPath(ladder));
  assert.ok(ladder.slow.tiers.some((t) => t.to === "conflated"));
  assert.ok(ladder.slow.messages > 0);
  assert.match(
    ladderVerdict(queue, ladder),
    /^The ladder: the same slow client stayed connected and got \d+ messages/,
  );
  const table = formatComparison(queue, queue, ladder);
  assert.match(table, /LADDER/);
  assert.match(table, /slow client: tiers .*full → /);
  assert.ok(progress.some((l) => l.startsWith("[ladder")));
});
