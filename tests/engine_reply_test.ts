/**
 * The decisions a node takes on the engine's replies (`engine_reply.ts`),
 * shared by the Redis broker and the fault simulator: each rule on a real
 * {@link ChannelFollower} with an engine that is never read.
 */
import assert from "node:assert/strict";
import { ChannelFollower } from "../server/broker/channel_follower.ts";
import {
  ANY_TOP,
  applyCheckReply,
  applyJoinReply,
  askedAt,
  markOf,
} from "../server/broker/engine_reply.ts";
import { frameOf } from "../server/core/frame.ts";

/** A follower whose reads never answer, and what it delivered and announced. */
function follower() {
  const seqs: number[] = [];
  const notices: string[] = [];
  const f = new ChannelFollower("c", 10, {
    deliver: (frame) => void seqs.push(frame.seq),
    notice: (text) => void notices.push(JSON.parse(text).type),
    read: () => new Promise(() => {}),
    count() {},
  });
  return { f, seqs, notices };
}

const frame = (seq: number) =>
  frameOf("c", seq, { tsSend: 1, dataJson: "1" }, 0);

Deno.test("applyJoinReply: the first reply starts the follower, then the messages held for it are delivered in order", () => {
  const { f, seqs } = follower();
  const asked = askedAt(f);
  const early = [{ epoch: "5.a", frame: frame(4) }, {
    epoch: "5.a",
    frame: frame(5),
  }];
  assert.equal(
    applyJoinReply(f, asked, { epoch: "5.a", top: 3 }, early),
    undefined,
  );
  assert.deepEqual([f.epoch, f.delivered, seqs], ["5.a", 5, [4, 5]]);
});

Deno.test("applyJoinReply: an engine behind the position as of the ask, in the same epoch, is renumbered below that position — not below what arrived meanwhile", () => {
  const { f } = follower();
  f.start("5.a", 6);
  const asked = askedAt(f);
  f.receive("5.a", frame(7)); // pub/sub, while the JOIN was out
  assert.deepEqual(
    applyJoinReply(f, asked, { epoch: "5.a", top: 4 }, undefined),
    { epoch: "5.a", asOf: 6, marks: [] },
  );
  // Behind what arrived meanwhile but not what it had when it asked: no renumber.
  assert.equal(
    applyJoinReply(f, asked, { epoch: "5.a", top: 6 }, undefined),
    undefined,
  );
});

Deno.test("applyJoinReply: an engine in an older epoch is renumbered whatever its top; the follower stays", () => {
  const { f, notices } = follower();
  f.start("5.a", 6);
  assert.deepEqual(
    applyJoinReply(f, askedAt(f), { epoch: "3.z", top: 90 }, undefined),
    { epoch: "3.z", asOf: ANY_TOP },
  );
  assert.deepEqual([f.epoch, notices], ["5.a", []]);
});

Deno.test("applyJoinReply: a follower that moved to another epoch while the JOIN was out is not compared with its old position", () => {
  const { f, notices } = follower();
  f.start("5.a", 6);
  const asked = askedAt(f);
  f.receive("7.b", frame(1)); // the new epoch arrived over pub/sub
  // The reply names the epoch it moved to, behind what it had in 5.a: nothing.
  assert.equal(
    applyJoinReply(f, asked, { epoch: "7.b", top: 1 }, undefined),
    undefined,
  );
  assert.deepEqual([f.epoch, f.delivered, notices], ["7.b", 1, ["reset"]]);
  // A reply naming yet another, newer epoch is adopted, not renumbered.
  assert.equal(
    applyJoinReply(f, asked, { epoch: "8.c", top: 0 }, undefined),
    undefined,
  );
  assert.deepEqual([f.epoch, notices], ["8.c", ["reset", "reset"]]);
});

Deno.test("applyCheckReply: each verdict's repair — join, renumber (older: any top; regressed: as of the ask), resync, resync and subscribe again", () => {
  const { f } = follower();
  f.start("5.a", 6);
  const asked = askedAt(f);
  assert.deepEqual(
    applyCheckReply(f, asked, undefined, { epoch: "", top: 0 }),
    {
      cause: "missing",
      join: true,
    },
  );
  assert.deepEqual(
    applyCheckReply(f, asked, undefined, { epoch: "3.z", top: 9 }),
    {
      cause: "older",
      renumber: { epoch: "3.z", asOf: ANY_TOP },
    },
  );
  assert.deepEqual(
    applyCheckReply(f, asked, undefined, { epoch: "5.a", top: 2 }),
    {
      cause: "regressed",
      renumber: { epoch: "5.a", asOf: 6, marks: [] },
    },
  );
  assert.deepEqual(
    applyCheckReply(f, asked, undefined, { epoch: "5.a", top: 9 }),
    {
      lag: { epoch: "5.a", top: 9 },
    },
  );
  // Behind a top the previous check saw in another epoch: not stuck (the
  // follower moved on since; that top says nothing about this epoch).
  assert.deepEqual(
    applyCheckReply(f, asked, { epoch: "4.z", top: 9 }, {
      epoch: "5.a",
      top: 9,
    }),
    { lag: { epoch: "5.a", top: 9 } },
  );
  assert.deepEqual(
    applyCheckReply(f, asked, { epoch: "5.a", top: 9 }, {
      epoch: "5.a",
      top: 9,
    }),
    {
      lag: { epoch: "5.a", top: 9 },
      cause: "stuck",
      renew: true,
    },
  );
  assert.equal(f.epoch, "5.a");
  assert.deepEqual(
    applyCheckReply(f, asked, undefined, { epoch: "7.b", top: 0 }),
    {
      cause: "epoch",
    },
  );
  assert.equal(f.epoch, "7.b", "resynced to the newer epoch");
});

Deno.test("marks: the engine going away keeps the last message handed over; a JOIN that finds another message at its seq renumbers with it, one that finds it forgets it", () => {
  const { f, seqs } = follower();
  f.start("5.a", 0);
  f.receive("5.a", frame(1));
  f.receive("5.a", frame(3)); // held ahead of a hole
  f.suspect();
  assert.deepEqual(f.marks.map((m) => m.seq), [1]);
  assert.equal(
    f.seen,
    1,
    "what was held ahead came from the engine that went away",
  );
  f.suspect(); // a second outage with nothing new handed over: one mark
  assert.equal(f.marks.length, 1);
  const asked = askedAt(f);
  // The engine's stream holds another message at seq 1 (a peer published
  // there after a failover lost it): the same (epoch, top) as here.
  const renumber = applyJoinReply(
    f,
    asked,
    { epoch: "5.a", top: 1, diverged: true },
    undefined,
  );
  assert.deepEqual(renumber?.marks?.map((m) => m.seq), [1]);
  assert.equal(renumber?.asOf, 1);
  assert.equal(f.marks.length, 1, "kept until the engine agrees");
  // Behind it (the engine lost seq 1): a renumber, and the mark stays.
  assert.deepEqual(
    applyJoinReply(f, asked, { epoch: "5.a", top: 0 }, undefined)?.marks?.map(
      (m) => m.seq,
    ),
    [1],
  );
  assert.equal(f.marks.length, 1, "not compared: kept");
  // It agrees: forgotten, and the follower goes on.
  assert.equal(
    applyJoinReply(f, asked, { epoch: "5.a", top: 2 }, undefined),
    undefined,
  );
  assert.deepEqual([f.marks.length, seqs], [0, [1]]);
});

Deno.test("marks: a check with a mark not yet compared asks for a JOIN; a new epoch forgets marks", () => {
  const { f } = follower();
  f.start("5.a", 0);
  f.receive("5.a", frame(1));
  f.suspect();
  assert.deepEqual(
    applyCheckReply(f, askedAt(f), undefined, { epoch: "5.a", top: 1 }),
    { verify: true },
  );
  f.receive("6.b", frame(1));
  assert.deepEqual([f.epoch, f.marks.length], ["6.b", 0]);
  assert.deepEqual(
    applyCheckReply(f, askedAt(f), undefined, { epoch: "6.b", top: 1 }),
    {},
  );
});

Deno.test("markOf hashes the frame after its seq, as the engine's stream holds it", async () => {
  const rest = ',"ts_send":1,"data":"é"}';
  const digest = await crypto.subtle.digest(
    "SHA-1",
    new TextEncoder().encode(rest),
  );
  const m = markOf({ ...frame(12), text: '{"seq":12' + rest });
  assert.deepEqual(m, { seq: 12, hash: new Uint8Array(digest).toHex() });
});

Deno.test("a regression's renumber carries the last message handed over, so it still applies if a peer publishes at the lost seqs before it runs", () => {
  const { f } = follower();
  f.start("5.a", 0);
  f.receive("5.a", frame(1));
  f.receive("5.a", frame(2));
  const renumber = applyJoinReply(
    f,
    askedAt(f),
    { epoch: "5.a", top: 1 },
    undefined,
  );
  assert.deepEqual(
    [renumber?.asOf, renumber?.marks?.map((m) => m.seq)],
    [2, [2]],
  );
  const check = applyCheckReply(f, askedAt(f), undefined, {
    epoch: "5.a",
    top: 1,
  });
  assert.deepEqual(check.renumber?.marks?.map((m) => m.seq), [2]);
});
