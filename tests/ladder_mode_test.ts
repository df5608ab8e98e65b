/**
 * Queue mode under `--policy ladder`, with fake sinks and an injected clock:
 * a client that stops reading is moved down tier by tier and told so; in
 * `coalesced` its queue leaves as one frame the moment its socket can take
 * it; in `conflated` superseded values are counted apart from drops; only
 * in `dropping` is it cut; once it reads again it climbs back up.
 */
import assert from "node:assert/strict";
import { decodeDataFrames, parseControl } from "../lib/protocol.ts";
import { QueueMode } from "../server/modes/queue.ts";
import { COALESCE_MAX_BYTES } from "../server/modes/socket_gate.ts";
import { FakeClock, FakeSink, testHub } from "./_helpers.ts";

const CALM = { loopLagMs: 0, sourceLagMs: 0 };
const HOT = { loopLagMs: 400, sourceLagMs: 0 };
const PAYLOAD = "x".repeat(2000);

function ladderHub(clock: FakeClock, dropLimit = 50) {
  const mode = new QueueMode({
    queue: { maxsize: 100, maxBytes: Infinity, policy: "ladder" },
    limits: { dropLimit, fullTimeoutMs: 5000 },
    ladder: { downMsgs: 20, downMs: 500, upMs: 2000 },
    scheduler: clock,
  });
  const t = testHub(mode, clock);
  let next = 0;
  /** Publishes `n` messages, keyed (each its own key: conflation absorbs nothing) or not. */
  const publish = async (n: number, keyed = false) => {
    for (let i = 0; i < n; i++) {
      const key = keyed ? { key: `k${next++}` } : {};
      await t.publish("default", { tsSend: 1, payloadB64: PAYLOAD, ...key });
    }
  };
  return { mode, ...t, publish };
}

const tiersOf = (sink: FakeSink) =>
  sink.frames.map(parseControl).filter((c) => c?.type === "tier").map((c) =>
    c?.type === "tier" ? `${c.from}>${c.tier}:${c.reason}` : ""
  );

Deno.test("ladder: a batch client that reads a quarter of its stream goes down tier by tier, is told each step, and is cut only in dropping", async () => {
  const clock = new FakeClock();
  const { mode, hub, publish } = ladderHub(clock);
  const sink = new FakeSink();
  sink.stalled = true;
  const session = hub.open(sink, {
    remote: "slow",
    control: true,
    batch: true,
  });
  const fast = new FakeSink();
  const peer = hub.open(fast, { remote: "fast" });
  const tierAt: string[] = [];
  for (let tick = 0; tick < 80 && !session.closed; tick++) {
    await publish(10, true); // every message its own key
    fast.bufferedAmount = 0;
    // Reads a quarter of what it is offered (20 KB a tick).
    sink.bufferedAmount = Math.max(0, sink.bufferedAmount - 5000);
    await clock.run(5);
    clock.advance(245);
    hub.tick(CALM);
    const tier = [...hub.subscribers()].find((s) => s.id === session.id)?.tier;
    if (tier && tierAt.at(-1) !== tier) tierAt.push(tier);
  }
  assert.deepEqual(tierAt, ["full", "coalesced", "conflated", "dropping"]);
  assert.deepEqual(
    tiersOf(sink).map((s) => s.split(":")[0]),
    ["full>coalesced", "coalesced>conflated", "conflated>dropping"],
  );
  assert.equal(session.end?.reason, "slow_drops", "cut only in dropping");
  assert.equal(peer.closed, false, "the reading peer is untouched");
  assert.equal(fast.frames.filter((f) => f.startsWith("[")).length, 0);
  assert.deepEqual(mode.tierChanges, {
    full: 0,
    coalesced: 1,
    conflated: 1,
    dropping: 1,
  });
  mode.stop();
});

Deno.test("ladder: in conflated a stalled client keeps only the latest value per channel, superseded apart from drops, and is not cut", async () => {
  const clock = new FakeClock();
  const { mode, hub, publish } = ladderHub(clock, 0);
  const sink = new FakeSink();
  sink.stalled = true;
  const session = hub.open(sink, { remote: "slow", control: true });
  // Down to conflated (no batch frames: coalesced is skipped).
  const view = () => [...hub.subscribers()].find((s) => s.id === session.id)!;
  for (let tick = 0; tick < 12 && view().tier !== "conflated"; tick++) {
    await publish(10);
    clock.advance(250);
    hub.tick(CALM);
  }
  assert.equal(view().tier, "conflated");
  const dropsBefore = view().drops;
  const conflatedBefore = view().conflated;
  await publish(200);
  assert.equal(session.closed, false, "--drop-limit 0, yet not cut");
  assert.equal(view().drops, dropsBefore, "superseded is not dropped");
  assert.ok(view().conflated >= conflatedBefore + 199);
  assert.ok(view().queued <= 2, `${view().queued} queued: latest only`);
  mode.stop();
});

Deno.test("ladder: coalesced sends everything queued in frames of up to 64 KiB the moment the socket drains, then climbs back to full", async () => {
  const clock = new FakeClock();
  const { mode, hub, publish } = ladderHub(clock);
  const sink = new FakeSink();
  sink.stalled = true;
  const session = hub.open(sink, { remote: "c", control: true, batch: true });
  await publish(80); // 80 × 2 KB: past the 64 KiB socket gate, 40+ queued
  clock.advance(600);
  hub.tick(CALM);
  assert.equal(
    [...hub.subscribers()][0]!.tier,
    "coalesced",
  );
  const before = sink.frames.length;
  const queued = [...hub.subscribers()][0]!.queued;
  assert.ok(queued >= 20, `${queued} queued`);
  sink.stalled = false;
  sink.bufferedAmount = 0;
  await clock.run(50); // the drain watcher notices
  const sent = sink.frames.slice(before);
  const batches = sent.filter((f) => f.startsWith("["));
  // Everything that waited, in frames of at most the socket gate (64 KiB,
  // here 30-odd messages of 2 KB each): a handful, not one per message.
  assert.equal(
    batches.reduce((n, b) => n + decodeDataFrames(b).length, 0),
    queued,
  );
  assert.ok(batches.length <= Math.ceil(queued / 30), `${batches.length}`);
  assert.ok(batches.every((b) => b.length <= COALESCE_MAX_BYTES + 2100));
  // Keeps up for upMs: back to full, told so; one frame per message again.
  for (let tick = 0; tick < 12; tick++) {
    await publish(1);
    clock.advance(250);
    hub.tick(CALM);
  }
  assert.equal([...hub.subscribers()][0]!.tier, "full");
  assert.ok(tiersOf(sink).includes("coalesced>full:kept_up"));
  assert.equal(session.closed, false);
  mode.stop();
});

Deno.test("ladder: while the server is overloaded every batch client is coalesced and nobody is cut; once calm, the stalled one is", async () => {
  const clock = new FakeClock();
  const { mode, hub, publish } = ladderHub(clock, 5);
  const sinks = [0, 1, 2].map(() => new FakeSink());
  sinks[2]!.stalled = true;
  const sessions = sinks.map((sink, i) =>
    hub.open(sink, { remote: `c${i}`, control: true, batch: true })
  );
  for (let tick = 0; tick < 40; tick++) {
    await publish(10, true); // every message its own key
    await clock.run(5);
    clock.advance(245);
    hub.tick(HOT);
  }
  assert.ok(hub.overload.overloaded);
  assert.ok(sessions.every((s) => !s.closed), "nobody cut while shedding");
  assert.ok(
    sinks.slice(0, 2).every((s) =>
      tiersOf(s).includes("full>coalesced:overload")
    ),
  );
  for (let tick = 0; tick < 60 && !sessions[2]!.closed; tick++) {
    await publish(10, true); // every message its own key
    await clock.run(5);
    clock.advance(245);
    hub.tick(CALM);
  }
  assert.equal(sessions[2]!.end?.reason, "slow_drops");
  assert.ok(sessions.slice(0, 2).every((s) => !s.closed));
  mode.stop();
});

Deno.test("coalescing: a client that accepts arrays (?batch=auto) gets what one turn of the event loop offered as one frame, a lone message as a single object, with no timer; a plain client gets each at once", async () => {
  const clock = new FakeClock();
  const mode = new QueueMode({
    queue: { maxsize: 100, maxBytes: Infinity, policy: "drop-oldest" },
    limits: { dropLimit: 50, fullTimeoutMs: 5000 },
    scheduler: clock,
  });
  const { hub, publish } = testHub(mode, clock);
  const auto = new FakeSink();
  const plain = new FakeSink();
  hub.open(auto, { remote: "auto", coalesce: true });
  hub.open(plain, { remote: "plain" });
  const burst = async (n: number) => {
    for (let i = 0; i < n; i++) {
      await publish("default", { tsSend: 1, payloadB64: "AA==" });
    }
  };
  await burst(5);
  assert.equal(auto.frames.length, 0, "held to the end of the turn");
  assert.equal(plain.frames.length, 5, "a plain client is not held");
  clock.advance(0); // the end of the turn: a 0-ms timer, no clock time
  assert.equal(auto.frames.length, 1);
  assert.deepEqual(
    JSON.parse(auto.frames[0]!).map((f: { seq: number }) => f.seq),
    [1, 2, 3, 4, 5],
  );
  await burst(1);
  clock.advance(0);
  assert.equal(auto.frames.length, 2);
  assert.equal(JSON.parse(auto.frames[1]!).seq, 6, "alone: a single object");
  mode.stop();
});
