/**
 * The SDK's side of protocol 3: it asks for `?batch=auto` by default, turns
 * `tier`, `lag` and `expired` frames into events and statistics, and gets
 * `lag` frames from a real ladder server on a quiet channel.
 */
import assert from "node:assert/strict";
import { FanoutClient, type WebSocketLike } from "../sdk/mod.ts";
import { startTestServer, waitFor } from "./_helpers.ts";

/** A WebSocket the test drives: it records its URL and delivers what the test says. */
class ScriptedSocket implements WebSocketLike {
  static last: ScriptedSocket | undefined;
  readonly url: string;
  readonly #listeners = new Map<string, ((e: never) => void)[]>();
  constructor(url: string) {
    this.url = url;
    ScriptedSocket.last = this;
  }
  send(): void {}
  close(): void {}
  addEventListener(type: string, listener: (event: never) => void): void {
    this.#listeners.set(type, [...(this.#listeners.get(type) ?? []), listener]);
  }
  emit(type: string, event: unknown): void {
    for (const l of this.#listeners.get(type) ?? []) l(event as never);
  }
}

Deno.test("FanoutClient asks for ?batch=auto by default and turns tier, lag and expired frames into events and stats", () => {
  const client = new FanoutClient("ws://127.0.0.1:1/", {
    WebSocket: ScriptedSocket,
    reconnect: false,
  });
  const seen: string[] = [];
  client.on("tier", (t) => seen.push(`tier:${t.from}>${t.tier}`));
  client.on("expired", (e) => seen.push(`expired:${e.count}`));
  client.on("lag", (l) => seen.push(`lag:${l.lag_ms}`));
  client.on("stats", (s) => seen.push(`stats:${s.tier}:${s.expired}`));
  client.start();
  const socket = ScriptedSocket.last!;
  assert.match(socket.url, /[?&]batch=auto(&|$)/);
  socket.emit("open", {});
  const frame = (o: unknown) =>
    socket.emit("message", { data: JSON.stringify(o) });
  frame({ type: "position", channel: "default", epoch: "e", last_seq: 0 });
  frame({
    type: "tier",
    channel: "default",
    tier: "conflated",
    from: "full",
    reason: "behind",
    queued: 60,
    lag_ms: 700,
  });
  frame({ type: "expired", channel: "default", count: 3 });
  frame({
    type: "lag",
    channel: "default",
    queued: 2,
    lag_ms: 90,
    tier: "conflated",
    dropped: 0,
    expired: 3,
    superseded: 40,
  });
  assert.deepEqual(seen, [
    "tier:full>conflated",
    "expired:3",
    "lag:90",
    "stats:conflated:3",
  ]);
  assert.equal(client.stats.superseded, 40);
  assert.equal(client.stats.lagMs, 90);
  client.close();
});

Deno.test("FanoutClient hears lag frames from a ladder server on a quiet channel: up to date, at full", async () => {
  await using server = startTestServer({
    policy: "ladder",
    lagInterval: 0.2,
    source: "stdin",
  });
  const client = new FanoutClient(server.url, { reconnect: false });
  const lags: number[] = [];
  client.on("lag", (l) => lags.push(l.lag_ms));
  client.start();
  await waitFor("two lag frames", () => lags.length >= 2, 20_000);
  assert.equal(client.stats.tier, "full");
  assert.equal(client.stats.queued, 0);
  assert.deepEqual(lags.slice(0, 2), [0, 0]);
  const closed = new Promise((r) => client.on("close", r));
  client.close();
  await closed;
});

Deno.test("FanoutClient: close() in a message handler mid-array delivers nothing more and keeps the position at the last message delivered", () => {
  const client = new FanoutClient("ws://127.0.0.1:1/", {
    WebSocket: ScriptedSocket,
    reconnect: false,
  });
  const got: number[] = [];
  client.on("message", (m) => {
    got.push(m.seq);
    if (m.seq === 12) client.close("enough");
  });
  client.start();
  const socket = ScriptedSocket.last!;
  socket.emit("open", {});
  socket.emit("message", {
    data: JSON.stringify({
      type: "position",
      channel: "default",
      epoch: "e",
      last_seq: 10,
    }),
  });
  const frame = (seq: number) => ({ seq, ts_send: 1, payload_b64: "" });
  socket.emit("message", {
    data: JSON.stringify([frame(11), frame(12), frame(13), frame(14)]),
  });
  assert.deepEqual(got, [11, 12]);
  // The message held at that seq is named too (`?since_ts=` on resume).
  assert.deepEqual(client.position, { epoch: "e", seq: 12, ts: 1 });
});
