/**
 * No frame ever names an empty epoch, against a real `redis-server` started
 * here on a free port: a client that subscribes to a channel the node does
 * not follow yet, while Redis is stalled (SIGSTOP) and then killed with the
 * SUBSCRIBE in flight (its first follow fails), gets no `position` until the node
 * follows the channel again, and then one with the channel's real epoch —
 * over WebSocket and over SSE (whose data ids carry the epoch too).
 */
import assert from "node:assert/strict";
import { launchServer, resolveServerConfig } from "../server/mod.ts";
import { ManualClient, waitFor } from "./_helpers.ts";
import { SseReader } from "./_sse.ts";
import { RedisServer } from "../bench/_redis.ts";
import { REDIS_SERVER, reportSkip } from "./_tools.ts";

reportSkip("position epoch tests", REDIS_SERVER);
const ignore = REDIS_SERVER.missing !== undefined;

const TOKEN = "pub";
const CHANNEL = "late";

/** POST /publish of one JSON message on {@link CHANNEL}; the answer's body, or undefined when refused. */
async function publish(
  httpUrl: string,
  message: unknown,
): Promise<{ epoch: string; first: number } | undefined> {
  const res = await fetch(`${httpUrl}publish?channel=${CHANNEL}`, {
    method: "POST",
    headers: {
      authorization: `Bearer ${TOKEN}`,
      "content-type": "application/json",
    },
    body: JSON.stringify(message),
    signal: AbortSignal.timeout(30_000),
  });
  if (res.status !== 200) {
    await res.body?.cancel();
    return undefined;
  }
  return await res.json();
}

/** Every `epoch` a frame names (a control frame's field), in order. */
function epochsOf(frames: readonly Record<string, unknown>[]): unknown[] {
  return frames.filter((f) => "epoch" in f).map((f) => f.epoch);
}

Deno.test({
  name:
    "position epoch: a first follow lost with Redis (stalled, then killed with the SUBSCRIBE unanswered) → no frame with an empty epoch; the position waits for the follow and names the real epoch (WebSocket and SSE)",
  ignore,
  async fn() {
    await using redis = await RedisServer.start({ aof: true });
    await using node = await launchServer(
      resolveServerConfig({
        host: "127.0.0.1",
        port: 0,
        source: "http",
        publishToken: TOKEN,
        broker: redis.url,
        history: 100,
        summaryInterval: 3600,
      }),
      { logger: { log() {} } },
    );
    assert.ok(await publish(node.httpUrl, { n: 0 }), "Redis reachable");
    redis.signal("SIGSTOP");
    const ws = new ManualClient(`${node.url}?channel=${CHANNEL}&control=1`);
    const wsFrames: Record<string, unknown>[] = [];
    let sse: SseReader | undefined;
    try {
      await ws.open();
      const reading = (async () => {
        while (true) {
          const text = await ws.read();
          if (text === undefined) return;
          wsFrames.push(JSON.parse(String(text)));
        }
      })().catch(() => {});
      sse = await SseReader.open(`${node.httpUrl}sse?channel=${CHANNEL}`);
      // Both sessions are open, so the node asked Redis for the channel
      // (its SUBSCRIBE went into the stall); Redis now dies with it unread,
      // so the first follow fails (ECONNRESET) and is retried after.
      await waitFor("both sessions", () => node.hub.size === 2);
      await redis.kill();
      await waitFor("the node sees Redis down", () => !node.broker.stats.up);
      await redis.restart();
      // Published until both clients have one: a message accepted before
      // the node follows the channel again is history, not live.
      const after = (f: Record<string, unknown>) =>
        (f.data as { after?: string } | undefined)?.after === "outage";
      let sent: { epoch: string; first: number } | undefined;
      await waitFor(
        "a message over WebSocket and SSE after the outage",
        async () => {
          sent = await publish(node.httpUrl, { after: "outage" }) ?? sent;
          return wsFrames.some(after) && sse!.data().some(after);
        },
        30_000,
        200,
      );
      const epoch = sent!.epoch;
      assert.notEqual(epoch, "");
      for (
        const [name, frames] of [
          ["WebSocket", wsFrames],
          ["SSE", [
            ...sse.named("position"),
            ...sse.named("reset"),
            ...sse.named("gap"),
          ]],
        ] as const
      ) {
        const shown = JSON.stringify(frames);
        assert.ok(
          epochsOf(frames).every((e) => typeof e === "string" && e !== ""),
          `${name}: a frame with an empty epoch: ${shown}`,
        );
        const position = frames.find((f) => f.type === "position");
        assert.equal(position?.epoch, epoch, `${name}: ${shown}`);
      }
      // SSE data ids are <epoch>:<seq>, never a bare seq.
      for (const e of sse.events.filter((e) => e.event === "message")) {
        assert.ok(e.id?.startsWith(`${epoch}:`), `SSE id ${e.id}`);
      }
      await ws[Symbol.asyncDispose]();
      await reading;
    } finally {
      redis.signal("SIGCONT");
      await ws[Symbol.asyncDispose]();
      await sse?.[Symbol.asyncDispose]();
    }
  },
});
