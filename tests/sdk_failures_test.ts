/**
 * The SDK's `FanoutClient` never hangs and says why (Deno's WebSocket
 * here; Node 20's in sdk_node_failures_test.ts): nothing listening, a
 * listener that never answers, refusals sent as closes (401 terminal, 401
 * with `getToken()` retried with a fresh token, 503 with the server's
 * retry hint), and `close()` from inside a `message` listener that stops
 * every event at once.
 */
import assert from "node:assert/strict";
import {
  FanoutClient,
  type FanoutClientOptions,
  type FanoutCloseEvent,
  type FanoutMessage,
} from "../sdk/mod.ts";
import { startTestServer, waitFor } from "./_helpers.ts";

/** A client and the events it emitted. */
function recorded(url: string, options: FanoutClientOptions = {}) {
  const client = new FanoutClient(url, {
    backoff: { initialMs: 20, maxMs: 200 },
    ...options,
  });
  const messages: FanoutMessage[] = [];
  const closes: FanoutCloseEvent[] = [];
  let opens = 0;
  client.on("message", (m) => messages.push(m));
  client.on("close", (e) => closes.push(e));
  client.on("open", () => opens++);
  return {
    client,
    messages,
    closes,
    get opens() {
      return opens;
    },
    async [Symbol.asyncDispose]() {
      client.close();
      await client.closed;
    },
  };
}

/** A port nothing listens on (bound, then released). */
function deadPort(): number {
  const l = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const port = (l.addr as Deno.NetAddr).port;
  l.close();
  return port;
}

Deno.test("FanoutClient: nothing listening gives close events with a reason and a scheduled retry; close() then ends it", async () => {
  await using rec = recorded(`ws://127.0.0.1:${deadPort()}/`);
  rec.client.start();
  await waitFor("two failed attempts", () => rec.closes.length >= 2);
  for (const c of rec.closes.slice(0, 2)) {
    assert.equal(c.code, 1006);
    assert.match(c.reason, /connection failed before opening/);
    assert.equal(c.willReconnect, true);
    assert.ok(c.retryInMs !== undefined && c.retryInMs >= 0);
  }
  assert.equal(rec.opens, 0);
  rec.client.close("giving up");
  const end = await rec.client.closed;
  assert.deepEqual([end.code, end.willReconnect], [1000, false]);
});

Deno.test("FanoutClient: a listener that accepts TCP and never answers fails the attempt at the connect deadline", async () => {
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const held: Deno.Conn[] = [];
  const accepting = (async () => {
    for await (const conn of listener) held.push(conn);
  })();
  try {
    await using rec = recorded(
      `ws://127.0.0.1:${(listener.addr as Deno.NetAddr).port}/`,
      { connectTimeoutMs: 200 },
    );
    rec.client.start();
    await waitFor("the deadline's close", () => rec.closes.length >= 1);
    assert.equal(rec.closes[0]!.code, 1006);
    assert.match(
      rec.closes[0]!.reason,
      /connect timeout: no answer within 200 ms/,
    );
    assert.equal(rec.closes[0]!.willReconnect, true);
  } finally {
    listener.close();
    await accepting.catch(() => {});
    for (const c of held) c.close();
  }
});

Deno.test("FanoutClient: a bad token is refused as close 4401 with the server's reason, and the client stops", async () => {
  await using server = startTestServer({
    rate: 10,
    token: "s3cret",
    openAdmin: true,
  });
  await using rec = recorded(server.url, { token: "wrong" });
  rec.client.start();
  const end = await rec.client.closed;
  assert.equal(end.code, 4401);
  assert.equal(end.status, 401);
  assert.equal(end.willReconnect, false);
  assert.ok(end.reason.length > 0, "the server's reason");
  assert.equal(rec.closes.length, 1);
  assert.equal(rec.opens, 0, "a refusal is not an open");
  assert.equal(rec.client.stats.connects, 0);
});

Deno.test("FanoutClient: getToken() is asked before each attempt, and a 4401 is retried once with the fresh token", async () => {
  await using server = startTestServer({
    rate: 50,
    token: "s3cret",
    openAdmin: true,
  });
  const tokens = ["expired", "s3cret"];
  let asked = 0;
  await using rec = recorded(server.url, {
    getToken: () => tokens[Math.min(asked++, tokens.length - 1)]!,
  });
  rec.client.start();
  await waitFor("messages with the fresh token", () => rec.messages.length > 5);
  assert.equal(asked, 2);
  assert.deepEqual(
    rec.closes.map((c) => [c.code, c.willReconnect]),
    [[4401, true]],
  );
});

Deno.test("FanoutClient: a full server's refusal (4503) carries a retry hint the client waits at least", async () => {
  await using server = startTestServer({ rate: 50, maxClients: 1 });
  await using first = recorded(server.url);
  first.client.start();
  await waitFor("the first client", () => first.messages.length > 0);
  await using second = recorded(server.url);
  second.client.start();
  await waitFor("the refusal", () => second.closes.length > 0);
  const c = second.closes[0]!;
  assert.equal(c.code, 4503);
  assert.equal(c.status, 503);
  assert.match(c.reason, /server full/);
  assert.ok(c.hintMs !== undefined && c.hintMs >= 1000, c.reason);
  assert.equal(c.willReconnect, true);
  assert.ok(c.retryInMs! >= c.hintMs!, "the hint is obeyed");
});

Deno.test("FanoutClient: close() inside a message listener stops every event at once, mid-frame and with frames queued", async () => {
  await using server = startTestServer({ rate: 2000, batchMs: 20 });
  const client = new FanoutClient(server.url, { batch: true });
  let after = 0;
  let delivered = 0;
  let closes = 0;
  client.on("message", () => {
    if (client.state === "closed") after++;
    if (++delivered === 20) client.close("enough");
  });
  client.on("close", () => closes++);
  client.start();
  const end = await client.closed;
  assert.equal(end.code, 1000);
  assert.equal(end.reason, "enough");
  // Frames keep arriving at 2,000 msg/s: wait for the server to see the close.
  await waitFor("the server saw the close", () => server.hub.size === 0);
  assert.equal(delivered, 20);
  assert.equal(after, 0);
  assert.equal(closes, 1);
});

Deno.test("FanoutClient: a TLS handshake that fails (wss:// to a plain server) is a close with a reason and a retry, never a hang", async () => {
  await using server = startTestServer({ rate: 10 });
  const tls = server.url.replace(/^ws:/, "wss:");
  await using rec = recorded(tls, { connectTimeoutMs: 5_000 });
  rec.client.start();
  await waitFor("two failed attempts", () => rec.closes.length >= 2);
  for (const c of rec.closes.slice(0, 2)) {
    assert.equal(c.code, 1006);
    assert.ok(c.reason.length > 0);
    assert.equal(c.willReconnect, true);
  }
  assert.equal(rec.opens, 0);
});
