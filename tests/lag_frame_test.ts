/**
 * `lag` frames (protocol 3), with fake sinks and an injected clock: every
 * `--lag-interval` a control client is told where it stands, also on a
 * quiet channel; what it lost is counted by reason since the previous one;
 * a client that is not reading has at most one waiting.
 */
import assert from "node:assert/strict";
import { type ControlFrame, parseControl } from "../lib/protocol.ts";
import { QueueMode } from "../server/modes/queue.ts";
import { FakeClock, FakeSink, testHub } from "./_helpers.ts";

const CALM = { loopLagMs: 0, sourceLagMs: 0 };

function lagHub(clock: FakeClock) {
  const mode = new QueueMode({
    queue: { maxsize: 3, maxBytes: Infinity, policy: "drop-oldest" },
    limits: { dropLimit: 1_000_000, fullTimeoutMs: 3_600_000 },
    scheduler: clock,
    lagIntervalMs: 1000,
  });
  return { mode, ...testHub(mode, clock) };
}

const lags = (sink: FakeSink) =>
  sink.frames.map(parseControl).filter((
    c,
  ): c is Extract<ControlFrame, { type: "lag" }> => c?.type === "lag");

Deno.test("lag frames: a control client on a quiet channel hears every interval that it is up to date; others hear nothing", () => {
  const clock = new FakeClock();
  const { mode, hub } = lagHub(clock);
  const control = new FakeSink();
  const plain = new FakeSink();
  hub.open(control, { remote: "c", control: true });
  hub.open(plain, { remote: "p" });
  for (let t = 0; t < 12; t++) {
    clock.advance(250);
    hub.tick(CALM);
  }
  const got = lags(control);
  assert.ok(got.length >= 2 && got.length <= 4, `${got.length} in 3 s`);
  assert.deepEqual(got[0], {
    type: "lag",
    channel: "default",
    queued: 0,
    lag_ms: 0,
    tier: "full",
    dropped: 0,
    expired: 0,
    superseded: 0,
  });
  assert.equal(plain.frames.length, 0);
  mode.stop();
});

Deno.test("lag frames: a client that is not reading has one waiting, current when sent, with its losses since the last", async () => {
  const clock = new FakeClock();
  const { mode, hub, publish } = lagHub(clock);
  const sink = new FakeSink();
  hub.open(sink, { remote: "slow", control: true });
  sink.bufferedAmount = 1 << 20; // blocked
  for (let t = 0; t < 20; t++) {
    await publish("default", { tsSend: 1, payloadB64: "AA==" });
    clock.advance(250);
    hub.tick(CALM);
  }
  sink.bufferedAmount = 0;
  await clock.run(30);
  const got = lags(sink);
  assert.equal(got.length, 1, "one waited, not one per interval");
  assert.equal(got[0]!.dropped, 17, "20 published, 3 queued");
  assert.equal(got[0]!.queued, 3);
  assert.ok(got[0]!.lag_ms > 0);
  for (let t = 0; t < 5; t++) {
    clock.advance(250);
    hub.tick(CALM);
  }
  const next = lags(sink).at(-1)!;
  assert.equal(next.dropped, 0, "counted since the previous lag frame");
  assert.equal(next.queued, 0);
  mode.stop();
});
