/**
 * The hub, the memory broker and both broadcast modes with fake sinks and an
 * injected clock with timers: no sockets, no network, no sleeps.
 */
import assert from "node:assert/strict";
import { NaiveMode } from "../server/modes/naive.ts";
import { QueueMode } from "../server/modes/queue.ts";
import { QUEUE_HIGH_WATER_BYTES } from "../server/modes/socket_gate.ts";
import type { SlowPolicy } from "../server/modes/client_queue.ts";
import { epochSeconds } from "../lib/protocol.ts";
import {
  type Broker,
  type BrokerHandler,
  BrokerStats,
  type History,
  type Published,
} from "../server/core/broker.ts";
import { frameOf, type PublishBody } from "../server/core/frame.ts";
import { ChannelHistory, historyAfter } from "../server/broker/history.ts";
import { Hub } from "../server/core/hub.ts";
import {
  afterPosition,
  FakeClock,
  FakeSink,
  testHub,
  type TestHubOptions,
} from "./_helpers.ts";

type Publish = ReturnType<typeof testHub>["publish"];

/** Publishes one message of about `bytes` bytes on the default channel. */
function publishBytes(publish: Publish, bytes = 1000, channel = "default") {
  return publish(channel, { tsSend: 1, payloadB64: "x".repeat(bytes) });
}

function queueHub(
  clock: FakeClock,
  {
    maxsize = 10,
    dropLimit = 5,
    fullTimeoutMs = 1000,
    policy = "drop-oldest" as SlowPolicy,
    maxLagMs = Infinity,
  } = {},
) {
  const mode = new QueueMode({
    queue: { maxsize, maxBytes: Infinity, policy },
    limits: { dropLimit, fullTimeoutMs, maxLagMs },
    scheduler: clock,
  });
  return { mode, ...testHub(mode, clock) };
}

const seqOf = (text: string) => JSON.parse(text).seq as number;

/** A naive-mode hub on `clock`. */
function naiveHub(clock = new FakeClock(), options: TestHubOptions = {}) {
  const mode = new NaiveMode(clock);
  return { mode, clock, ...testHub(mode, clock, options) };
}

Deno.test("queue mode: a stalled client drops oldest and is cut off by --drop-limit; the fast client gets everything", () => {
  const clock = new FakeClock();
  const { hub, mode, events, publish } = queueHub(clock, {
    maxsize: 10,
    dropLimit: 5,
    fullTimeoutMs: 60_000,
  });
  const fastSink = new FakeSink();
  const slowSink = new FakeSink();
  slowSink.stalled = true;
  const fast = hub.open(fastSink, { remote: "fast" });
  const slow = hub.open(slowSink, { remote: "slow" });
  // The stalled sink reaches its socket gate after 32 frames of 2 KB, then
  // its queue (10) fills, then the 6th drop exceeds --drop-limit 5. The
  // housekeeping tick (every 10 messages here) finds it lagging first.
  for (let i = 0; i < 100; i++) {
    publishBytes(publish, 2000);
    clock.advance(10);
    if (i % 10 === 9) hub.tick();
  }
  assert.equal(fastSink.frames.length, 100, "fast client received every frame");
  assert.equal(fast.closed, false);
  assert.equal(slow.end?.reason, "slow_drops");
  assert.equal(slowSink.closes[0]?.code, 4000);
  assert.match(
    slowSink.closes[0]!.reason,
    /6 messages dropped in 10 s, over --drop-limit 5/,
  );
  assert.equal(hub.size, 1);
  assert.equal(hub.totals().dropped, 6);
  assert.equal(hub.totals().disconnects.get("slow_drops"), 1);
  assert.deepEqual(events.map((e) => e.type), [
    "connect",
    "connect",
    "disconnect",
  ]);
  mode.stop();
});

Deno.test("queue policies: what a blocked client receives once it catches up", async (t) => {
  const cases: [SlowPolicy, (seqs: number[], sink: FakeSink) => void][] = [
    ["drop-oldest", (seqs) => assert.deepEqual(seqs, [7, 8, 9, 10])],
    ["drop-newest", (seqs) => assert.deepEqual(seqs, [1, 2, 3, 4])],
    ["disconnect", (seqs, sink) => {
      assert.deepEqual(seqs, []);
      assert.equal(sink.closes[0]?.code, 4004);
      assert.match(sink.closes[0]!.reason, /--policy disconnect/);
    }],
  ];
  for (const [policy, check] of cases) {
    await t.step(policy, async () => {
      const clock = new FakeClock();
      const { hub, mode, publish } = queueHub(clock, {
        maxsize: 4,
        dropLimit: 1000,
        fullTimeoutMs: 60_000,
        policy,
      });
      const sink = new FakeSink();
      sink.bufferedAmount = QUEUE_HIGH_WATER_BYTES; // blocked from the start
      const fastSink = new FakeSink();
      hub.open(sink, { remote: "blocked" });
      hub.open(fastSink, { remote: "fast" });
      for (let i = 0; i < 10; i++) await publishBytes(publish, 10);
      hub.tick(); // the housekeeping tick: it reads nothing, so it is charged
      assert.equal(
        fastSink.frames.length,
        10,
        "the other client is unaffected",
      );
      assert.equal(sink.frames.length, 0, "nothing passes the high-water mark");
      sink.bufferedAmount = 0; // the client catches up
      await clock.run(50); // the drain watcher's polls run
      check(sink.frames.map(seqOf), sink);
      mode.stop();
    });
  }
});

Deno.test("queue policy conflate: a blocked client gets the latest message per key, in first-seen order", async () => {
  const clock = new FakeClock();
  const { hub, mode, publish } = queueHub(clock, {
    maxsize: 10,
    dropLimit: 1000,
    policy: "conflate",
  });
  const sink = new FakeSink();
  sink.bufferedAmount = QUEUE_HIGH_WATER_BYTES;
  hub.open(sink, { remote: "blocked", channel: "ticks", control: true });
  const prices: [string, number][] = [
    ["AAPL", 1],
    ["MSFT", 2],
    ["AAPL", 3],
    ["GOOG", 4],
    ["AAPL", 5],
    ["MSFT", 6],
  ];
  for (const [sym, px] of prices) {
    await publish("ticks", {
      tsSend: 1,
      dataJson: JSON.stringify({ sym, px }),
      key: sym,
    });
  }
  sink.bufferedAmount = 0;
  await clock.run(50);
  const { rest } = afterPosition(sink.frames, "ticks");
  assert.equal(
    rest.length,
    3,
    "the conflated queue drained, with no drop notice",
  );
  const data = rest.map((f) => JSON.parse(f));
  const [view] = hub.subscribers();
  assert.equal(view!.conflated, 3, "three values were superseded");
  assert.equal(view!.drops, 0, "superseding is not dropping");
  assert.deepEqual(data.map((d) => [d.data.sym, d.data.px]), [["AAPL", 5], [
    "MSFT",
    6,
  ], ["GOOG", 4]]);
  assert.ok(data.every((d) => d.channel === "ticks"));
  mode.stop();
});

Deno.test("queue mode: tick() cuts off a client whose queue stays full past --full-timeout", () => {
  const clock = new FakeClock();
  const { hub, mode, publish } = queueHub(clock, {
    maxsize: 3,
    dropLimit: 1_000_000,
    fullTimeoutMs: 1000,
  });
  const sink = new FakeSink();
  sink.bufferedAmount = QUEUE_HIGH_WATER_BYTES;
  const s = hub.open(sink, { remote: "full" });
  for (let i = 0; i < 3; i++) publishBytes(publish, 10);
  clock.advance(900);
  hub.tick();
  assert.equal(s.closed, false);
  clock.advance(200);
  hub.tick();
  assert.equal(s.end?.reason, "slow_full");
  assert.equal(sink.closes[0]?.code, 4001);
  mode.stop();
});

Deno.test("channels: messages reach only their channel's subscribers, each channel numbering from 1", async () => {
  const clock = new FakeClock();
  const { hub, mode, publish } = queueHub(clock);
  const a = new FakeSink();
  const b = new FakeSink();
  hub.open(a, { remote: "a", channel: "prices" });
  hub.open(b, { remote: "b", channel: "chat" });
  const seq = async (channel: string, dataJson: string) =>
    (await publish(channel, { tsSend: 1, dataJson })).first;
  assert.equal(await seq("prices", "1"), 1);
  assert.equal(await seq("prices", "2"), 2);
  assert.equal(await seq("chat", '"hi"'), 1);
  assert.deepEqual(a.frames.map((f) => JSON.parse(f).data), [1, 2]);
  assert.deepEqual(b.frames.map((f) => JSON.parse(f)), [{
    seq: 1,
    ts_send: 1,
    channel: "chat",
    data: "hi",
  }]);
  mode.stop();
});

Deno.test("replay: ?since= gets every kept message after it, then live, with no duplicate and no hole", async () => {
  const clock = new FakeClock();
  const { hub, mode, publish } = queueHub(clock, { maxsize: 100 });
  for (let i = 0; i < 30; i++) await publishBytes(publish, 10);
  const sink = new FakeSink();
  hub.open(sink, { remote: "resume", since: 12 });
  for (let i = 0; i < 5; i++) await publishBytes(publish, 10);
  const { position, rest } = afterPosition(sink.frames);
  assert.equal(position.last_seq, 30, "the live stream continues after 30");
  assert.deepEqual(
    rest.map(seqOf),
    Array.from({ length: 23 }, (_, i) => 13 + i),
  );
  mode.stop();
});

Deno.test("replay: a resumer behind a busy channel is told what the history evicted before it was sent", async () => {
  const clock = new FakeClock();
  const { hub, mode, publish } = queueHub(clock, { maxsize: 100 }); // history 50
  for (let i = 0; i < 50; i++) await publishBytes(publish, 10);
  const sink = new FakeSink();
  sink.bufferedAmount = QUEUE_HIGH_WATER_BYTES; // it reads nothing yet
  hub.open(sink, { remote: "slow resumer", since: 0 });
  for (let i = 0; i < 30; i++) await publishBytes(publish, 10); // evicts 1..30
  sink.bufferedAmount = 0;
  await clock.run(50);
  const [gap, ...rest] = afterPosition(sink.frames).rest.map((f) =>
    JSON.parse(f)
  );
  assert.deepEqual(gap, {
    type: "gap",
    channel: "default",
    from: 1,
    to: 30,
    missed: 30,
  });
  assert.deepEqual(
    rest.map((f) => f.seq),
    Array.from({ length: 50 }, (_, i) => 31 + i),
    "the replay goes on from the oldest kept message, then live, no duplicate",
  );
  mode.stop();
});

Deno.test("replay: since older than the history gets an explicit gap notice first; since ahead gets reset", async () => {
  const clock = new FakeClock();
  const { hub, mode, publish } = queueHub(clock, { maxsize: 100 }); // history 50
  for (let i = 0; i < 80; i++) await publishBytes(publish, 10);
  const old = new FakeSink();
  hub.open(old, { remote: "old", since: 5 });
  const [gap, ...replay] = afterPosition(old.frames).rest;
  assert.deepEqual(JSON.parse(gap!), {
    type: "gap",
    channel: "default",
    from: 6,
    to: 30,
    missed: 25,
  });
  assert.deepEqual(
    replay.map(seqOf),
    Array.from({ length: 50 }, (_, i) => 31 + i),
  );
  const ahead = new FakeSink();
  hub.open(ahead, { remote: "ahead", since: 500 });
  const { position, rest } = afterPosition(ahead.frames);
  assert.deepEqual(JSON.parse(rest[0]!), {
    type: "reset",
    channel: "default",
    epoch: position.epoch,
    last_seq: 80,
  });
  const other = new FakeSink();
  hub.open(other, { remote: "other stream", since: 20, epoch: "not-this" });
  assert.deepEqual(
    afterPosition(other.frames).rest.map((f) => JSON.parse(f)),
    [{
      type: "reset",
      channel: "default",
      epoch: position.epoch,
      last_seq: 80,
    }],
    "a position in another epoch is reset, not replayed as if it were this one",
  );
  const same = new FakeSink();
  hub.open(same, { remote: "same stream", since: 78, epoch: position.epoch });
  assert.deepEqual(afterPosition(same.frames).rest.map(seqOf), [79, 80]);
  mode.stop();
});

Deno.test("channels: --max-channels refuses a new channel, not an existing one", async () => {
  const { hub, publish } = naiveHub(undefined, { maxChannels: 2 });
  await publish("a", { tsSend: 1, dataJson: "1" });
  await publish("b", { tsSend: 1, dataJson: "1" });
  assert.equal(hub.admits("a"), true);
  assert.equal(hub.admits("c"), false);
  await assert.rejects(
    () => publish("c", { tsSend: 1, dataJson: "1" }),
    /--max-channels/,
  );
  assert.throws(
    () => hub.open(new FakeSink(), { remote: "x", channel: "c" }),
    /--max-channels/,
  );
});

Deno.test("naive mode: broadcast waits for a backed-up client and so delays the clients after it", async () => {
  const { hub, clock, publish } = naiveHub();
  const slowSink = new FakeSink();
  const fastSink = new FakeSink();
  hub.open(slowSink, { remote: "slow" }); // first in line
  hub.open(fastSink, { remote: "fast" });
  slowSink.bufferedAmount = 10 * 1024 * 1024;
  let done = false;
  const pending = publishBytes(publish).then(() => (done = true));
  clock.advance(100);
  await Promise.resolve();
  assert.equal(done, false, "the broadcast is blocked on the slow client");
  assert.equal(
    fastSink.frames.length,
    0,
    "the fast client waits behind the slow one",
  );
  slowSink.bufferedAmount = 0;
  await clock.run(20);
  await pending;
  assert.equal(fastSink.frames.length, 1);
});

Deno.test("naive mode: closing the blocking client releases the broadcast", async () => {
  const { hub, clock, publish } = naiveHub();
  const slowSink = new FakeSink();
  const fastSink = new FakeSink();
  const slow = hub.open(slowSink, { remote: "slow" });
  hub.open(fastSink, { remote: "fast" });
  slowSink.bufferedAmount = 10 * 1024 * 1024;
  const pending = publishBytes(publish);
  clock.advance(100);
  assert.equal(fastSink.frames.length, 0, "the broadcast is blocked");
  hub.close(slow, "shutdown");
  await pending;
  assert.equal(fastSink.frames.length, 1);
});

Deno.test("Hub.tick() closes a client that stopped reading with 4002, even while it sends ACKs", () => {
  const clock = new FakeClock();
  const { hub, publish } = naiveHub(clock, { stallTimeoutMs: 2000 });
  const sink = new FakeSink();
  sink.stalled = true;
  const s = hub.open(sink, { remote: "stalled" });
  void publishBytes(publish, 5000);
  hub.tick();
  for (let i = 0; i < 10; i++) {
    clock.advance(250);
    hub.receive(s, JSON.stringify({ ack_ts: Date.now() / 1000, seq: 1 })); // ACKs do not count as reading
    hub.tick();
  }
  assert.equal(s.end?.reason, "ping_timeout");
  assert.equal(sink.closes[0]?.code, 4002);
});

Deno.test("Hub.receive() and Session checks: counts malformed frames, closes after the budget, and 1009 for oversized", () => {
  const { hub } = naiveHub();
  const a = new FakeSink();
  const b = new FakeSink();
  const noisy = hub.open(a, { remote: "noisy" });
  const huge = hub.open(b, { remote: "huge" });
  for (let i = 0; i < 10; i++) hub.receive(noisy, "not json");
  assert.equal(noisy.closed, false, "ten bad frames are tolerated");
  hub.receive(noisy, "[]");
  assert.equal(noisy.end?.reason, "protocol_error");
  assert.equal(a.closes[0]?.code, 4100);
  hub.receive(huge, "x".repeat(100_000));
  assert.equal(b.closes[0]?.code, 1009);
  hub.receive(huge, '{"ack_ts":1,"seq":1}'); // ignored after close
  assert.equal(huge.stats.acks, 0);
});

Deno.test("Hub.receive() and Session checks: closes a binary frame with 1009 at once, and counts the limit in UTF-8 bytes", () => {
  const { hub } = naiveHub(undefined, { maxFrameBytes: 100 });
  const binSink = new FakeSink();
  const bin = hub.open(binSink, { remote: "binary" });
  hub.receive(bin, new Uint8Array(3));
  assert.equal(bin.end?.reason, "message_too_big");
  assert.equal(binSink.closes[0]?.code, 1009);
  assert.equal(bin.stats.badFrames, 1);
  // 40 characters, 120 bytes: over a 100-byte limit although .length is 40.
  const wideSink = new FakeSink();
  const wide = hub.open(wideSink, { remote: "wide" });
  hub.receive(wide, "€".repeat(40));
  assert.equal(wideSink.closes[0]?.code, 1009);
  assert.match(wide.end!.detail, /120 bytes exceeds the 100-byte limit/);
});

/** The ACKs a client owes for the data frames `sink` received. */
function acksFor(sink: FakeSink): string[] {
  return sink.frames.map((f) => JSON.parse(f))
    .filter((f) => typeof f.seq === "number")
    .map((f) => JSON.stringify({ ack_ts: f.ts_send, seq: f.seq }));
}

Deno.test("Hub.receive() and Session checks: a client ACKing the backlog it was sent, all at once, is not a flood", async () => {
  const clock = new FakeClock();
  const { hub, publish } = naiveHub(clock, { maxInboundRate: 10 });
  const sink = new FakeSink();
  const s = hub.open(sink, { remote: "paused" });
  // It paused reading; 500 messages reached it meanwhile.
  for (let i = 0; i < 500; i++) {
    await publish("default", { tsSend: epochSeconds(), payloadB64: "AA==" });
  }
  for (const ack of acksFor(sink)) hub.receive(s, ack); // one instant
  assert.equal(s.closed, false, "not cut as a flood");
  assert.equal(s.stats.throttled, 0);
  assert.equal(s.stats.acks, 500);
  // What goes beyond one ACK per message is held to the rate, then cut.
  for (let i = 0; i < 40 && !s.closed; i++) hub.receive(s, acksFor(sink)[0]!);
  assert.equal(s.end?.reason, "flood");
  assert.equal(sink.closes[0]?.code, 4101);
});

Deno.test("Hub.receive() and Session checks: an ACK counts only for a seq this client was sent, with the ts_send it was sent", async () => {
  const clock = new FakeClock();
  const { hub, publish } = naiveHub(clock);
  const sink = new FakeSink();
  const s = hub.open(sink, { remote: "liar" });
  const tsSend = epochSeconds();
  await publish("default", { tsSend, payloadB64: "AA==" });
  hub.receive(s, JSON.stringify({ ack_ts: -1e308, seq: 1 }));
  hub.receive(s, JSON.stringify({ ack_ts: tsSend, seq: 2 })); // never sent
  hub.receive(s, JSON.stringify({ ack_ts: tsSend - 3600, seq: 1 }));
  assert.equal(s.stats.acks, 0);
  assert.equal(s.stats.staleAcks, 3);
  assert.equal(s.stats.e2eLatency.count, 0, "nothing reached the histogram");
  hub.receive(s, JSON.stringify({ ack_ts: tsSend, seq: 1 }));
  assert.equal(s.stats.acks, 1);
  const e2e = hub.latency().e2e;
  assert.ok(Number.isFinite(e2e.sum) && e2e.sum >= 0 && e2e.sum < 60_000);
});

Deno.test("Hub.tick() closes a session whose JWT expired, with 4103", () => {
  const clock = new FakeClock();
  const { hub } = naiveHub(clock);
  const sink = new FakeSink();
  const s = hub.open(sink, { remote: "jwt", expiresAt: epochSeconds() + 1 });
  const forever = hub.open(new FakeSink(), { remote: "token" });
  clock.advance(900);
  hub.tick();
  assert.equal(s.closed, false, "not yet");
  clock.advance(200);
  hub.tick();
  assert.equal(s.end?.reason, "token_expired");
  assert.equal(sink.closes[0]?.code, 4103);
  assert.equal(forever.closed, false);
});

Deno.test("queue policy conflate: replacing values is not dropping, so --drop-limit does not cut a conflating client", async () => {
  const clock = new FakeClock();
  const { hub, mode, publish } = queueHub(clock, {
    maxsize: 10,
    dropLimit: 5,
    fullTimeoutMs: 60_000,
    policy: "conflate",
  });
  const sink = new FakeSink();
  sink.bufferedAmount = QUEUE_HIGH_WATER_BYTES; // blocked: everything queues
  const s = hub.open(sink, { remote: "conflating" });
  for (let i = 0; i < 200; i++) {
    const sym = ["AAPL", "MSFT", "GOOG"][i % 3]!;
    await publish("default", {
      tsSend: 1,
      dataJson: JSON.stringify({ sym, px: i }),
      key: sym,
    });
    clock.advance(5); // 200 ticks/s
    hub.tick();
  }
  assert.equal(s.closed, false, "still connected after 200 ticks at 200/s");
  const [view] = hub.subscribers();
  assert.equal(view!.id, s.id);
  assert.equal(view!.drops, 0);
  assert.equal(view!.conflated, 197);
  mode.stop();
});

Deno.test("--max-lag: a client further behind than the bound is cut with 4006, by its queue's age or by the age of what it ACKs", async () => {
  const clock = new FakeClock();
  const { hub, mode, publish } = queueHub(clock, {
    maxsize: 1000,
    dropLimit: 1_000_000,
    fullTimeoutMs: 600_000,
    maxLagMs: 1000,
  });
  // Blocked: its queue holds messages older and older, never full.
  const blockedSink = new FakeSink();
  blockedSink.bufferedAmount = QUEUE_HIGH_WATER_BYTES;
  const blocked = hub.open(blockedSink, { remote: "blocked" });
  // Reading, so nothing waits on the server, but what it reads and ACKs is
  // 5 s old (it sat in socket buffers): it cannot hide there.
  const readerSink = new FakeSink();
  const reader = hub.open(readerSink, { remote: "behind" });
  const fresh = hub.open(new FakeSink(), { remote: "fresh" });
  for (let i = 0; i < 8; i++) {
    await publish("default", {
      tsSend: epochSeconds() - 5,
      payloadB64: "AA==",
    });
    clock.advance(250);
    hub.tick();
  }
  hub.receive(reader, acksFor(readerSink).at(-1)!);
  hub.tick();
  assert.equal(blocked.end?.reason, "slow_lag");
  assert.equal(blockedSink.closes[0]?.code, 4006);
  assert.equal(reader.end?.reason, "slow_lag");
  assert.match(reader.end!.detail, /behind, over --max-lag 1 s/);
  assert.equal(fresh.closed, false, "a client that keeps up stays");
  mode.stop();
});

Deno.test("Hub.receive() and Session checks: throttles uninvited frames over --max-inbound-rate, then closes it with 4101", () => {
  const clock = new FakeClock();
  const { hub } = naiveHub(clock, { maxInboundRate: 10 });
  const sink = new FakeSink();
  const s = hub.open(sink, { remote: "flood" });
  // Nothing was sent to it, so no ACK is invited.
  const ack = JSON.stringify({ ack_ts: Date.now() / 1000, seq: 1 });
  for (let i = 0; i < 15; i++) hub.receive(s, ack);
  assert.equal(s.stats.staleAcks, 10, "the first second's worth is read");
  assert.equal(s.stats.throttled, 5);
  assert.equal(s.closed, false, "throttled, not yet closed");
  for (let i = 0; i < 6; i++) hub.receive(s, ack);
  assert.equal(s.end?.reason, "flood");
  assert.equal(sink.closes[0]?.code, 4101);
});

/**
 * A broker that records every call made into it while its own publish is
 * delivering (the stack the hub must never re-enter).
 */
class ReentryBroker implements Broker {
  readonly kind = "reentry-test";
  readonly stats = new BrokerStats();
  /** Calls made while `publish` was on the stack. */
  readonly reentered: string[] = [];
  /** Calls of `unsubscribe`, in order. */
  readonly unsubscribed: string[] = [];
  #handler: BrokerHandler | undefined;
  #delivering = false;
  #seq = 0;
  readonly #now: () => number;

  constructor(now: () => number) {
    this.#now = now;
  }
  #enter(call: string): void {
    if (this.#delivering) this.reentered.push(call);
  }
  connected(): Promise<boolean> {
    return Promise.resolve(true);
  }
  bind(handler: BrokerHandler): void {
    this.#handler = handler;
  }
  admits(channel: string): boolean {
    this.#enter(`admits(${channel})`);
    return true;
  }
  publish(channel: string, bodies: readonly PublishBody[]): Promise<Published> {
    this.#enter(`publish(${channel})`);
    const first = this.#seq + 1;
    this.#delivering = true;
    try {
      for (const body of bodies) {
        const frame = frameOf(channel, ++this.#seq, body, this.#now());
        void this.#handler!.publication(channel, frame);
      }
    } finally {
      this.#delivering = false;
    }
    return Promise.resolve({ channel, epoch: "E", first, last: this.#seq });
  }
  subscribe(channel: string): Promise<void> {
    this.#enter(`subscribe(${channel})`);
    return Promise.resolve();
  }
  unsubscribe(channel: string): void {
    this.#enter(`unsubscribe(${channel})`);
    this.unsubscribed.push(channel);
  }
  position(channel: string) {
    this.#enter(`position(${channel})`);
    return { epoch: "E", seq: this.#seq };
  }
  history(channel: string): History {
    this.#enter(`history(${channel})`);
    return {
      epoch: "E",
      until: this.#seq,
      notices: [],
      replay: { next: () => undefined, seq: 0 },
    };
  }
  [Symbol.asyncDispose](): Promise<void> {
    return Promise.resolve();
  }
}

Deno.test("Hub: a client cut while the broker delivers is closed at once and settled after the delivery returns; the broker is never re-entered", async () => {
  const clock = new FakeClock();
  const mode = new QueueMode({
    queue: { maxsize: 2, maxBytes: Infinity, policy: "disconnect" },
    limits: { dropLimit: 1000, fullTimeoutMs: 600_000, maxLagMs: Infinity },
    scheduler: clock,
  });
  const broker = new ReentryBroker(clock.now);
  const hub = new Hub({ mode, broker, now: clock.now });
  const ends: string[] = [];
  hub.on((e) => {
    if (e.type === "disconnect") ends.push(e.end.reason);
  });
  const sink = new FakeSink();
  sink.bufferedAmount = QUEUE_HIGH_WATER_BYTES; // never drains
  const slow = hub.open(sink, { remote: "slow", channel: "c" });
  const body = { tsSend: 1, payloadB64: "AA==" };
  // The tick finds it lagging (it drained nothing of what it was offered),
  // so its next overflow is judged at once: inside the broker's delivery.
  await broker.publish("c", [body]);
  clock.advance(250);
  hub.tick();
  await broker.publish("c", [body]); // its queue (2) is full now
  assert.equal(slow.closed, false);
  const delivered = broker.publish("c", [body]);
  assert.equal(slow.end?.reason, "slow_overflow", "closed during the delivery");
  assert.equal(sink.closes[0]?.code, 4004, "its close frame started at once");
  assert.deepEqual(broker.unsubscribed, [], "not settled inside the delivery");
  assert.equal(hub.size, 1);
  await delivered;
  assert.deepEqual(broker.unsubscribed, ["c"], "settled after it returned");
  assert.equal(hub.size, 0);
  assert.deepEqual(ends, ["slow_overflow"]);
  assert.equal(hub.totals().disconnects.get("slow_overflow"), 1);
  assert.deepEqual(broker.reentered, [], "the broker was re-entered");
  mode.stop();
});

Deno.test("Hub: only the hub closes; a peer close reported by the transport is settled at once and later closes are ignored", () => {
  const clock = new FakeClock();
  const { hub, broker, events } = queueHub(clock);
  const sink = new FakeSink();
  const s = hub.open(sink, { remote: "peer", channel: "p" });
  hub.peerClosed(s, 1000, "bye");
  assert.equal(s.end?.reason, "client_closed");
  assert.equal(hub.size, 0);
  assert.equal(broker.position("p").seq, 0);
  hub.close(s, "shutdown");
  hub.peerClosed(s, 1006, "", "Unexpected EOF");
  assert.deepEqual(
    sink.closes,
    [],
    "the server sends no close to a peer that left",
  );
  assert.deepEqual(events.map((e) => e.type), ["connect", "disconnect"]);
  assert.equal(s.end?.reason, "client_closed", "the first end stands");
});

Deno.test("Hub: its channel count is the only one — the broker follows what the hub tells it, holds included", async () => {
  const clock = new FakeClock();
  const { hub, broker, mode } = queueHub(clock);
  const release = hub.holdChannel("held");
  assert.ok(release, "the hold takes the channel");
  const s = hub.open(new FakeSink(), { remote: "a", channel: "held" });
  hub.close(s, "shutdown");
  assert.equal(hub.size, 0);
  // The hold still counts: the channel stays open in the broker and the
  // mode, and a later session of it receives what is published.
  await broker.publish("held", [{ tsSend: 1, payloadB64: "AA==" }]);
  const sink = new FakeSink();
  hub.open(sink, { remote: "b", channel: "held" });
  await broker.publish("held", [{ tsSend: 1, payloadB64: "AA==" }]);
  assert.deepEqual(sink.frames.map((f) => JSON.parse(f).seq), [2]);
  release!();
  release!(); // idempotent: one hold, one release
  assert.equal(broker.position("held").seq, 2, "a session still holds it");
  hub.closeAll("shutdown");
  // A channel nothing was published on is forgotten at the hub's last leave.
  const empty = hub.open(new FakeSink(), { remote: "c", channel: "empty" });
  assert.equal(broker.position("empty").epoch !== "", true);
  hub.close(empty, "shutdown");
  assert.deepEqual(broker.position("empty"), { epoch: "", seq: 0 });
  mode.stop();
});

Deno.test("Hub: a control session's sink is handed each data frame's seq and its channel's epoch, replayed ones included; a reset moves it to the new epoch", async () => {
  const clock = new FakeClock();
  const { hub, broker, mode } = queueHub(clock, { maxsize: 100 });
  const body = { tsSend: 1, payloadB64: "AA==" };
  await broker.publish("e", [body, body]);
  const sink = new FakeSink();
  hub.open(sink, { remote: "r", channel: "e", since: 0 });
  const plain = new FakeSink();
  hub.open(plain, { remote: "p", channel: "e" });
  await broker.publish("e", [body]);
  const { position } = afterPosition(sink.frames, "e");
  const epoch = position.epoch;
  assert.deepEqual(sink.ids, [`${epoch}:1`, `${epoch}:2`, `${epoch}:3`]);
  assert.deepEqual(
    plain.ids,
    [":3"],
    "a client without control frames is told no epoch",
  );
  hub.notice(
    "e",
    JSON.stringify({ type: "reset", channel: "e", epoch: "NEW", last_seq: 0 }),
    "NEW",
  );
  await broker.publish("e", [body]);
  assert.equal(sink.ids.at(-1), "NEW:4", "the epoch the broker names");
  hub.notice("e", '{"type":"gap","channel":"e","from":9,"to":9}');
  await broker.publish("e", [body]);
  assert.equal(sink.ids.at(-1), "NEW:5", "a notice that names none moves none");
  mode.stop();
});

Deno.test("a replay cursor says the seq of each message it returns, 0 for a gap notice", () => {
  const history = new ChannelHistory(3);
  const push = (seq: number) =>
    history.push(frameOf("h", seq, { tsSend: 1 }, 0));
  for (let seq = 1; seq <= 5; seq++) push(seq);
  const { replay } = historyAfter("h", history, "E", 5, { since: 2 });
  const seen: [string, number][] = [];
  const take = () => {
    const text = replay.next()!;
    seen.push([JSON.parse(text).type ?? "data", replay.seq]);
  };
  take();
  push(6);
  push(7); // evicts 3 and 4: 4 before the cursor reaches it
  take();
  take();
  assert.deepEqual(seen, [["data", 3], ["gap", 0], ["data", 5]]);
  assert.equal(replay.next(), undefined);
});
