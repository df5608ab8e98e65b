/**
 * The replay budget per node: the bucket with debt (injected clock), the
 * cost of a resume, and over real sockets two SDK clients resuming a long
 * way back at once — the first replays, the second is told to wait its turn
 * (4503 with a hint), then replays everything: no hole, no duplicate.
 */
import assert from "node:assert/strict";
import { ReplayBudget, replayCost } from "../server/core/replay_budget.ts";
import {
  FanoutClient,
  type FanoutCloseEvent,
  type FanoutMessage,
} from "../sdk/mod.ts";
import { startTestServer, waitFor } from "./_helpers.ts";

Deno.test("ReplayBudget lets a replay in when it holds enough (a full bucket for one larger than the burst), charges it in full, and says how long the next waits", () => {
  let t = 0;
  const budget = new ReplayBudget({ perSec: 1000, now: () => t });
  assert.deepEqual(budget.take(5000), { ok: true }, "full bucket: in");
  // 4,000 in debt: the next needs 1,000 more than zero, 5 s at 1,000/s.
  assert.deepEqual(budget.take(10), { ok: false, waitMs: 4010 });
  t = 4010;
  assert.deepEqual(budget.take(10), { ok: true });
  assert.deepEqual(budget.take(0), { ok: true }, "nothing to replay");
  assert.deepEqual(new ReplayBudget({ perSec: 0 }).take(1e9), { ok: true });
});

Deno.test("replayCost counts the messages after since in the channel's epoch, and none for another epoch or no since", () => {
  const position = { epoch: "E", seq: 500 };
  assert.equal(replayCost(position, 100, "E"), 400);
  assert.equal(replayCost(position, 100, undefined), 400);
  assert.equal(replayCost(position, 100, "other"), 0);
  assert.equal(replayCost(position, undefined, undefined), 0);
  assert.equal(replayCost(position, 900, "E"), 0);
});

Deno.test("--replay-budget: of two clients resuming far back at once, one waits its turn (4503 and a hint), then both replay everything with no hole or duplicate", async () => {
  await using server = startTestServer({
    rate: 400,
    history: 5000,
    replayBudget: 200,
  });
  await waitFor(
    "600 messages published",
    () => server.broker.position("default").seq >= 600,
  );
  const { epoch } = server.broker.position("default");
  const runs = [0, 1].map(() => {
    const client = new FanoutClient(server.url, {
      position: { epoch, seq: 1 },
      backoff: { initialMs: 10 },
    });
    const messages: FanoutMessage[] = [];
    const closes: FanoutCloseEvent[] = [];
    client.on("message", (m) => messages.push(m));
    client.on("close", (e) => closes.push(e));
    client.start();
    return { client, messages, closes };
  });
  try {
    await waitFor(
      "both replayed and live",
      () => runs.every((r) => r.messages.length >= 700),
      30_000,
    );
    const waited = runs.flatMap((r) => r.closes).filter((c) => c.code === 4503);
    assert.ok(waited.length >= 1, "one was told to wait");
    for (const c of waited) {
      assert.match(c.reason, /replay budget/);
      assert.ok(c.hintMs! >= 1000 && c.retryInMs! >= c.hintMs!);
    }
    for (const { messages } of runs) {
      assert.equal(messages[0]!.seq, 2, "the replay starts after since");
      const seqs = messages.map((m) => m.seq);
      assert.ok(seqs.every((s, i) => i === 0 || s === seqs[i - 1]! + 1));
    }
  } finally {
    for (const r of runs) r.client.close();
  }
});
