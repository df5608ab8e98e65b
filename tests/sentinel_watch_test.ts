/**
 * Sentinel's failover announcement: a connection to a `redis+sentinel://`
 * URL listens for `+switch-master` and follows the primary when a sentinel
 * says it moved, without waiting for its next lookup — here lookups are an
 * hour apart, so only the announcement can move it. Primary, replica and
 * Sentinel are real, started on free ports by the test.
 */
import assert from "node:assert/strict";
import { waitFor } from "./_helpers.ts";
import { REDIS_SERVER, reportSkip } from "./_tools.ts";
import { sentinelSetup } from "./_sentinel.ts";
import { BrokerStats } from "../server/core/broker.ts";
import { RedisConnection } from "../server/broker/redis_connection.ts";

reportSkip("Sentinel announcement test", REDIS_SERVER);

Deno.test({
  name:
    "Sentinel: a failover is followed on the sentinel's +switch-master announcement, with no lookup due for an hour",
  ignore: REDIS_SERVER.missing !== undefined,
  async fn() {
    await using engine = await sentinelSetup();
    let backs = 0;
    const connection = new RedisConnection({
      url: engine.url,
      stats: new BrokerStats(),
      onBack: () => backs++,
      sentinelPollMs: 3_600_000,
    });
    /** The port of the server the command connection reaches now. */
    const port = async () => {
      const reply = await connection.client.sendCommand([
        "CONFIG",
        "GET",
        "port",
      ]);
      return Number((reply as unknown as string[])[1]);
    };
    try {
      await waitFor("up on the primary", () => connection.ready, 30_000);
      assert.equal(await port(), engine.primary.port);
      const before = backs;
      await engine.failover();
      await waitFor(
        "Sentinel to name the replica",
        async () => await engine.primaryPort() === engine.replica.port,
        30_000,
      );
      await waitFor(
        "the connection on the promoted replica",
        async () =>
          connection.ready &&
          await port().then((p) => p === engine.replica.port, () => false),
        30_000,
      );
      assert.ok(backs > before, "resynced after the move, as after any outage");
    } finally {
      await connection.close();
    }
  },
});
