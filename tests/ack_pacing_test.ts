/**
 * ACK pacing on the ladder, with fake sinks and an injected clock: a client
 * that ACKs has at most `--ladder-ack-window` data frames unACKed; the rest
 * wait in its queue, where its tier conflates them, instead of in socket
 * buffers where nothing can; each ACK lets more go; ACKs that stop end the
 * pacing; a client that never ACKs is not paced.
 */
import assert from "node:assert/strict";
import { decodeDataFrames, parseControl } from "../lib/protocol.ts";
import { AckPacer } from "../server/modes/ack_pacer.ts";
import { QueueMode } from "../server/modes/queue.ts";
import { FakeClock, FakeSink, testHub } from "./_helpers.ts";

const CALM = { loopLagMs: 0, sourceLagMs: 0 };

function pacedHub(
  clock: FakeClock,
  frames = 3,
  bytes = 1_000_000,
  downMs = 500,
) {
  const mode = new QueueMode({
    queue: { maxsize: 100, maxBytes: Infinity, policy: "ladder" },
    limits: { dropLimit: 50, fullTimeoutMs: 5000 },
    ladder: {
      downMsgs: 20,
      downMs,
      upMs: 2000,
      ackWindow: { frames, bytes },
    },
    scheduler: clock,
  });
  const t = testHub(mode, clock);
  const publish = async (n: number, key?: string) => {
    for (let i = 0; i < n; i++) {
      await t.publish("default", {
        tsSend: 1,
        payloadB64: "eA==",
        ...(key ? { key } : {}),
      });
    }
  };
  return { mode, ...t, publish };
}

/** The seqs of the data frames `sink` was sent, in order. */
const seqsOf = (sink: FakeSink) =>
  sink.frames.filter((f) => parseControl(f) === undefined).flatMap((f) =>
    decodeDataFrames(f).map((m) => m.seq)
  );

Deno.test("ACK pacing: a client that ACKs has at most the window unACKed, and each ACK lets that much more go", async () => {
  const clock = new FakeClock();
  const { mode, hub, publish } = pacedHub(clock);
  const sink = new FakeSink();
  const session = hub.open(sink, { remote: "acker" });
  const ack = (seq: number) =>
    hub.receive(session, JSON.stringify({ ack_ts: 1, seq }));
  const queued = () =>
    [...hub.subscribers()].find((s) => s.id === session.id)!.queued;

  await publish(1);
  assert.deepEqual(seqsOf(sink), [1], "before its first ACK: not paced");
  ack(1);
  await publish(10);
  assert.deepEqual(seqsOf(sink), [1, 2, 3, 4], "three unACKed, no more");
  assert.equal(queued(), 7, "the rest wait in its queue");
  ack(2);
  assert.deepEqual(seqsOf(sink), [1, 2, 3, 4, 5], "one ACKed, one more goes");
  ack(5);
  assert.deepEqual(seqsOf(sink).length, 8, "all ACKed: three more");
  // An ACK beyond what was sent frees nothing it was not sent.
  ack(99);
  assert.deepEqual(seqsOf(sink).length, 8);
  assert.equal(session.closed, false);
  mode.stop();
});

Deno.test("ACK pacing: what waits for an ACK is conflated by the tier, so the reader gets the latest value, not old ones", async () => {
  const clock = new FakeClock();
  const { mode, hub, publish } = pacedHub(clock, 2);
  const sink = new FakeSink();
  const session = hub.open(sink, { remote: "acker", control: true });
  const view = () => [...hub.subscribers()].find((s) => s.id === session.id)!;
  await publish(1, "k");
  const first = seqsOf(sink);
  hub.receive(session, JSON.stringify({ ack_ts: 1, seq: first[0] }));
  // It stops ACKing: the window fills and the queue grows until the ladder
  // moves it down to conflated (no batch frames: coalesced is skipped).
  for (let tick = 0; tick < 12 && view().tier !== "conflated"; tick++) {
    await publish(10, "k");
    clock.advance(250);
    hub.tick(CALM);
  }
  assert.equal(view().tier, "conflated");
  await publish(50, "k");
  assert.ok(view().queued <= 1, `${view().queued} queued: the latest only`);
  const sentBefore = seqsOf(sink).length;
  // It reads and ACKs what it has: the next frame is the newest value.
  hub.receive(
    session,
    JSON.stringify({ ack_ts: 1, seq: seqsOf(sink).at(-1) }),
  );
  const after = seqsOf(sink).slice(sentBefore);
  assert.equal(after.length, 1, `one frame after the ACK: ${after}`);
  const newest = 1 + 12 * 10; // every seq published so far, at most
  assert.ok(after[0]! > newest - 60, `seq ${after[0]}: a recent value`);
  assert.ok(view().conflated > 0, "superseded while it waited");
  assert.equal(session.closed, false);
  mode.stop();
});

Deno.test("ACK pacing: ACKs that stop for 2 s end the pacing; a client that never ACKs is never paced", async () => {
  const clock = new FakeClock();
  // The ladder's time threshold out of the way: pacing alone.
  const { mode, hub, publish } = pacedHub(clock, 3, 1_000_000, 60_000);
  const acker = new FakeSink();
  const silent = new FakeSink();
  const a = hub.open(acker, { remote: "acker" });
  hub.open(silent, { remote: "silent" });
  await publish(1);
  hub.receive(a, JSON.stringify({ ack_ts: 1, seq: 1 }));
  await publish(10);
  assert.equal(seqsOf(acker).length, 4, "paced: three unACKed");
  assert.equal(seqsOf(silent).length, 11, "never ACKed: not paced");
  clock.advance(2100);
  hub.tick(CALM);
  assert.equal(seqsOf(acker).length, 11, "its ACKs stopped: what waited went");
  await publish(5);
  assert.equal(seqsOf(acker).length, 16, "and stays unpaced until it ACKs");
  mode.stop();
});

Deno.test("ACK pacing: the byte bound holds too, at least one frame is always in flight, and a new numbering starts afresh", () => {
  const p = new AckPacer({ frames: 100, bytes: 1000 });
  p.sent(1, 5000);
  assert.equal(p.inFlight, 0, "not paced before its first ACK");
  p.acked(0, 0);
  assert.equal(p.full(1), false, "nothing in flight");
  p.sent(1, 5000);
  assert.equal(p.full(1), true, "one frame over the byte bound fills it");
  p.acked(1, 2);
  assert.equal(p.full(2), false);
  p.sent(2, 400);
  p.sent(3, 400);
  assert.equal(p.full(3), false);
  p.sent(4, 400);
  assert.equal(p.full(3), true, "1200 bytes in flight");
  assert.equal(p.bytesInFlight, 1200);
  // A reset's new numbering (seq 1 again) forgets the old one's frames.
  p.sent(1, 10);
  assert.equal(p.inFlight, 1);
  assert.equal(p.bytesInFlight, 10);
  // ACKs stopped for longer than the lapse: not paced, nothing in flight.
  assert.equal(p.full(3 + 2001), false);
  assert.equal(p.inFlight, 0);
});
