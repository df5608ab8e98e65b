/**
 * Opt-in coalescing (`?batch=1`): a batching client's live messages leave on
 * the shared batch tick as one JSON array frame; everyone else is unchanged.
 * Fake sinks and an explicit tick, then one real-socket run.
 */
import assert from "node:assert/strict";
import { SimClient } from "../client/mod.ts";
import { QueueMode } from "../server/modes/queue.ts";
import {
  BATCH_MAX_MESSAGES,
  QUEUE_HIGH_WATER_BYTES,
} from "../server/modes/socket_gate.ts";
import { decodeDataFrames } from "../lib/protocol.ts";
import {
  afterPosition,
  FakeClock,
  FakeSink,
  startTestServer,
  testHub,
  waitFor,
} from "./_helpers.ts";

function batchHub(clock: FakeClock, maxsize = 1000) {
  const broadcaster = new QueueMode({
    queue: { maxsize, maxBytes: Infinity, policy: "drop-oldest" },
    limits: { dropLimit: 1_000_000, fullTimeoutMs: 60_000 },
    scheduler: clock,
    // Long enough that the tests' explicit flushBatches() is the only tick.
    batchMs: 60_000,
  });
  const { hub, broker } = testHub(broadcaster, clock);
  /** Publishes `n` messages (delivered at once in queue mode). */
  const publish = (n: number) => {
    for (let i = 0; i < n; i++) {
      void broker.publish("default", [{ tsSend: 1 + i / 100 }]);
    }
  };
  return { hub, broadcaster, publish };
}

const seqs = (frame: string) => decodeDataFrames(frame).map((f) => f.seq);

Deno.test("batching: a ?batch=1 client gets one array frame of its queued messages per tick; others one frame per message", () => {
  const clock = new FakeClock();
  const { hub, broadcaster, publish } = batchHub(clock);
  const plain = new FakeSink();
  const batched = new FakeSink();
  const alsoBatched = new FakeSink();
  hub.open(plain, { remote: "plain" });
  const session = hub.open(batched, { remote: "batched", batch: true });
  hub.open(alsoBatched, { remote: "batched-2", batch: true });
  publish(5);
  assert.equal(plain.frames.length, 5, "non-batching: one frame per message");
  assert.equal(batched.frames.length, 0, "nothing before the tick");
  clock.advance(7);
  broadcaster.flushBatches();
  assert.equal(batched.frames.length, 1);
  assert.ok(batched.frames[0]!.startsWith("[{"));
  assert.deepEqual(seqs(batched.frames[0]!), [1, 2, 3, 4, 5]);
  assert.equal(
    alsoBatched.frames[0],
    batched.frames[0],
    "the same joined text",
  );
  // Each element is exactly the ordinary data frame.
  assert.deepEqual(
    JSON.parse(batched.frames[0]!).map((f: unknown) => JSON.stringify(f)),
    plain.frames,
  );
  assert.equal(session.stats.sent, 5, "messages, not frames, are counted");
  assert.equal(session.stats.sendLatency.summary().count, 5);
  assert.equal(session.stats.sendLatency.summary().max, 7);
  assert.equal(hub.totals().delivered, 15);
  // An idle tick sends nothing.
  broadcaster.flushBatches();
  assert.equal(batched.frames.length, 1);
  publish(2);
  broadcaster.flushBatches();
  assert.deepEqual(batched.frames.slice(1).map(seqs), [[6, 7]]);
  hub.closeAll("shutdown");
});

Deno.test("batching: one frame holds at most BATCH_MAX_MESSAGES; the rest follows in the same tick", () => {
  const clock = new FakeClock();
  const { hub, broadcaster, publish } = batchHub(clock);
  const sink = new FakeSink();
  hub.open(sink, { remote: "batched", batch: true });
  publish(BATCH_MAX_MESSAGES + 44);
  broadcaster.flushBatches();
  assert.deepEqual(sink.frames.map((f) => seqs(f).length), [
    BATCH_MAX_MESSAGES,
    44,
  ]);
  const all = sink.frames.flatMap(seqs);
  assert.deepEqual(all, Array.from({ length: all.length }, (_, i) => i + 1));
  hub.closeAll("shutdown");
});

Deno.test("batching: the high-water mark still gates the batch, and control frames go first, on their own", async () => {
  const clock = new FakeClock();
  const { hub, broadcaster, publish } = batchHub(clock, 4);
  const sink = new FakeSink();
  sink.bufferedAmount = QUEUE_HIGH_WATER_BYTES;
  hub.open(sink, { remote: "blocked", batch: true, control: true });
  publish(10);
  broadcaster.flushBatches();
  assert.equal(sink.frames.length, 0, "nothing passes the high-water mark");
  sink.bufferedAmount = 0; // the client catches up: the drain watcher wakes it
  await clock.run(50);
  const { rest } = afterPosition(sink.frames);
  assert.equal(rest.length, 2, "the writer drained");
  const [notice, data] = rest;
  assert.deepEqual(JSON.parse(notice!), {
    type: "dropped",
    channel: "default",
    count: 6,
  });
  assert.deepEqual(seqs(data!), [7, 8, 9, 10]);
  hub.closeAll("shutdown");
});

Deno.test("batching: a ?since= replay comes before the first batch, as ordinary frames", () => {
  const clock = new FakeClock();
  const { hub, broadcaster, publish } = batchHub(clock);
  publish(3);
  const sink = new FakeSink();
  hub.open(sink, { remote: "resume", batch: true, since: 1 });
  publish(2);
  broadcaster.flushBatches();
  const { rest } = afterPosition(sink.frames);
  assert.deepEqual(rest.map(seqs), [[2], [3], [4, 5]]);
  assert.ok(!rest[0]!.startsWith("["), "replay is ordinary frames");
  hub.closeAll("shutdown");
});

Deno.test("batching over a real socket: a ?batch=1 SimClient receives every message, no seq gap, one ACK per frame", async () => {
  await using server = startTestServer({ rate: 400, batchMs: 20 });
  await using client = new SimClient(server.url, { batch: true });
  client.run();
  await waitFor("200 messages", () => client.snapshot().messages >= 200);
  const snap = client.snapshot();
  const session = [...server.hub.sessions][0]!;
  assert.equal(session.batch, true);
  assert.equal(snap.drops, 0);
  assert.equal(snap.repeats, 0);
  assert.equal(snap.badFrames, 0);
  assert.ok(snap.latency.count >= 200);
  // At 400 Hz and a 20-ms tick most frames hold several messages.
  assert.ok(
    snap.acksSent < snap.messages / 2,
    `${snap.acksSent} ACKs for ${snap.messages} messages`,
  );
  await waitFor("ACKs to reach the server", () => session.stats.acks > 0);
});
