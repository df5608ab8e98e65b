/**
 * A message's delivery class survives a shared engine: its conflation key,
 * time to live and `critical` mark, published on one Redis node, arrive on
 * another with the frame (a real redis-server on a free port), so the
 * ladder's loss classes hold on every node, not only on the memory engine.
 */
import assert from "node:assert/strict";
import { RedisServer } from "../bench/_redis.ts";
import { RedisBroker } from "../server/broker/broker_redis.ts";
import { decodeTag, encodeTag } from "../server/broker/message_tag.ts";
import type { OutFrame } from "../server/core/frame.ts";
import { waitFor } from "./_helpers.ts";
import { REDIS_SERVER, reportSkip } from "./_tools.ts";

reportSkip("message class over Redis tests", REDIS_SERVER);
const ignore = REDIS_SERVER.missing !== undefined;

Deno.test("message tags: plain keys stay themselves (what older nodes stored reads the same); classes round-trip", () => {
  assert.equal(encodeTag({ tsSend: 1 }), "");
  assert.equal(encodeTag({ tsSend: 1, key: "EURUSD" }), "EURUSD");
  assert.deepEqual(decodeTag(""), {});
  assert.deepEqual(decodeTag("EURUSD"), { key: "EURUSD" });
  for (
    const body of [
      { tsSend: 1, ttlMs: 250 },
      { tsSend: 1, critical: true },
      { tsSend: 1, key: "k", ttlMs: 0, critical: true },
      { tsSend: 1, key: "\x01odd" },
    ]
  ) {
    const { tsSend: _, ...cls } = body;
    assert.deepEqual(decodeTag(encodeTag(body)), cls, JSON.stringify(body));
  }
});

Deno.test({
  name:
    "over Redis, a message published on node A with a key, a time to live and a critical mark reaches node B with all three",
  ignore,
  async fn() {
    await using redis = await RedisServer.start();
    const url = `redis://127.0.0.1:${redis.port}`;
    const now = 1_000;
    const a = new RedisBroker({ url, history: 10, now: () => now });
    const b = new RedisBroker({ url, history: 10, now: () => now });
    await using _a = a;
    await using _b = b;
    const got: OutFrame[] = [];
    a.bind({ publication() {}, notice() {} });
    b.bind({ publication: (_c, f) => void got.push(f), notice() {} });
    assert.ok(await a.connected(10_000) && await b.connected(10_000));
    await b.subscribe("prices");
    await a.publish("prices", [
      { tsSend: 1, dataJson: "1", key: "EURUSD", ttlMs: 500, critical: true },
      { tsSend: 2, dataJson: "2", ttlMs: 40 },
      { tsSend: 3, dataJson: "3" },
    ]);
    await waitFor("three frames on B", () => got.length === 3);
    const [first, second, third] = got;
    assert.equal(first!.key, "EURUSD");
    assert.equal(first!.critical, true);
    assert.equal(first!.expiresAt, 1_500, "time to live from B's receipt");
    assert.equal(second!.key, undefined);
    assert.equal(second!.critical, undefined);
    assert.equal(second!.expiresAt, 1_040);
    assert.deepEqual(
      [third!.key, third!.critical, third!.expiresAt],
      [undefined, undefined, undefined],
    );
    assert.ok(first!.text.endsWith(',"data":1}'), first!.text);
  },
});
