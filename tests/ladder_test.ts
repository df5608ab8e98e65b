/**
 * The ladder's state machine (`server/modes/ladder.ts`) with an injected
 * clock: every transition down and up, the dwell that keeps a tier from
 * being skipped, and the hysteresis that keeps a client from flapping.
 */
import assert from "node:assert/strict";
import {
  type LadderReading,
  newLadderState,
  stepLadder,
  type Tier,
} from "../server/modes/ladder.ts";

const LIMITS = { downMsgs: 50, downMs: 500, upMs: 5000 };

function reading(over: Partial<LadderReading> = {}): LadderReading {
  return {
    queued: 0,
    full: false,
    lagMs: 0,
    batch: true,
    overloaded: false,
    ...over,
  };
}
const BEHIND = reading({ queued: 60 });
const CALM = reading();

Deno.test("stepLadder() moves a batch client down one tier per dwell: full → coalesced → conflated → dropping, then stays", () => {
  const s = newLadderState(0);
  const tiers: Tier[] = [];
  for (let t = 0; t <= 3000; t += 250) {
    const change = stepLadder(s, BEHIND, LIMITS, t);
    if (change) {
      assert.equal(change.reason, "behind");
      tiers.push(change.to);
    }
  }
  assert.deepEqual(tiers, ["coalesced", "conflated", "dropping"]);
  assert.equal(s.tier, "dropping");
});

Deno.test("stepLadder() waits downMs in a tier before the next step down, unless the queue is full", () => {
  const s = newLadderState(0);
  assert.equal(stepLadder(s, BEHIND, LIMITS, 499), undefined, "too soon");
  assert.equal(stepLadder(s, BEHIND, LIMITS, 500)?.to, "coalesced");
  assert.equal(stepLadder(s, BEHIND, LIMITS, 600), undefined, "dwell");
  const full = stepLadder(s, reading({ queued: 100, full: true }), LIMITS, 601);
  assert.deepEqual(full, {
    from: "coalesced",
    to: "conflated",
    reason: "queue_full",
  });
});

Deno.test("stepLadder() counts lag in ms as behind, as well as messages queued", () => {
  const s = newLadderState(0);
  assert.equal(
    stepLadder(s, reading({ lagMs: 499 }), LIMITS, 1000),
    undefined,
  );
  assert.equal(
    stepLadder(s, reading({ lagMs: 500 }), LIMITS, 1000)?.to,
    "coalesced",
  );
});

Deno.test("stepLadder() skips coalesced for a client that does not accept batch frames, both ways", () => {
  const s = newLadderState(0);
  const behind = reading({ queued: 60, batch: false });
  assert.equal(stepLadder(s, behind, LIMITS, 500)?.to, "conflated");
  const calm = reading({ batch: false });
  assert.equal(stepLadder(s, calm, LIMITS, 1000), undefined);
  assert.equal(stepLadder(s, calm, LIMITS, 6000)?.to, "full");
});

Deno.test("stepLadder() climbs one tier per upMs of keeping up (hysteresis), and any lapse restarts the count", () => {
  const s = { tier: "dropping" as Tier, changedAt: 0, calmSince: undefined };
  assert.equal(stepLadder(s, CALM, LIMITS, 1000), undefined, "calm starts");
  assert.equal(stepLadder(s, CALM, LIMITS, 5999), undefined, "not long enough");
  // Between keeping up and behind: not calm, not behind.
  assert.equal(stepLadder(s, reading({ queued: 20 }), LIMITS, 6000), undefined);
  assert.equal(stepLadder(s, CALM, LIMITS, 6100), undefined, "count restarted");
  assert.equal(stepLadder(s, CALM, LIMITS, 11_099), undefined);
  assert.deepEqual(stepLadder(s, CALM, LIMITS, 11_100), {
    from: "dropping",
    to: "conflated",
    reason: "kept_up",
  });
  assert.equal(
    stepLadder(s, CALM, LIMITS, 12_000),
    undefined,
    "one step per upMs",
  );
  assert.equal(stepLadder(s, CALM, LIMITS, 16_100)?.to, "coalesced");
  assert.equal(stepLadder(s, CALM, LIMITS, 21_100)?.to, "full");
  assert.equal(stepLadder(s, CALM, LIMITS, 40_000), undefined, "top");
});

Deno.test("stepLadder() keeps up only under a quarter of both down thresholds", () => {
  const s = { tier: "conflated" as Tier, changedAt: 0, calmSince: undefined };
  const nearly = reading({ queued: 13 }); // > 50/4
  assert.equal(stepLadder(s, nearly, LIMITS, 0), undefined);
  assert.equal(
    stepLadder(s, nearly, LIMITS, 60_000),
    undefined,
    "never climbs",
  );
  const laggy = reading({ lagMs: 126 }); // > 500/4
  assert.equal(stepLadder(s, laggy, LIMITS, 120_000), undefined);
  assert.equal(s.tier, "conflated");
});

Deno.test("stepLadder() coalesces a batch client at once while the server is overloaded, moves nobody down for it, and climbs only after upMs of calm", () => {
  const s = newLadderState(0);
  const hot = reading({ overloaded: true });
  assert.deepEqual(stepLadder(s, hot, LIMITS, 10), {
    from: "full",
    to: "coalesced",
    reason: "overload",
  });
  assert.equal(
    stepLadder(s, hot, LIMITS, 10_000),
    undefined,
    "no climb while hot",
  );
  assert.equal(s.tier, "coalesced");
  assert.equal(
    stepLadder(s, CALM, LIMITS, 15_000),
    undefined,
    "calm again: it must keep up for upMs first",
  );
  assert.equal(
    stepLadder(s, CALM, LIMITS, 15_000 + LIMITS.upMs)?.to,
    "full",
  );
  const plain = newLadderState(0);
  assert.equal(
    stepLadder(plain, reading({ overloaded: true, batch: false }), LIMITS, 10),
    undefined,
    "a client without batch frames stays full",
  );
  const behind = { tier: "full" as Tier, changedAt: 0, calmSince: undefined };
  for (let t = 1_000; t < 10_000; t += 250) {
    assert.equal(
      stepLadder(
        behind,
        reading({ overloaded: true, batch: false, queued: 100, full: true }),
        LIMITS,
        t,
      ),
      undefined,
      "the server's lag moves nobody down",
    );
  }
});

Deno.test("stepLadder() never moves below dropping: the cut is the slow policy's", () => {
  const s = { tier: "dropping" as Tier, changedAt: 0, calmSince: undefined };
  const full = reading({ queued: 100, full: true });
  for (let t = 0; t < 10_000; t += 250) {
    assert.equal(stepLadder(s, full, LIMITS, t), undefined);
  }
});

Deno.test("stepLadder() leaves conflated for dropping only when the queue grows: lag alone is absorbed by conflation", () => {
  const s = { tier: "conflated" as Tier, changedAt: 0, calmSince: undefined };
  assert.equal(
    stepLadder(s, reading({ lagMs: 60_000 }), LIMITS, 10_000),
    undefined,
  );
  assert.equal(s.tier, "conflated");
  assert.equal(
    stepLadder(s, reading({ queued: 50 }), LIMITS, 10_000)?.to,
    "dropping",
  );
});

Deno.test("stepLadder() does not count a client that lost anything since the last look as keeping up", () => {
  const s = { tier: "conflated" as Tier, changedAt: 0, calmSince: undefined };
  const lossy = reading({ lossy: true });
  for (let t = 0; t <= 20_000; t += 250) {
    assert.equal(stepLadder(s, lossy, LIMITS, t), undefined);
  }
  assert.equal(stepLadder(s, CALM, LIMITS, 20_250), undefined, "calm starts");
  assert.equal(stepLadder(s, CALM, LIMITS, 25_250)?.to, "coalesced");
});
