/** The ACK ledger: exact for recent frames, bracketed by samples further back, bounded. */
import assert from "node:assert/strict";
import { AckLedger, RECENT_FRAMES } from "../server/core/ack_ledger.ts";

Deno.test("AckLedger checks recent ACKs exactly and older ones between the samples around them", () => {
  const ledger = new AckLedger();
  ledger.arm(); // the client has sent something: it ACKs
  const ts = (seq: number) => 1_700_000_000 + seq * 0.02;
  // 200 frames, 250 ms apart: 50 s of history, far more than the exact window.
  for (let seq = 11; seq <= 210; seq++) ledger.record(seq, ts(seq), seq * 250);
  assert.ok(ledger.check(210, ts(210)), "the latest, exactly");
  assert.equal(ledger.check(210, ts(210) + 1e-6), false, "another ts_send");
  assert.equal(ledger.check(211, ts(211)), false, "never sent");
  assert.equal(ledger.check(10, ts(10)), false, "before the first frame");
  const old = 210 - RECENT_FRAMES - 40;
  assert.ok(ledger.check(old, ts(old)), "older than the window, plausible");
  assert.equal(ledger.check(old, ts(old) + 5), false, "a time it cannot have");
  assert.equal(ledger.check(old, -1e308), false);
  assert.ok(ledger.check(11, ts(11)), "the first frame is remembered");
  assert.equal(ledger.check(12, ts(200)), false, "out of its bracket");
});

Deno.test("AckLedger before a client's first frame keeps only the first and the latest frame, and checks its first ACKs against them once armed", () => {
  const ledger = new AckLedger();
  const ts = (seq: number) => 1_700_000_000 + seq * 0.02;
  for (let seq = 1; seq <= 100; seq++) ledger.record(seq, ts(seq), seq * 250);
  assert.ok(ledger.check(100, ts(100)), "the latest, exactly");
  assert.ok(ledger.check(1, ts(1)), "the first, exactly");
  assert.equal(ledger.check(1, ts(2)), false);
  assert.ok(ledger.check(50, ts(50)), "between them, plausible");
  assert.equal(ledger.check(50, ts(100) + 1), false, "after the latest frame");
  assert.equal(ledger.check(101, ts(101)), false, "never sent");
  assert.equal(ledger.check(50, -1e308), false);
  // The client's first frame arms it: frames in flight from before still pass.
  ledger.arm();
  for (let seq = 101; seq <= 103; seq++) ledger.record(seq, ts(seq), seq * 250);
  assert.ok(ledger.check(98, ts(98)), "sent before arming, in flight");
  assert.ok(ledger.check(100, ts(100)), "the latest before arming, exactly");
  assert.equal(ledger.check(100, ts(99)), false);
  assert.ok(ledger.check(103, ts(103)), "after arming, exactly");
  assert.equal(ledger.check(102, ts(102) + 1e-6), false);
  assert.equal(ledger.check(104, ts(104)), false, "never sent");
});

Deno.test("the ledger names the latest frame sent, armed or not (a graceful stop waits for its ACK)", () => {
  const ledger = new AckLedger();
  assert.equal(ledger.armed, false);
  assert.equal(ledger.lastSeq, 0);
  ledger.record(7, 1_700_000_000.1, 0);
  assert.equal(ledger.lastSeq, 7);
  ledger.arm();
  assert.equal(ledger.armed, true);
  ledger.record(8, 1_700_000_000.2, 10);
  assert.equal(ledger.lastSeq, 8, "recorded after arming");
});
