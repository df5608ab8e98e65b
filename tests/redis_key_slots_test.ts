/**
 * Redis Cluster safety of the broker's per-channel scripts: every key one
 * script touches hashes to one cluster slot (else Cluster answers
 * CROSSSLOT). Checked three ways: the CRC16 slot rule over the names
 * `SCRIPT_KEYS` gives each script; real Redis' `CLUSTER KEYSLOT` for the
 * same names; and the scripts and a broker run on a real one-node Redis
 * Cluster (a `redis-server` started here with `--cluster-enabled yes`,
 * owning every slot), which refuses any cross-slot script. Also there: a
 * new epoch's generation is above the one it replaces, with no counter key
 * outside the channel; and an upgrade over an older version's keys keeps
 * the channel's epoch (no reset).
 */
import assert from "node:assert/strict";
import {
  channelKeys,
  JOIN_LUA,
  PUBLISH_LUA,
  READ_LUA,
  RENUMBER_LUA,
  SCRIPT_KEYS,
} from "../server/broker/redis_scripts.ts";
import { RedisBroker } from "../server/broker/broker_redis.ts";
import type { OutFrame } from "../server/core/frame.ts";
import { epochGeneration } from "../lib/protocol.ts";
import { RedisServer } from "../bench/_redis.ts";
import { waitFor } from "./_helpers.ts";
import { REDIS_SERVER, reportSkip } from "./_tools.ts";
import { direct } from "./_cluster.ts";

reportSkip("Redis Cluster key slot tests", REDIS_SERVER);
const ignore = REDIS_SERVER.missing !== undefined;

/** CRC16/XMODEM, the checksum Redis Cluster hashes keys with. */
function crc16(bytes: Uint8Array): number {
  let crc = 0;
  for (const b of bytes) {
    crc ^= b << 8;
    for (let i = 0; i < 8; i++) {
      crc = crc & 0x8000 ? ((crc << 1) ^ 0x1021) & 0xffff : (crc << 1) & 0xffff;
    }
  }
  return crc;
}

/** A key's cluster slot: CRC16 of its hash tag (the first non-empty `{…}`), else of the key, mod 16384. */
function keySlot(key: string): number {
  const open = key.indexOf("{");
  if (open >= 0) {
    const close = key.indexOf("}", open + 1);
    if (close > open + 1) key = key.slice(open + 1, close);
  }
  return crc16(new TextEncoder().encode(key)) % 16384;
}

const CHANNELS = ["default", "prices", "a:b.c-d_e", "x".repeat(64)];
const PREFIXES = ["fanout", "app:v2"];
const IDEMPOTENCY_KEYS = [undefined, "k1", "{other}", ""];

/** Every script's KEYS, for every channel, prefix and idempotency key above. */
function everyScriptsKeys(): { what: string; keys: string[] }[] {
  const out: { what: string; keys: string[] }[] = [];
  for (const prefix of PREFIXES) {
    for (const channel of CHANNELS) {
      const k = channelKeys(prefix, channel);
      for (const idem of IDEMPOTENCY_KEYS) {
        out.push({
          what: `publish ${prefix} ${channel} ${idem}`,
          keys: SCRIPT_KEYS.publish(k, idem),
        });
      }
      out.push({ what: `join ${channel}`, keys: SCRIPT_KEYS.join(k) });
      out.push({ what: `renumber ${channel}`, keys: SCRIPT_KEYS.renumber(k) });
      out.push({ what: `read ${channel}`, keys: SCRIPT_KEYS.read(k) });
    }
  }
  return out;
}

Deno.test("key slots: CRC16/XMODEM gives the standard check value, and a hash tag decides the slot", () => {
  assert.equal(crc16(new TextEncoder().encode("123456789")), 0x31c3);
  assert.equal(keySlot("a:{tag}:1"), keySlot("b:{tag}:2"));
  assert.notEqual(
    keySlot("a:{}:1"),
    keySlot("b:{}:1"),
    "an empty tag is no tag",
  );
});

Deno.test("key slots: every key each per-channel script (publish with or without an idempotency key, join, renumber, read) touches is in the channel's one slot", () => {
  for (const { what, keys } of everyScriptsKeys()) {
    const slots = new Set(keys.map(keySlot));
    assert.equal(slots.size, 1, `${what}: ${keys.join(", ")}`);
  }
});

/** `p`, or a rejection naming `what` after `ms` (a script refused is retried forever, never thrown). */
function within<T>(p: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  return Promise.race([
    p,
    new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(new Error(`no ${what} in ${ms} ms`)), ms);
    }),
  ]).finally(() => clearTimeout(timer));
}

/** A `redis-server` in Cluster mode, alone, owning every slot. */
async function oneNodeCluster(): Promise<RedisServer> {
  const redis = await RedisServer.start({
    args: ["--cluster-enabled", "yes", "--cluster-config-file", "nodes.conf"],
  });
  const c = await direct(redis.url);
  try {
    await c.sendCommand(["CLUSTER", "ADDSLOTSRANGE", "0", "16383"]);
    await waitFor("the one-node cluster to be ok", async () => {
      const info = String(await c.sendCommand(["CLUSTER", "INFO"]));
      return info.includes("cluster_state:ok");
    }, 15_000);
  } finally {
    await c.close();
  }
  return redis;
}

Deno.test({
  name:
    "key slots: real Redis' CLUSTER KEYSLOT agrees with the CRC16 rule for every script's keys",
  ignore,
  async fn() {
    // CLUSTER KEYSLOT needs cluster support enabled (Redis 7 refuses it otherwise).
    await using redis = await oneNodeCluster();
    const c = await direct(redis.url);
    try {
      for (const { what, keys } of everyScriptsKeys()) {
        for (const key of keys) {
          const slot = Number(await c.sendCommand(["CLUSTER", "KEYSLOT", key]));
          assert.equal(slot, keySlot(key), `${what}: ${key}`);
        }
      }
    } finally {
      await c.close();
    }
  },
});

Deno.test({
  name:
    "key slots: on a one-node Redis Cluster every per-channel script runs (no CROSSSLOT), and a new epoch's generation is above the one it replaces",
  ignore,
  async fn() {
    await using redis = await oneNodeCluster();
    const c = await direct(redis.url);
    try {
      const k = channelKeys("fanout", "prices");
      const evalScript = async (lua: string, keys: string[], args: string[]) =>
        await c.eval(lua, { keys, arguments: args }) as unknown[];
      // Proof the server refuses cross-slot scripts: what the old
      // per-prefix generation key would have met.
      await assert.rejects(
        evalScript(JOIN_LUA, [k.meta, "fanout:generation"], ["n", "60", "0"]),
        /CROSSSLOT/,
      );
      const time = (await c.sendCommand(["TIME"])) as string[];
      const before = Number(time[0]) * 1000 +
        Math.floor(Number(time[1]) / 1000);
      const [first] = await evalScript(JOIN_LUA, SCRIPT_KEYS.join(k), [
        "j0",
        "60",
        "0",
      ]);
      assert.ok(epochGeneration(String(first)) >= before, String(first));
      const rest = `,"ts_send":1,"data":1}`;
      const publishArgs = (
        suffix: string,
        seenEpoch: string,
        seenSeq: number,
      ) => [
        k.subject,
        "100",
        "60",
        suffix,
        seenEpoch,
        String(seenSeq),
        "0",
        "60",
        "",
        rest,
      ];
      const published = await evalScript(
        PUBLISH_LUA,
        SCRIPT_KEYS.publish(k, "idem-1"),
        publishArgs("p0", String(first), 0),
      );
      assert.deepEqual(published, [1, 1, first, 0, 0]);
      const again = await evalScript(
        PUBLISH_LUA,
        SCRIPT_KEYS.publish(k, "idem-1"),
        publishArgs("p1", String(first), 1),
      );
      assert.deepEqual(again, [1, 1, first, 0, 1], "the duplicate answered");
      const read = await evalScript(READ_LUA, SCRIPT_KEYS.read(k), ["1", "1"]);
      assert.deepEqual(read.slice(0, 4), [first, 1, "1-0", rest]);
      // Renumbers in a row (many in one ms): each generation above the last.
      let epoch = String(first);
      for (let i = 0; i < 20; i++) {
        const [next] = await evalScript(RENUMBER_LUA, SCRIPT_KEYS.renumber(k), [
          epoch,
          `r${i}`,
          "60",
          "0",
          String(Number.MAX_SAFE_INTEGER),
        ]);
        assert.ok(
          epochGeneration(String(next)) > epochGeneration(epoch),
          `${next} after ${epoch}`,
        );
        epoch = String(next);
      }
      // A channel whose epoch is far ahead of the clock (made after a
      // node's or client's high generation): the next is one above it.
      await c.hSet(k.meta, { e: "9000000000007.far", s: "3" });
      const publishedFar = await evalScript(
        PUBLISH_LUA,
        SCRIPT_KEYS.publish(k),
        publishArgs("after", "9000000000007.far", 5), // the engine lost 4..5
      );
      assert.equal(publishedFar[2], "9000000000008.after");
      assert.equal(publishedFar[3], 1, "renumbered");
      // An empty channel, a node that has seen a higher generation.
      const other = channelKeys("fanout", "fresh");
      const [fresh] = await evalScript(JOIN_LUA, SCRIPT_KEYS.join(other), [
        "f",
        "60",
        "9000000000100",
      ]);
      assert.equal(fresh, "9000000000101.f");
    } finally {
      await c.close();
    }
  },
});

Deno.test({
  name:
    "key slots: a broker on a one-node Redis Cluster publishes, follows, deduplicates and replays from the stream",
  ignore,
  async fn() {
    await using redis = await oneNodeCluster();
    const frames: OutFrame[] = [];
    const handler = {
      publication: (_: string, f: OutFrame) => void frames.push(f),
      notice() {},
    };
    await using a = new RedisBroker({ url: redis.url, history: 100 });
    a.bind(handler);
    assert.ok(await a.connected(10_000), "redis reachable");
    await within(a.subscribe("prices"), 15_000, "JOIN");
    const body = (i: number) => ({ tsSend: 1, dataJson: String(i) });
    const first = await a.publish("prices", [body(1), body(2)], {
      idempotencyKey: "batch-1",
    });
    const dup = await a.publish("prices", [body(1), body(2)], {
      idempotencyKey: "batch-1",
    });
    assert.deepEqual(
      [dup.duplicate, dup.first, dup.last, dup.epoch],
      [true, first.first, first.last, first.epoch],
    );
    await a.publish("prices", [body(3)]);
    await waitFor("three messages delivered", () => frames.length === 3);
    assert.deepEqual(frames.map((f) => f.seq), [1, 2, 3]);
    // A second node, fresh: its history of the channel comes from the stream.
    await using b = new RedisBroker({ url: redis.url, history: 100 });
    b.bind({ publication() {}, notice() {} });
    assert.ok(await b.connected(10_000));
    await within(b.subscribe("prices"), 15_000, "JOIN");
    const history = await b.history("prices", {
      since: 0,
      epoch: first.epoch,
    });
    assert.equal(history.epoch, first.epoch);
    assert.equal(history.until, 3);
    const replayed: number[] = [];
    for (let t = history.replay.next(); t; t = history.replay.next()) {
      replayed.push(JSON.parse(t).seq);
    }
    assert.deepEqual(replayed, [1, 2, 3]);
    assert.ok(b.stats.engineReads >= 1, "read from the stream");
    assert.equal(b.stats.errors, 0, "no script refused");
    assert.equal(a.stats.errors, 0, "no script refused");
  },
});

Deno.test({
  name:
    "key slots: upgrading over keys an older version wrote (its per-prefix fanout:generation counter left behind) keeps the channel's epoch and numbering: no reset",
  ignore,
  async fn() {
    await using redis = await RedisServer.start();
    const c = await direct(redis.url);
    const notices: string[] = [];
    try {
      // What the older scripts left: the channel's meta and stream, and the
      // per-prefix counter (above the epoch's generation, as it could be).
      const k = channelKeys("fanout", "prices");
      await c.hSet(k.meta, { e: "1700000000000.olderVR", s: "3" });
      for (let seq = 1; seq <= 3; seq++) {
        await c.xAdd(k.stream, `${seq}-0`, {
          f: `,"ts_send":1,"data":${seq}}`,
        });
      }
      await c.set("fanout:generation", "1700000000005");
      await using b = new RedisBroker({ url: redis.url, history: 100 });
      b.bind({ publication() {}, notice: (_, text) => notices.push(text) });
      assert.ok(await b.connected(10_000));
      await within(b.subscribe("prices"), 15_000, "JOIN");
      assert.deepEqual(b.position("prices"), {
        epoch: "1700000000000.olderVR",
        seq: 3,
      });
      const next = await b.publish("prices", [{ tsSend: 1, dataJson: "4" }]);
      assert.deepEqual([next.epoch, next.first], ["1700000000000.olderVR", 4]);
      assert.deepEqual(notices, [], "no reset");
      assert.equal(await c.get("fanout:generation"), "1700000000005");
    } finally {
      await c.close();
    }
  },
});
