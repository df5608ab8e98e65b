/**
 * The channel follower's rules with a fake engine: exactly once, in order,
 * holes repaired from the stream, `gap` where it cannot, `reset` on a new
 * epoch, late news of an old epoch ignored. No network.
 */
import assert from "node:assert/strict";
import {
  ChannelFollower,
  type FollowerIo,
  type StreamRead,
} from "../server/broker/channel_follower.ts";
import { frameOf, type OutFrame } from "../server/core/frame.ts";

const frame = (seq: number): OutFrame =>
  frameOf("c", seq, { tsSend: 1, dataJson: String(seq) }, 0);

/** A follower over a fake engine whose stream holds `stored` seqs of `epoch`. */
function follower(stored: { epoch: string; seqs: number[] }, history = 10) {
  const delivered: number[] = [];
  const notices: Record<string, unknown>[] = [];
  const counts = { repair: 0, gap: 0, reset: 0, stale: 0 };
  const reads: [number, number][] = [];
  let release: (() => void) | undefined;
  const io: FollowerIo = {
    deliver: (f) => void delivered.push(f.seq),
    notice: (text) => void notices.push(JSON.parse(text)),
    count: (event) => void counts[event]++,
    read: async (from, to): Promise<StreamRead> => {
      reads.push([from, to]);
      if (release) await new Promise<void>((r) => release = r);
      return {
        epoch: stored.epoch,
        top: Math.max(0, ...stored.seqs),
        frames: stored.seqs.filter((s) => s >= from && s <= to).map(frame),
      };
    },
  };
  const f = new ChannelFollower("c", history, io);
  return {
    f,
    delivered,
    notices,
    counts,
    reads,
    /** Makes the next reads wait until `go()` is called. */
    hold: () => release = () => {},
    go: () => release?.(),
  };
}

const settle = async () => {
  for (let i = 0; i < 10; i++) await Promise.resolve();
};

Deno.test("ChannelFollower delivers in order and drops duplicates", () => {
  const { f, delivered } = follower({ epoch: "E", seqs: [] });
  f.start("E", 0);
  for (const seq of [1, 2, 2, 3, 1, 4]) f.receive("E", frame(seq));
  assert.deepEqual(delivered, [1, 2, 3, 4]);
  assert.equal(f.delivered, 4);
});

Deno.test("ChannelFollower holds messages past a hole and repairs it from the stream before going on", async () => {
  const { f, delivered, reads, counts, notices } = follower({
    epoch: "E",
    seqs: [1, 2, 3, 4, 5, 6],
  });
  f.start("E", 1);
  f.receive("E", frame(2));
  f.receive("E", frame(5)); // 3 and 4 were lost on the way
  f.receive("E", frame(6));
  assert.deepEqual(delivered, [2], "nothing past the hole yet");
  await settle();
  assert.deepEqual(reads, [[3, 4]]);
  assert.deepEqual(delivered, [2, 3, 4, 5, 6]);
  assert.equal(counts.repair, 1);
  assert.deepEqual(notices, []);
});

Deno.test("ChannelFollower says gap for what the stream no longer holds, then goes on", async () => {
  const { f, delivered, notices, counts } = follower({
    epoch: "E",
    seqs: [8, 9, 10], // 3..7 trimmed away
  });
  f.start("E", 2);
  f.receive("E", frame(10));
  await settle();
  assert.deepEqual(notices, [{
    type: "gap",
    channel: "c",
    from: 3,
    to: 7,
    missed: 5,
  }]);
  assert.deepEqual(delivered, [8, 9, 10]);
  assert.equal(counts.gap, 1);
});

Deno.test("ChannelFollower: a new epoch is a reset from its start; late messages of the old one are ignored", async () => {
  const { f, delivered, notices, counts } = follower({
    epoch: "F",
    seqs: [1, 2, 3],
  });
  f.start("E", 40);
  f.receive("F", frame(3)); // the stream started over; 1 and 2 were missed
  await settle();
  assert.deepEqual(notices[0], {
    type: "reset",
    channel: "c",
    epoch: "F",
    last_seq: 0,
  });
  assert.deepEqual(delivered, [1, 2, 3]);
  f.receive("E", frame(41)); // in flight from before the reset
  assert.deepEqual(delivered, [1, 2, 3], "no flip back to the old stream");
  assert.equal(f.epoch, "F");
  assert.equal(counts.reset, 1);
});

Deno.test("ChannelFollower.resync() repairs what was published while away, and tells a regression apart", async () => {
  const { f, delivered } = follower({ epoch: "E", seqs: [5, 6, 7] });
  f.start("E", 4);
  assert.equal(f.resync("E", 4), "same");
  assert.equal(f.resync("E", 7), "behind");
  await settle();
  assert.deepEqual(delivered, [5, 6, 7]);
  assert.equal(f.resync("E", 3), "regressed", "the engine lost our tail");
});

Deno.test("ChannelFollower keeps order while a repair is in flight and messages keep arriving", async () => {
  const t = follower({ epoch: "E", seqs: [1, 2, 3, 4, 5, 6, 7, 8] });
  t.f.start("E", 0);
  t.f.receive("E", frame(1));
  t.hold();
  t.f.receive("E", frame(4)); // 2, 3 lost: a repair starts and waits
  t.f.receive("E", frame(5));
  t.f.receive("E", frame(7)); // 6 lost too
  t.f.receive("E", frame(8));
  assert.deepEqual(t.delivered, [1]);
  t.go();
  await settle();
  t.go();
  await settle();
  assert.deepEqual(t.delivered, [1, 2, 3, 4, 5, 6, 7, 8]);
});

Deno.test("ChannelFollower waits for a naive broadcast before handing over the next message", async () => {
  const delivered: number[] = [];
  let finish: (() => void) | undefined;
  const f = new ChannelFollower("c", 10, {
    deliver: (fr) => {
      delivered.push(fr.seq);
      return fr.seq === 1 ? new Promise<void>((r) => finish = r) : undefined;
    },
    notice: () => {},
    count: () => {},
    read: () => Promise.reject(new Error("no reads")),
  });
  f.start("E", 0);
  f.receive("E", frame(1));
  f.receive("E", frame(2));
  f.receive("E", frame(3));
  assert.deepEqual(delivered, [1], "2 waits for 1 to be taken by everyone");
  finish!();
  await settle();
  assert.deepEqual(delivered, [1, 2, 3]);
});

Deno.test("ChannelFollower never moves to an older epoch: late messages and stale replies of a lower generation are discarded and counted", async () => {
  const { f, delivered, counts } = follower({ epoch: "5.old", seqs: [] });
  f.start("3.first", 10);
  f.receive("7.newer", frame(1));
  assert.equal(f.epoch, "7.newer");
  f.receive("5.old", frame(11)); // a generation this node never followed
  assert.equal(f.epoch, "7.newer");
  assert.equal(f.resync("5.old", 40), "stale");
  assert.equal(f.epoch, "7.newer");
  f.receive("7.newer", frame(2));
  await settle();
  assert.deepEqual(delivered, [1, 2]);
  assert.equal(counts.stale, 2);
  assert.equal(counts.reset, 1);
});

Deno.test("ChannelFollower compares a resync with the position as of the question: pub/sub running ahead of the reply is not a regression", () => {
  const { f } = follower({ epoch: "1.e", seqs: [] });
  f.start("1.e", 10);
  const asOf = f.delivered; // the JOIN goes out
  for (const seq of [11, 12, 13]) f.receive("1.e", frame(seq));
  assert.equal(f.resync("1.e", 10, asOf), "same");
  assert.equal(f.resync("1.e", 8, asOf), "regressed");
});

Deno.test("ChannelFollower: a catch-up longer than its bound (an engine back after an outage) hands over the newest messages and announces an exact gap for the rest", async () => {
  const seqs = Array.from({ length: 1000 }, (_, i) => i + 1);
  const delivered: number[] = [];
  const notices: Record<string, unknown>[] = [];
  const paced = new ChannelFollower("c", 10, {
    deliver: (fr) => void delivered.push(fr.seq),
    notice: (t) => void notices.push(JSON.parse(t)),
    count() {},
    read: (from, to) =>
      Promise.resolve({
        epoch: "1.e",
        top: 1000,
        frames: seqs.filter((s) => s >= from && s <= to).map(frame),
      }),
  }, 100);
  paced.start("1.e", 0);
  assert.equal(paced.resync("1.e", 1000), "behind");
  await settle();
  assert.deepEqual(notices.map((n) => [n.type, n.from, n.to]), [[
    "gap",
    1,
    900,
  ]]);
  assert.deepEqual(delivered, seqs.slice(900));
});

/** A follower whose reads wait for the test to answer each (or fail it). */
function manual(history = 10) {
  const delivered: number[] = [];
  const notices: Record<string, unknown>[] = [];
  const reads: {
    from: number;
    to: number;
    answer(r: StreamRead): void;
    fail(): void;
  }[] = [];
  const f = new ChannelFollower("c", history, {
    deliver: (fr) => void delivered.push(fr.seq),
    notice: (t) => void notices.push(JSON.parse(t)),
    count() {},
    read: (from, to) => {
      const { promise, resolve, reject } = Promise.withResolvers<StreamRead>();
      reads.push({
        from,
        to,
        answer: resolve,
        fail: () => reject(new Error("connection lost")),
      });
      return promise;
    },
  });
  return { f, delivered, notices, reads };
}

const stream = (epoch: string, top: number, seqs: number[]): StreamRead => ({
  epoch,
  top,
  frames: seqs.map(frame),
});

Deno.test("ChannelFollower: a repair to the old epoch's top stops at the new epoch (no false gap, no position ahead of the engine)", async () => {
  const t = manual();
  t.f.start("1.a", 1);
  assert.equal(t.f.resync("1.a", 3), "behind"); // reads 2..3
  // The engine starts over; the new epoch's first message arrives while
  // the read is out.
  t.f.receive("2.b", frame(1));
  t.reads[0]!.answer(stream("1.a", 3, [2, 3]));
  await settle();
  for (const r of t.reads.slice(1)) r.answer(stream("2.b", 1, [1]));
  await settle();
  // Before: the repair went on to 3 in the new epoch, found nothing there,
  // announced `gap 2..3`, and stood at 3 while the engine had 1 — which
  // the next check took for an engine that lost data (everyone reset).
  assert.deepEqual(t.notices.map((n) => n.type), ["reset"]);
  assert.equal(t.reads.length, 1);
  assert.deepEqual([t.f.epoch, t.f.delivered], ["2.b", 1]);
});

Deno.test("ChannelFollower: a read that fails after a resync asked for more is read again; one that fails alone waits for the resync", async () => {
  const t = manual();
  t.f.start("E", 1);
  t.f.resync("E", 3); // reads 2..3
  // The engine went away with that read out, and came back: the resync
  // after its return asks for more while the read has not failed yet.
  t.f.resync("E", 5);
  t.reads[0]!.fail();
  await settle();
  assert.deepEqual(t.reads.map((r) => [r.from, r.to]), [[2, 3], [2, 5]]);
  t.reads[1]!.answer(stream("E", 5, [2, 3, 4, 5]));
  await settle();
  assert.deepEqual(t.delivered, [2, 3, 4, 5]);
  // A read that fails with nothing asked meanwhile is not retried: the
  // engine is away, and the resync on its return repairs.
  t.f.resync("E", 7);
  t.reads[2]!.fail();
  await settle();
  assert.equal(t.reads.length, 3);
  assert.equal(t.f.delivered, 5);
});

Deno.test("ChannelFollower: a read that fails because the engine went away is not read again for what that engine said (its top, its held messages)", async () => {
  const t = manual();
  t.f.start("E", 1);
  t.f.resync("E", 3); // reads 2..3 from the old engine
  t.f.receive("E", frame(4)); // held ahead; asks the repair for more
  t.f.suspect(); // the engine went away (a failover to a replica)
  t.reads[0]!.fail();
  await settle();
  // Before: the repair read 2..4 again from the replica, which never had
  // them, announced `gap 2..4`, and stood ahead of it (a false regression).
  assert.equal(t.reads.length, 1);
  assert.deepEqual(t.notices, []);
  // The resync after its return says where the replica stands.
  assert.equal(t.f.resync("E", 2, 1), "behind");
  assert.deepEqual(t.reads.map((r) => [r.from, r.to]), [[2, 3], [2, 2]]);
  t.reads[1]!.answer(stream("E", 2, [2]));
  await settle();
  assert.deepEqual([t.f.delivered, t.notices.length], [2, 0]);
});
