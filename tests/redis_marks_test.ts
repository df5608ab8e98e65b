/**
 * The scripts' comparison of a node's marks with the stream, on a real
 * `redis-server` started here: JOIN says `diverged` only when the channel
 * is still in the node's epoch and holds another message at a mark's seq;
 * RENUMBER applies on such a mark even with the engine's top past the
 * node's, and not when the mark matches. The hash is the node's
 * (`markOf`, SHA-1 of the frame after its seq) against Redis' own
 * (`redis.sha1hex` of the stream entry), so UTF-8 data is in it.
 */
import assert from "node:assert/strict";
import { RedisServer } from "../bench/_redis.ts";
import { REDIS_SERVER, reportSkip } from "./_tools.ts";
import { direct } from "./_cluster.ts";
import {
  channelKeys,
  JOIN_LUA,
  PUBLISH_LUA,
  RENUMBER_LUA,
  SCRIPT_KEYS,
} from "../server/broker/redis_scripts.ts";
import { markArgs } from "../server/broker/engine_reply.ts";
import { frameFromRest } from "../server/core/frame.ts";

reportSkip("mark script tests", REDIS_SERVER);

Deno.test({
  name:
    "marks: JOIN says diverged only for another message at a mark's seq in the node's epoch; RENUMBER applies on it whatever the top, not on a match",
  ignore: REDIS_SERVER.missing !== undefined,
  async fn() {
    await using redis = await RedisServer.start();
    const c = await direct(redis.url);
    try {
      const k = channelKeys("fanout", "marks");
      const run = async (lua: string, keys: string[], args: string[]) =>
        await c.eval(lua, { keys, arguments: args }) as unknown[];
      const rest = (n: number) => `,"ts_send":${n}.5,"data":{"s":"é ${n}"}}`;
      const [epoch] = await run(JOIN_LUA, SCRIPT_KEYS.join(k), [
        "e",
        "60",
        "0",
      ]);
      const publish = (n: number) =>
        run(PUBLISH_LUA, SCRIPT_KEYS.publish(k), [
          k.subject,
          "100",
          "60",
          "p",
          "",
          "0",
          "0",
          "60",
          "",
          rest(n),
        ]);
      for (let n = 1; n <= 3; n++) await publish(n);
      // What the node handed over at seq 2: the engine's own message, and
      // a lost one (another publisher's, at the same seq).
      const same = frameFromRest(2, rest(2), undefined, 0);
      const lost = frameFromRest(2, rest(99), undefined, 0);
      const join = (asked: string, marks: typeof same[]) =>
        run(JOIN_LUA, SCRIPT_KEYS.join(k), [
          "j",
          "60",
          "0",
          asked,
          ...markArgs(marks),
        ]);
      assert.deepEqual(await join(String(epoch), [same]), [epoch, 3, 0]);
      assert.deepEqual(await join(String(epoch), [lost]), [epoch, 3, 1]);
      assert.deepEqual(
        await join("1.other", [lost]),
        [epoch, 3, 0],
        "another epoch: nothing to compare",
      );
      const beyond = frameFromRest(9, rest(9), undefined, 0);
      assert.deepEqual(
        await join(String(epoch), [beyond]),
        [epoch, 3, 0],
        "no entry at the seq (trimmed, or past the top): nothing to tell",
      );
      const renumber = (marks: typeof same[]) =>
        run(RENUMBER_LUA, SCRIPT_KEYS.renumber(k), [
          String(epoch),
          "r",
          "60",
          "0",
          "2", // the node's seq: below the top, so only a mark can apply
          ...markArgs(marks),
        ]);
      assert.deepEqual(
        await renumber([same]),
        [epoch, 3],
        "a match: left alone",
      );
      const [after, top] = await renumber([lost]);
      assert.notEqual(after, epoch, "renumbered");
      assert.equal(top, 0);
      assert.equal(
        await c.exists(k.stream),
        0,
        "the old numbering's stream is gone",
      );
    } finally {
      await c.close();
    }
  },
});
