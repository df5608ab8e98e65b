/**
 * The claim fanout exists to prove, asserted as a relation with a wide
 * margin: with a slow client present, fast clients' p99 in naive mode is many
 * times their p99 in queue mode. Runs the demo's own scenario, short.
 */
import assert from "node:assert/strict";
import { DEMO_DEFAULTS } from "../demo/options.ts";
import { runScenario } from "../demo/scenario.ts";
import { verdict } from "../demo/report.ts";

Deno.test("isolation: fast clients' p99 in naive mode is >10x their p99 in queue mode with one slow client present", async () => {
  // 64 KiB payloads fill the loopback socket buffers ~1 s after the slow client joins.
  const options = {
    ...DEMO_DEFAULTS,
    durationSec: 6,
    fast: 2,
    slowMs: 300,
    slowJoinSec: 1,
    payloadBytes: 65536,
  };
  const progress: string[] = [];
  const naive = await runScenario("naive", options, (l) => progress.push(l));
  const queue = await runScenario("queue", options, (l) => progress.push(l));
  assert.ok(progress.length >= 10, "live progress once a second per mode");

  const n99 = naive.fast.latency.p99;
  const q99 = queue.fast.latency.p99;
  assert.ok(
    n99 > 10 * q99,
    `naive fast p99 ${n99} ms should be >10x queue fast p99 ${q99} ms`,
  );
  assert.ok(
    naive.fast.deliveredRatio < queue.fast.deliveredRatio,
    `naive delivered ${naive.fast.deliveredRatio}, queue ${queue.fast.deliveredRatio}`,
  );
  assert.ok(
    queue.fast.deliveredRatio > 0.95,
    `queue delivered ${queue.fast.deliveredRatio}`,
  );
  assert.equal(
    queue.fast.drops,
    0,
    "queue mode drops nothing for fast clients",
  );
  assert.ok(queue.slow.serverDrops > 0, "queue mode drops for the slow client");
  assert.equal(naive.slow.serverDrops, 0, "naive mode never drops");
  assert.match(verdict(naive, queue)[0], /^Isolation shown/);
});
