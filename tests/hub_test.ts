/**
 * The hub and both broadcast modes with fake sinks and an injected clock:
 * no sockets, no network.
 */
import assert from "node:assert/strict";
import { NaiveBroadcaster } from "../server/broadcast_naive.ts";
import {
  QUEUE_HIGH_WATER_BYTES,
  QueueBroadcaster,
} from "../server/broadcast_queue.ts";
import { DrainWatcher } from "../server/drain_watcher.ts";
import type { OutFrame } from "../server/frame.ts";
import { Hub, type HubEvent } from "../server/hub.ts";
import { FakeClock, FakeSink, waitFor } from "./_helpers.ts";

function frame(seq: number, bytes = 1000, now = 0): OutFrame {
  return { seq, text: "x".repeat(bytes), bytes, enqueuedAt: now };
}

function queueHub(
  clock: FakeClock,
  maxsize = 10,
  dropLimit = 5,
  fullTimeoutMs = 1000,
) {
  const watcher = new DrainWatcher();
  const hub = new Hub({
    broadcaster: new QueueBroadcaster({
      maxsize,
      limits: { dropLimit, fullTimeoutMs },
      watcher,
      now: clock.now,
    }),
    watcher,
    now: clock.now,
  });
  const events: HubEvent[] = [];
  hub.on((e) => events.push(e));
  return { hub, watcher, events };
}

Deno.test("queue mode: a stalled client drops oldest and is cut off by --drop-limit; the fast client gets everything", () => {
  const clock = new FakeClock();
  const { hub, watcher, events } = queueHub(clock, 10, 5, 60_000);
  const fastSink = new FakeSink();
  const slowSink = new FakeSink();
  slowSink.stalled = true;
  const fast = hub.open(fastSink, "fast");
  const slow = hub.open(slowSink, "slow");
  // 2 KB frames: the stalled sink passes the 64 KiB high-water mark after 33 frames,
  // then its queue (10) fills, then 6 drops exceed --drop-limit 5.
  const perSocket = Math.ceil(QUEUE_HIGH_WATER_BYTES / 2000);
  for (let seq = 1; seq <= perSocket + 10 + 6; seq++) {
    hub.broadcast(frame(seq, 2000, clock.t));
    clock.advance(10);
  }
  assert.equal(
    fastSink.frames.length,
    perSocket + 16,
    "fast client received every frame",
  );
  assert.equal(fast.closed, false);
  assert.equal(slow.closed, true);
  assert.equal(slow.end?.reason, "slow_drops");
  assert.equal(slowSink.closes[0]?.code, 4000);
  assert.match(
    slowSink.closes[0]!.reason,
    /6 messages dropped in 10 s, over --drop-limit 5/,
  );
  assert.equal(slow.stats.drops, 6);
  assert.equal(hub.sessions.size, 1);
  assert.equal(hub.totals().dropped, 6);
  assert.equal(hub.totals().disconnects.get("slow_drops"), 1);
  assert.deepEqual(events.map((e) => e.type), [
    "connect",
    "connect",
    "disconnect",
  ]);
  watcher.cancelAll();
});

Deno.test("queue mode: drop-oldest keeps the newest --maxsize messages for a blocked client", async () => {
  const clock = new FakeClock();
  const { hub, watcher } = queueHub(clock, 4, 1000, 60_000);
  const sink = new FakeSink();
  sink.bufferedAmount = QUEUE_HIGH_WATER_BYTES; // blocked from the start
  hub.open(sink, "blocked");
  for (let seq = 1; seq <= 10; seq++) hub.broadcast(frame(seq, 10));
  assert.equal(sink.frames.length, 0, "nothing passes the high-water mark");
  sink.bufferedAmount = 0; // the client catches up
  await waitFor(
    "the writer to drain the queue",
    () => sink.frames.length === 4,
  );
  assert.deepEqual(sink.frames.map((f) => f.length), [10, 10, 10, 10]);
  watcher.cancelAll();
});

Deno.test("queue mode: tick() cuts off a client whose queue stays full past --full-timeout", () => {
  const clock = new FakeClock();
  const { hub, watcher } = queueHub(clock, 3, 1_000_000, 1000);
  const sink = new FakeSink();
  sink.bufferedAmount = QUEUE_HIGH_WATER_BYTES;
  const s = hub.open(sink, "full");
  for (let seq = 1; seq <= 3; seq++) hub.broadcast(frame(seq, 10));
  clock.advance(900);
  hub.tick();
  assert.equal(s.closed, false);
  clock.advance(200);
  hub.tick();
  assert.equal(s.end?.reason, "slow_full");
  assert.equal(sink.closes[0]?.code, 4001);
  watcher.cancelAll();
});

Deno.test("naive mode: broadcast waits for a backed-up client and so delays the clients after it", async () => {
  const clock = new FakeClock();
  const watcher = new DrainWatcher();
  const hub = new Hub({
    broadcaster: new NaiveBroadcaster(watcher, clock.now),
    watcher,
    now: clock.now,
  });
  const slowSink = new FakeSink();
  const fastSink = new FakeSink();
  hub.open(slowSink, "slow"); // first in line
  hub.open(fastSink, "fast");
  slowSink.bufferedAmount = 10 * 1024 * 1024;
  let done = false;
  const pending = Promise.resolve(hub.broadcast(frame(1))).then(
    () => (done = true),
  );
  await waitFor(
    "the broadcast to block on the slow client",
    () => watcher.waiting === 1,
  );
  assert.equal(done, false);
  assert.equal(
    fastSink.frames.length,
    0,
    "the fast client waits behind the slow one",
  );
  slowSink.bufferedAmount = 0;
  await pending;
  assert.equal(fastSink.frames.length, 1);
});

Deno.test("naive mode: closing the blocking client releases the broadcast", async () => {
  const watcher = new DrainWatcher();
  const hub = new Hub({
    broadcaster: new NaiveBroadcaster(watcher, () => 0),
    watcher,
  });
  const slowSink = new FakeSink();
  const fastSink = new FakeSink();
  const slow = hub.open(slowSink, "slow");
  hub.open(fastSink, "fast");
  slowSink.bufferedAmount = 10 * 1024 * 1024;
  const pending = hub.broadcast(frame(1));
  await waitFor("the broadcast to block", () => watcher.waiting === 1);
  slow.close("shutdown");
  await pending;
  assert.equal(fastSink.frames.length, 1);
});

Deno.test("Hub.tick() closes a client that stopped reading with 4002, even while it sends ACKs", () => {
  const clock = new FakeClock();
  const watcher = new DrainWatcher();
  const hub = new Hub({
    broadcaster: new NaiveBroadcaster(watcher, clock.now),
    watcher,
    now: clock.now,
    stallTimeoutMs: 2000,
  });
  const sink = new FakeSink();
  sink.stalled = true;
  const s = hub.open(sink, "stalled");
  s.write(frame(1, 5000), clock.t);
  hub.tick();
  for (let i = 0; i < 10; i++) {
    clock.advance(250);
    s.receive(JSON.stringify({ ack_ts: Date.now() / 1000, seq: 1 })); // ACKs do not count as reading
    hub.tick();
  }
  assert.equal(s.end?.reason, "ping_timeout");
  assert.equal(sink.closes[0]?.code, 4002);
});

Deno.test("Session.receive() counts malformed frames, closes after the budget, and 1009 for oversized", () => {
  const watcher = new DrainWatcher();
  const hub = new Hub({
    broadcaster: new NaiveBroadcaster(watcher, () => 0),
    watcher,
  });
  const a = new FakeSink();
  const b = new FakeSink();
  const noisy = hub.open(a, "noisy");
  const huge = hub.open(b, "huge");
  for (let i = 0; i < 10; i++) noisy.receive("not json");
  assert.equal(noisy.closed, false, "ten bad frames are tolerated");
  noisy.receive(new Uint8Array(3));
  assert.equal(noisy.end?.reason, "protocol_error");
  assert.equal(a.closes[0]?.code, 4003);
  huge.receive("x".repeat(100_000));
  assert.equal(b.closes[0]?.code, 1009);
  huge.receive('{"ack_ts":1,"seq":1}'); // ignored after close
  assert.equal(huge.stats.acks, 0);
});
