/**
 * The SDK's transport-free core: what frames mean for the position, the
 * resume URL, close classification against the close-code table, backoff.
 */
import assert from "node:assert/strict";
import { CLOSE_CODES, type DisconnectReason } from "../lib/close_codes.ts";
import { encodeControl, encodeData } from "../lib/protocol.ts";
import { Backoff, classifyClose, StreamState } from "../sdk/mod.ts";

const data = (seq: number, channel?: string) =>
  encodeData(seq, 1700000000 + seq / 100, "", {
    dataJson: JSON.stringify({ n: seq }),
    ...(channel === undefined ? {} : { channel }),
  });
const position = (epoch: string, last_seq: number, channel = "default") =>
  encodeControl({ type: "position", channel, epoch, last_seq });

Deno.test("StreamState: a fresh subscription starts after the position's last_seq, so a cut before any message still resumes there", () => {
  const s = new StreamState();
  assert.equal(
    s.connectUrl("ws://h:1/", { resume: true }),
    "ws://h:1/?control=1",
  );
  s.opened();
  s.receive(position("E1", 40));
  assert.deepEqual(s.position, { epoch: "E1", seq: 40 });
  assert.equal(
    s.connectUrl("ws://h:1/", { resume: true, batch: true, token: "t" }),
    "ws://h:1/?token=t&control=1&batch=1&since=40&epoch=E1",
  );
});

Deno.test("StreamState: messages move the position; user data and channel come through; arrays are unwrapped in order", () => {
  const s = new StreamState({ channel: "prices" });
  s.opened();
  s.receive(position("E1", 0, "prices"));
  const got = s.receive(`[${data(1, "prices")},${data(2, "prices")}]`);
  assert.equal(got.kind, "data");
  if (got.kind !== "data") return;
  assert.deepEqual(
    got.deliveries.map((d) => [d.message.seq, d.missed, d.repeat]),
    [[1, 0, false], [2, 0, false]],
  );
  assert.deepEqual(got.deliveries[1]!.message.data, { n: 2 });
  assert.equal(got.deliveries[1]!.message.channel, "prices");
  assert.equal(got.deliveries[1]!.message.epoch, "E1");
  assert.equal(s.seq, 2);
  assert.equal(
    s.connectUrl("http://h:1/ws", { resume: true }),
    "ws://h:1/ws?channel=prices&control=1&since=2&epoch=E1&since_ts=1700000000.02",
    "the ts_send of the message held at since goes with it",
  );
});

Deno.test("StreamState: a position or reset notice moves the seq without a message held there: no since_ts", () => {
  const s = new StreamState({ position: { epoch: "E1", seq: 2, ts: 5 } });
  s.opened();
  s.receive(position("E1", 2));
  assert.match(s.connectUrl("ws://h/", { resume: true }), /since_ts=5$/);
  s.receive(
    '{"type":"reset","channel":"default","epoch":"E2","last_seq":7}',
  );
  assert.deepEqual(s.position, { epoch: "E2", seq: 7 });
  assert.doesNotMatch(s.connectUrl("ws://h/", { resume: true }), /since_ts/);
});

Deno.test("StreamState: on a resumed connection a replayed seq already had is a repeat and the position stays; a jump counts as missed", () => {
  const s = new StreamState({ position: { epoch: "E1", seq: 10 } });
  s.opened();
  s.receive(position("E1", 12));
  const again = s.receive(data(9));
  assert.equal(again.kind === "data" && again.deliveries[0]!.repeat, true);
  assert.equal(s.seq, 10, "a duplicate never moves the position back");
  const next = s.receive(data(11));
  assert.equal(next.kind === "data" && next.deliveries[0]!.missed, 0);
  const jump = s.receive(data(15));
  assert.equal(jump.kind === "data" && jump.deliveries[0]!.missed, 3);
});

Deno.test("StreamState: without the server naming the epoch, a lower seq may be a restarted numbering and the position follows it", () => {
  const s = new StreamState();
  s.opened();
  s.receive(data(50));
  const low = s.receive(data(1));
  assert.equal(low.kind === "data" && low.deliveries[0]!.repeat, true);
  assert.equal(s.seq, 1);
  const next = s.receive(data(2));
  assert.equal(next.kind === "data" && next.deliveries[0]!.missed, 0);
});

Deno.test("StreamState: reset moves to the new epoch after its last_seq; position of another epoch without resume does too", () => {
  const s = new StreamState({ position: { epoch: "OLD", seq: 500 } });
  s.opened();
  s.receive(position("NEW", 30));
  s.receive(
    encodeControl({
      type: "reset",
      channel: "default",
      epoch: "NEW",
      last_seq: 30,
    }),
  );
  assert.deepEqual(s.position, { epoch: "NEW", seq: 30 });
  const next = s.receive(data(31));
  assert.equal(next.kind === "data" && next.deliveries[0]!.missed, 0);
  const other = new StreamState({ position: { epoch: "OLD", seq: 500 } });
  other.opened();
  other.receive(position("NEW", 7));
  assert.deepEqual(other.position, { epoch: "NEW", seq: 7 });
});

Deno.test("StreamState: gap and dropped are control frames that leave the position; junk is 'bad', never data", () => {
  const s = new StreamState();
  s.receive(position("E", 5));
  const gap = s.receive(
    encodeControl({
      type: "gap",
      channel: "default",
      from: 6,
      to: 9,
      missed: 4,
    }),
  );
  assert.equal(gap.kind === "control" && gap.frame.type, "gap");
  assert.equal(s.seq, 5);
  for (const junk of ["nope", "[1,2]", '{"seq":"x","ts_send":1}', "[]"]) {
    assert.equal(s.receive(junk).kind, "bad", junk);
  }
  assert.equal(s.seq, 5);
});

Deno.test("classifyClose follows the close-code table row by row, and the two ranges for codes it does not list", () => {
  for (const key of Object.keys(CLOSE_CODES) as DisconnectReason[]) {
    const row = CLOSE_CODES[key];
    const info = classifyClose(row.code, "x");
    assert.equal(info.key, key);
    assert.equal(info.reconnect, row.reconnect, key);
  }
  assert.equal(classifyClose(4050, "").reconnect, true);
  assert.equal(classifyClose(4150, "").reconnect, false);
  assert.equal(classifyClose(1006, "").reconnect, true);
  assert.equal(classifyClose(1011, "").reconnect, true);
  assert.equal(classifyClose(1008, "").reconnect, false);
  assert.equal(classifyClose(4050, "").key, undefined);
});

Deno.test("Backoff doubles to its cap, resets, and jitter only ever shortens a delay", () => {
  const b = new Backoff({ initialMs: 10, maxMs: 45 });
  assert.deepEqual([b.next(), b.next(), b.next(), b.next()], [10, 20, 40, 45]);
  b.reset();
  assert.equal(b.next(), 10);
  const j = new Backoff({ initialMs: 100, jitter: 0.5, random: () => 0.999 });
  const d = j.next();
  assert.ok(d >= 50 && d < 100, String(d));
  assert.throws(() => new Backoff({ initialMs: 10, maxMs: 5 }), RangeError);
});

Deno.test("StreamState: a connection never moves to an older epoch (a stale reset is ignored and counted); epochs without a generation still reset", () => {
  const s = new StreamState({ channel: "c" });
  s.opened();
  s.receive('{"type":"position","channel":"c","epoch":"7.b","last_seq":3}');
  const stale = s.receive(
    '{"type":"reset","channel":"c","epoch":"5.a","last_seq":90}',
  );
  assert.equal(stale.kind, "bad");
  assert.deepEqual(s.position, { epoch: "7.b", seq: 3 });
  assert.equal(s.staleDiscarded, 1);
  const first = s.receive('{"seq":4,"ts_send":1,"channel":"c","data":4}');
  assert.ok(first.kind === "data" && !first.deliveries[0]!.repeat);
  s.receive('{"type":"reset","channel":"c","epoch":"8.c","last_seq":0}');
  assert.deepEqual(s.position, { epoch: "8.c", seq: 0 });
  const old = new StreamState({ channel: "c" });
  old.receive(
    '{"type":"position","channel":"c","epoch":"OLDSTYLE","last_seq":3}',
  );
  old.receive('{"type":"reset","channel":"c","epoch":"1.x","last_seq":0}');
  assert.deepEqual(old.position, { epoch: "1.x", seq: 0 });
});
