/**
 * Per-message deadlines and loss classes (protocol 3), with fake sinks and
 * an injected clock: a message whose time to live ran out while it waited is
 * not sent and the client is told how many; a critical message is never
 * dropped, conflated or expired and keeps its place in seq order.
 */
import assert from "node:assert/strict";
import { decodeData, parseControl } from "../lib/protocol.ts";
import type { PublishBody } from "../server/core/frame.ts";
import type { SlowPolicy } from "../server/modes/client_queue.ts";
import { QueueMode } from "../server/modes/queue.ts";
import { messageFromText } from "../server/sources/message_body.ts";
import { FakeClock, FakeSink, testHub } from "./_helpers.ts";

const BIG = "x".repeat(70 * 1024); // one frame fills the socket gate

function hubWith(
  clock: FakeClock,
  policy: SlowPolicy = "drop-oldest",
  channelTtlMs?: ReadonlyMap<string, number>,
) {
  const mode = new QueueMode({
    queue: { maxsize: 4, maxBytes: Infinity, policy },
    limits: { dropLimit: 1_000_000, fullTimeoutMs: 3_600_000 },
    scheduler: clock,
    ...(channelTtlMs ? { channelTtlMs } : {}),
  });
  return { mode, ...testHub(mode, clock) };
}

/** A control client whose socket is full: everything published now waits. */
function blockedClient(hub: ReturnType<typeof hubWith>["hub"]) {
  const sink = new FakeSink();
  const session = hub.open(sink, { remote: "slow", control: true });
  sink.bufferedAmount = 1 << 20;
  return { sink, session };
}

/** Lets the socket drain and the writer send what waits. */
async function drain(clock: FakeClock, sink: FakeSink) {
  sink.bufferedAmount = 0;
  await clock.run(30);
}

const body = (extra: Partial<PublishBody> = {}): PublishBody => ({
  tsSend: 1,
  payloadB64: "AA==",
  ...extra,
});

/** The frames after the position notice, as `seq` numbers or control types. */
function seen(sink: FakeSink): (number | string)[] {
  return sink.frames.slice(1).map((f) => {
    const c = parseControl(f);
    if (c) return c.type === "expired" ? `expired:${c.count}` : c.type;
    return decodeData(f).seq;
  });
}

Deno.test("deadlines: a message whose time to live ran out while it waited is not sent; the next frame says how many", async () => {
  const clock = new FakeClock();
  const { mode, hub, publish } = hubWith(clock);
  const { sink } = blockedClient(hub);
  await publish("default", body({ ttlMs: 100 })); // seq 1
  await publish("default", body({ ttlMs: 100 })); // seq 2
  await publish("default", body()); // seq 3: no deadline
  await publish("default", body({ ttlMs: 10_000 })); // seq 4
  clock.advance(150);
  await drain(clock, sink);
  assert.deepEqual(seen(sink), ["expired:2", 3, 4]);
  assert.equal(hub.expired, 2);
  assert.equal(mode.expired, 2);
  mode.stop();
});

Deno.test("deadlines: --channel-ttl gives a channel's messages a default a message's own deadline overrides", async () => {
  const clock = new FakeClock();
  const { mode, hub, publish } = hubWith(
    clock,
    "drop-oldest",
    new Map([["default", 50]]),
  );
  const { sink } = blockedClient(hub);
  await publish("default", body()); // 1: the channel's 50 ms
  await publish("default", body({ ttlMs: 5000 })); // 2: its own
  clock.advance(100);
  await drain(clock, sink);
  assert.deepEqual(seen(sink), ["expired:1", 2]);
  mode.stop();
});

Deno.test("loss classes: critical messages are never dropped or expired and keep their place; droppable ones go first", async () => {
  const clock = new FakeClock();
  const { mode, hub, publish } = hubWith(clock);
  const { sink, session } = blockedClient(hub);
  for (let seq = 1; seq <= 12; seq++) {
    const critical = seq % 3 === 0;
    await publish("default", body({ critical, ttlMs: 100 }));
  }
  clock.advance(150);
  await drain(clock, sink);
  const got = seen(sink);
  const data = got.filter((x): x is number => typeof x === "number");
  for (const seq of [3, 6, 9, 12]) assert.ok(data.includes(seq), `${seq}`);
  assert.deepEqual(data, [...data].sort((a, b) => a - b), "in seq order");
  assert.deepEqual(data, [3, 6, 9, 12], "the droppable ones expired");
  assert.ok(
    [...hub.subscribers()].find((v) => v.id === session.id)!.drops > 0,
    "droppable ones were dropped",
  );
  assert.equal(session.closed, false);
  mode.stop();
});

Deno.test("loss classes: a critical message is never conflated away", async () => {
  const clock = new FakeClock();
  const { mode, hub, publish } = hubWith(clock, "conflate");
  const { sink } = blockedClient(hub);
  await publish("default", body({ key: "k", critical: true })); // 1
  await publish("default", body({ key: "k" })); // 2
  await publish("default", body({ key: "k" })); // 3 supersedes 2
  await drain(clock, sink);
  assert.deepEqual(seen(sink), [1, 3]);
  mode.stop();
});

Deno.test("loss classes: a client that cannot take even the critical messages is cut (slow_overflow)", async () => {
  const clock = new FakeClock();
  const { mode, hub, publish } = hubWith(clock);
  const { session } = blockedClient(hub);
  for (let i = 0; i < 5 && !session.closed; i++) {
    await publish("default", body({ critical: true, payloadB64: BIG }));
  }
  assert.equal(session.end?.reason, "slow_overflow");
  assert.match(session.end!.detail, /critical/);
  mode.stop();
});

Deno.test("messageFromText() reads ttl_ms and critical from an NDJSON object only when asked, and keeps them in the data", () => {
  const line = '{"px":1,"ttl_ms":250,"critical":true}';
  const m = messageFromText(line, { json: "require", classes: true });
  assert.equal(m.ttlMs, 250);
  assert.equal(m.critical, true);
  assert.equal(m.dataJson, line);
  const plain = messageFromText(line, { json: "require" });
  assert.equal(plain.ttlMs, undefined);
  const bad = messageFromText('{"ttl_ms":-1,"critical":"yes"}', {
    json: "require",
    classes: true,
  });
  assert.equal(bad.ttlMs, undefined);
  assert.equal(bad.critical, undefined);
});
