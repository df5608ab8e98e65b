import assert from "node:assert/strict";
import { ClientStats } from "../client/client_stats.ts";
import { encodeData, epochSeconds } from "../lib/protocol.ts";

const frame = (seq: number, tsSend = epochSeconds()) =>
  encodeData(seq, tsSend, "AAE=");

Deno.test("ClientStats.recordFrame() counts gaps as drops and resyncs without counting when seq goes back", () => {
  const stats = new ClientStats("cli-0", 0);
  for (const seq of [1, 2, 3, 7, 8, 10]) {
    assert.equal(stats.recordFrame(frame(seq), seq)?.seq, seq);
  }
  assert.equal(stats.drops, 3 + 1);
  // A restarted server starts again at 1: a resync, not 9 drops or -9.
  stats.recordFrame(frame(1), 11);
  stats.recordFrame(frame(2), 12);
  stats.recordFrame(frame(2), 13); // a duplicate is not a drop either
  const snap = stats.snapshot();
  assert.equal(snap.drops, 4);
  assert.equal(snap.messages, 9);
  assert.equal(snap.firstMessageAt, 1);
  assert.equal(snap.lastMessageAt, 13);
});

Deno.test("ClientStats.recordFrame() records latency from ts_send when the frame is valid", () => {
  const stats = new ClientStats("cli-0", 0);
  const before = epochSeconds();
  stats.recordFrame(frame(1, before - 0.25), 0);
  const tookMs = (epochSeconds() - before) * 1000;
  const { latency } = stats.snapshot();
  assert.equal(latency.count, 1);
  // 250 ms plus however long recording took (+5 % for the bucket width).
  assert.ok(
    latency.min >= 250 * 0.95 && latency.min <= (250 + tookMs) * 1.05 + 1,
    `${latency.min} ms (recording took ${tookMs} ms)`,
  );
});

Deno.test("ClientStats.recordFrame() counts bad frames and records nothing else when the frame is malformed", () => {
  const stats = new ClientStats("cli-0", 0);
  for (
    const bad of [
      "",
      "nope",
      "[]",
      "null",
      '{"seq":1.5,"ts_send":1}',
      '{"seq":1}',
      '{"seq":1,"ts_send":"x"}',
      new Uint8Array([123, 125]),
    ]
  ) {
    assert.equal(stats.recordFrame(bad, 0), undefined);
  }
  const snap = stats.snapshot();
  assert.equal(snap.badFrames, 8);
  assert.equal(snap.messages, 0);
  assert.equal(snap.latency.count, 0);
  assert.equal(snap.firstMessageAt, null);
});

Deno.test("ClientStats.snapshot() returns copies that later records do not change", () => {
  const stats = new ClientStats("cli-0", 5);
  stats.recordClose(4000, "slow", 10);
  const before = stats.snapshot();
  stats.recordClose(4001, "full", 20);
  stats.recordFrame(frame(1), 30);
  assert.deepEqual(before.closes, [{ code: 4000, reason: "slow", atMs: 10 }]);
  assert.equal(before.messages, 0);
  assert.equal(stats.snapshot().closes.length, 2);
  assert.equal(stats.snapshot().startedAt, 5);
});

Deno.test("ClientStats reads control frames as notices, not as data or bad frames", () => {
  const stats = new ClientStats("cli-0", 0);
  const frame = (seq: number) =>
    `{"seq":${seq},"ts_send":${Date.now() / 1000},"payload_b64":""}`;
  stats.recordFrame(frame(1), 1);
  assert.equal(
    stats.recordFrame('{"type":"dropped","channel":"default","count":5}', 2),
    undefined,
  );
  stats.recordFrame(frame(7), 3);
  stats.recordFrame(
    '{"type":"gap","channel":"default","from":8,"to":20,"missed":13}',
    4,
  );
  stats.recordFrame('{"type":"reset","channel":"default","last_seq":0}', 5);
  stats.recordFrame(frame(1), 6); // after a reset: neither a repeat nor a gap
  stats.recordFrame('{"type":"expired","channel":"default","count":2}', 7);
  stats.recordFrame(
    '{"type":"tier","channel":"default","tier":"conflated","from":"full","reason":"behind","queued":60,"lag_ms":700}',
    8,
  );
  const snap = stats.snapshot();
  assert.deepEqual(snap.notices, {
    dropped: 5,
    missed: 13,
    resets: 1,
    expired: 2,
    tierChanges: 1,
  });
  assert.equal(snap.messages, 3);
  assert.equal(snap.badFrames, 0);
  assert.equal(snap.drops, 5, "the seq gap 1 → 7");
  assert.equal(snap.repeats, 0);
});

Deno.test("ClientStats counts repeated seqs and messages replayed from before the connection", () => {
  const stats = new ClientStats("cli-0", 0);
  stats.connectedAt = 2_000_000; // epoch ms
  stats.askedForHistory = true; // a resumed connection: ?since=
  stats.recordFrame('{"seq":5,"ts_send":1999,"payload_b64":""}', 2_000_001); // published before: replayed
  stats.recordFrame('{"seq":6,"ts_send":2001,"payload_b64":""}', 2_001_001);
  stats.recordFrame('{"seq":6,"ts_send":2001,"payload_b64":""}', 2_001_002);
  const snap = stats.snapshot();
  assert.equal(snap.recovered, 1);
  assert.equal(snap.repeats, 1);
});

Deno.test("ClientStats counts no replayed messages on a connection that asked for none, even from a late publisher", () => {
  const stats = new ClientStats("cli-0", 0);
  stats.connectedAt = 2_000_000; // epoch ms; no ?since=
  // Due (ts_send) before the connection opened, published late: live, not replayed.
  stats.recordFrame('{"seq":5,"ts_send":1999,"payload_b64":""}', 2_000_001);
  stats.recordFrame('{"seq":6,"ts_send":2001,"payload_b64":""}', 2_001_001);
  assert.equal(stats.snapshot().recovered, 0);
  assert.equal(stats.snapshot().messages, 2);
});
