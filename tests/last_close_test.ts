/**
 * A cut client learns why: the store (injected clock) and, over real
 * sockets, an SDK client cut by the server whose next session gets
 * `last_close` with the previous close's code and reason.
 */
import assert from "node:assert/strict";
import { LastCloses } from "../server/http/last_close.ts";
import { FanoutClient, type LastCloseEvent } from "../sdk/mod.ts";
import { startTestServer, waitFor } from "./_helpers.ts";

Deno.test("LastCloses remembers the server's closes by client id, once, bounded and for a limited time; the client's own ends are not remembered", () => {
  let now = 0;
  const closes = new LastCloses({ max: 2, ttlMs: 1000, now: () => now });
  const cut = { reason: "slow_drops", code: 4000, detail: "too slow" } as const;
  closes.bind("s1", "a");
  closes.ended("s1", cut);
  closes.ended("s1", cut); // a second end of the same session: no entry
  const frame = JSON.parse(closes.take("a", "prices")!);
  assert.deepEqual(frame, {
    type: "last_close",
    channel: "prices",
    code: 4000,
    reason: "too slow",
    at: 0,
  });
  assert.equal(closes.take("a", "prices"), undefined, "told once");
  closes.record("b", { reason: "client_closed", code: 1000, detail: "bye" });
  closes.record("c", { reason: "connection_lost", code: 1006, detail: "" });
  assert.equal(closes.size, 0);
  for (const id of ["x", "y", "z"]) closes.record(id, cut);
  assert.equal(closes.size, 2);
  assert.equal(closes.take("x", "p"), undefined, "the oldest went first");
  now = 5000;
  assert.equal(closes.take("y", "p"), undefined, "expired");
});

Deno.test("an SDK client cut by the server gets last_close with that close's code and reason on its next session", async () => {
  await using server = startTestServer({ rate: 50 });
  const client = new FanoutClient(server.url, {
    clientId: "tab-1",
    backoff: { initialMs: 10 },
  });
  const told: LastCloseEvent[] = [];
  client.on("last_close", (e) => told.push(e));
  client.start();
  try {
    await waitFor("the session", () => server.hub.size === 1);
    for (const s of server.hub.sessions) {
      server.hub.close(s, "slow_drops", "test: cut for being slow");
    }
    await waitFor("last_close on the next session", () => told.length > 0);
    assert.equal(told[0]!.code, 4000);
    assert.equal(told[0]!.reason, "test: cut for being slow");
    assert.equal(told[0]!.channel, "default");
    assert.equal(client.clientId, "tab-1");
  } finally {
    client.close();
  }
  // Another id is told nothing.
  const other = new FanoutClient(server.url, { clientId: "tab-2" });
  let otherTold = 0;
  other.on("last_close", () => otherTold++);
  const opened = new Promise((resolve) => other.on("position", resolve));
  other.start();
  await opened;
  other.close();
  assert.equal(otherTold, 0);
});
