/**
 * Server-paced reconnects: the pacer's hints (an injected clock and random
 * source) and, over real sockets, the hint in a close that invites a
 * reconnect, which the SDK waits at least.
 */
import assert from "node:assert/strict";
import { parseRetryHint } from "../lib/retry_hint.ts";
import {
  MAX_RETRY_HINT_MS,
  ReconnectPacer,
} from "../server/http/reconnect_pacer.ts";
import { FanoutClient, type FanoutCloseEvent } from "../sdk/mod.ts";
import { startTestServer, waitFor } from "./_helpers.ts";

Deno.test("ReconnectPacer spreads hints given at one instant one slot apart, and never beyond maxMs", () => {
  let random = 0;
  const pacer = new ReconnectPacer({
    ratePerSec: 100,
    maxMs: 2_000,
    now: () => 1_000,
    random: () => random,
  });
  const hints: number[] = [];
  for (let i = 0; i < 500; i++) {
    random = (i * 0.37) % 1;
    hints.push(pacer.next());
  }
  // The first ~175 fit the timeline (250 ms + 10 ms per slot up to 2 s).
  const paced = hints.slice(0, 170);
  for (let i = 0; i < paced.length; i++) {
    assert.ok(paced[i]! >= 250 + 10 * i && paced[i]! <= 260 + 10 * i, `${i}`);
  }
  assert.ok(hints.every((h) => h >= 250 && h <= 2_000));
  // Beyond the timeline: spread, not piled on the maximum.
  const late = hints.slice(200);
  assert.ok(new Set(late).size > 50);
});

Deno.test("ReconnectPacer frees its slots as time passes", () => {
  let now = 0;
  const pacer = new ReconnectPacer({
    ratePerSec: 10,
    now: () => now,
    random: () => 0,
  });
  assert.equal(pacer.next(), 250);
  assert.equal(pacer.next(), 350);
  now = 60_000;
  assert.equal(pacer.next(), 250);
  assert.ok(pacer.reasonFor(4002, "x").endsWith("; retry_in_ms=350"));
  assert.equal(pacer.reasonFor(4101, "flood"), "flood", "terminal: no hint");
  assert.ok(MAX_RETRY_HINT_MS >= 10_000);
});

Deno.test("a server-initiated close that invites a reconnect carries a spread retry_in_ms, and the SDK waits at least that long", async () => {
  // 20 reconnects/s: slots 50 ms apart, so three hints given together
  // differ even after rounding (at the default 200/s a slot is 5 ms, and
  // two rounded hints may meet).
  await using server = startTestServer({ rate: 50, maxConnectRate: 20 });
  const clients = [0, 1, 2].map(() =>
    new FanoutClient(server.url, { backoff: { initialMs: 10 } })
  );
  const closes: FanoutCloseEvent[] = [];
  for (const c of clients) {
    c.on("close", (e) => closes.push(e));
    c.start();
  }
  try {
    await waitFor("three sessions", () => server.hub.size === 3);
    for (const s of server.hub.sessions) {
      server.hub.close(s, "slow_drops", "test: cut");
    }
    await waitFor("three closes", () => closes.length === 3);
    const hints = closes.map((c) => parseRetryHint(c.reason));
    assert.ok(hints.every((h) => h !== undefined && h >= 250), String(hints));
    const sorted = (hints as number[]).toSorted((a, b) => a - b);
    assert.ok(
      sorted[1]! - sorted[0]! >= 1 && sorted[2]! - sorted[1]! >= 1,
      `each client its own slot: ${sorted}`,
    );
    for (const c of closes) {
      assert.equal(c.code, 4000);
      assert.ok(c.retryInMs! >= c.hintMs!);
    }
    await waitFor("all three back", () => server.hub.size === 3);
  } finally {
    for (const c of clients) c.close();
  }
});
