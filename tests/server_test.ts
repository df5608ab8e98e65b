/**
 * The server over real sockets on 127.0.0.1, port 0: frames, ACKs, slow-client
 * policy with its close codes, the stall check, bad client input, shutdown.
 */
import assert from "node:assert/strict";
import { SimClient } from "../client/mod.ts";
import type { HubEvent, RunningServer, ServerOptions } from "../server/mod.ts";
import { ManualClient, startTestServer, waitFor } from "./_helpers.ts";

interface Started {
  server: RunningServer;
  events: HubEvent[];
  records: Record<string, unknown>[];
}

/** A server on a free loopback port that logs into arrays instead of stdout. */
function start(overrides: Partial<ServerOptions>): Started {
  const records: Record<string, unknown>[] = [];
  const server = startTestServer(overrides, {
    log: (r) => void records.push(r),
  });
  const events: HubEvent[] = [];
  server.hub.on((e) => events.push(e));
  return { server, events, records };
}

const disconnectOf = (events: HubEvent[], reason: string) =>
  events.find((e) => e.type === "disconnect" && e.end.reason === reason);

Deno.test("server sends seed-format frames, turns ACKs into e2e latency, and closes with 1001 on stop", async () => {
  const { server, records } = start({
    rate: 100,
    payloadBytes: 32,
    summaryInterval: 0.2,
  });
  const client = new ManualClient(server.url);
  await client.open();
  let last = 0;
  for (let i = 0; i < 20; i++) {
    const frame = JSON.parse(String(await client.read()));
    assert.ok(Number.isInteger(frame.seq) && frame.seq > last, "seq increases");
    assert.equal(typeof frame.ts_send, "number");
    assert.equal(Uint8Array.fromBase64(frame.payload_b64).length, 32);
    last = frame.seq;
    await client.send(
      JSON.stringify({ ack_ts: frame.ts_send, seq: frame.seq }),
    );
  }
  const session = [...server.hub.sessions][0]!;
  await waitFor("ACKs to reach the server", () => session.stats.acks >= 20);
  const summary = await waitFor(
    "a summary with e2e latency",
    () =>
      records.find((r) =>
        r.type === "summary" && r.clients === 1 &&
        (r.e2e_latency as { p50: number }).p50 > 0
      ),
  );
  for (
    const key of [
      "pub_rate",
      "e2e_latency",
      "disconnects_total",
      "published_total",
      "dropped_total",
    ]
  ) {
    assert.ok(key in summary, `summary has ${key}`);
  }
  assert.ok(
    records.some((r) =>
      r.type === "client" && "e2e_latency_ms" in r && "queue_len" in r
    ),
  );
  await server.stop();
  const close = await client.drainUntilClosed();
  assert.equal(close.code, 1001);
  assert.ok(records.some((r) => r.type === "final"));
  await client[Symbol.asyncDispose]();
});

Deno.test("queue mode: a clientsim slow client makes the server drop messages for it, and only for it", async () => {
  // 64 KiB payloads fill the ~4 MB of loopback socket buffers in about a second.
  const { server } = start({
    mode: "queue",
    rate: 100,
    payloadBytes: 65536,
    maxsize: 20,
    dropLimit: 1e9,
    fullTimeout: 3600,
  });
  const stop = new AbortController();
  const fast = new SimClient(server.url, { id: "fast", signal: stop.signal });
  const slow = new SimClient(server.url, {
    id: "slow",
    slowMs: 200,
    signal: stop.signal,
  });
  fast.run();
  await fast.firstAttempt;
  await waitFor("the fast session", () => server.hub.sessions.size === 1);
  const fastSession = [...server.hub.subscribers()][0]!;
  slow.run();
  await waitFor("the slow session", () => server.hub.sessions.size === 2);
  const slowSession = [...server.hub.subscribers()].find((s) =>
    s !== fastSession
  )!;
  await waitFor(
    "drops for the slow client",
    () => slowSession.drops > 0,
    30_000,
  );
  assert.equal(fastSession.drops, 0, "the fast client lost nothing");
  assert.ok(
    slowSession.bufferedBytes < 64 * 1024 + 100_000,
    "the socket buffer stays at the high-water mark",
  );
  stop.abort();
  await Promise.all([fast.stop(), slow.stop()]);
  assert.equal(fast.snapshot().drops, 0);
  await server.stop();
});

Deno.test("queue mode: a stalled client is cut off by --drop-limit with 4000 and a reason naming the limit", async () => {
  const { server, events } = start({
    mode: "queue",
    rate: 100,
    payloadBytes: 65536,
    maxsize: 10,
    dropLimit: 20,
    fullTimeout: 3600,
  });
  await using stalled = new ManualClient(server.url);
  await stalled.open();
  await stalled.read(); // then stop reading
  const ev = await waitFor(
    "the drop-limit disconnect",
    () => disconnectOf(events, "slow_drops"),
    30_000,
  );
  assert.equal(ev.type === "disconnect" && ev.end.code, 4000);
  const close = await stalled.drainUntilClosed(); // reads through what was in flight
  assert.equal(close.code, 4000);
  assert.match(close.reason, /dropped in 10 s, over --drop-limit 20/);
  await server.stop();
});

Deno.test("queue mode: a client whose queue stays full is cut off by --full-timeout with 4001", async () => {
  const { server, events } = start({
    mode: "queue",
    rate: 50,
    payloadBytes: 65536,
    maxsize: 5,
    dropLimit: 1e9,
    fullTimeout: 0.5,
  });
  await using stalled = new ManualClient(server.url);
  await stalled.open();
  await stalled.read();
  await waitFor(
    "the full-timeout disconnect",
    () => disconnectOf(events, "slow_full"),
    30_000,
  );
  const close = await stalled.drainUntilClosed();
  assert.equal(close.code, 4001);
  assert.match(close.reason, /--full-timeout 0.5 s/);
  await server.stop();
});

Deno.test("naive mode: a client that stops reading but keeps sending ACKs is still closed by the ping/stall check (4002), and the others recover", async () => {
  const { server, events } = start({
    mode: "naive",
    rate: 50,
    payloadBytes: 65536,
    pingInterval: 0.5,
    pingTimeout: 0.5,
  });
  const stop = new AbortController();
  const fast = new SimClient(server.url, { id: "fast", signal: stop.signal });
  fast.run();
  await fast.firstAttempt;
  await using stalled = new ManualClient(server.url);
  await stalled.open();
  await stalled.read();
  const acks = setInterval(
    () =>
      stalled.send(JSON.stringify({ ack_ts: Date.now() / 1000, seq: 1 })).catch(
        () => {},
      ),
    100,
  );
  try {
    await waitFor(
      "the stall disconnect",
      () => disconnectOf(events, "ping_timeout"),
      30_000,
    );
  } finally {
    clearInterval(acks);
  }
  const after = fast.snapshot().messages;
  await waitFor(
    "the fast client to receive again",
    () => fast.snapshot().messages > after + 20,
    10_000,
  );
  stop.abort();
  await fast.stop();
  const close = await stalled.drainUntilClosed();
  assert.equal(close.code, 4002);
  await server.stop();
});

Deno.test("server counts malformed, binary and oversized client frames, closes those clients (4100, 1009, 1009) and keeps serving the rest", async () => {
  const { server, events } = start({ mode: "queue", rate: 100 });
  const stop = new AbortController();
  const good = new SimClient(server.url, { id: "good", signal: stop.signal });
  good.run();
  await good.firstAttempt;
  await using noisy = new ManualClient(server.url);
  await noisy.open();
  for (let i = 0; i < 11; i++) {
    await noisy.send(i % 2 ? "not json" : "[1, 2, 3]");
  }
  assert.equal((await noisy.drainUntilClosed()).code, 4100);
  await using binary = new ManualClient(server.url);
  await binary.open();
  await binary.send(new Uint8Array([1, 2, 3]));
  const closed = await binary.drainUntilClosed();
  assert.equal(closed.code, 1009);
  assert.match(closed.reason, /binary frame/);
  await using huge = new ManualClient(server.url);
  await huge.open();
  await huge.send(
    JSON.stringify({ ack_ts: 1, seq: 1, pad: "x".repeat(100_000) }),
  );
  assert.equal((await huge.drainUntilClosed()).code, 1009);
  assert.ok(
    disconnectOf(events, "protocol_error") &&
      disconnectOf(events, "message_too_big"),
  );
  const before = good.snapshot().messages;
  await waitFor(
    "the good client to keep receiving",
    () => good.snapshot().messages > before + 10,
  );
  assert.equal(
    good.snapshot().closes.length,
    0,
    "the good client was never closed",
  );
  stop.abort();
  await good.stop();
  await server.stop();
});
