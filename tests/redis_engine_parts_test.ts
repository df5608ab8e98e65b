/**
 * The Redis broker's fault handling parts, without a server: how each
 * engine error is classified, what the health state reports (once per
 * outage), subscriptions carried to a new connection, the command deadline
 * and Sentinel URLs.
 */
import assert from "node:assert/strict";
import {
  ClientClosedError,
  ClientOfflineError,
  SimpleError,
  SocketClosedUnexpectedlyError,
} from "@redis/client";
import { BrokerStats } from "../server/core/broker.ts";
import { classifyEngineError } from "../server/broker/redis_errors.ts";
import { EngineHealth } from "../server/broker/redis_health.ts";
import {
  type Listener,
  type PubSubClient,
  RedisSubscriber,
} from "../server/broker/redis_subscriber.ts";
import {
  CommandTimeoutError,
  withDeadline,
} from "../server/broker/redis_deadline.ts";
import { parseSentinelUrl } from "../server/broker/redis_sentinel.ts";

Deno.test("classifyEngineError: every engine error is a fault with a stored verdict", () => {
  const cases: [unknown, string, false | "unknown", boolean][] = [
    [new ClientOfflineError(), "connection", false, true],
    [new ClientClosedError(), "connection", false, true],
    [new SocketClosedUnexpectedlyError(), "connection", "unknown", true],
    [new CommandTimeoutError(1000), "timeout", "unknown", true],
    [
      new SimpleError("READONLY You can't write against a read only replica."),
      "readonly",
      false,
      true,
    ],
    [
      new SimpleError(
        "OOM command not allowed when used memory > 'maxmemory'. script: abc, on @user_script:12.",
      ),
      "oom",
      false,
      true,
    ],
    [
      new SimpleError("LOADING Redis is loading the dataset in memory"),
      "loading",
      false,
      true,
    ],
    [
      new SimpleError("BUSY Redis is busy running a script."),
      "busy",
      false,
      true,
    ],
    [
      new SimpleError("MASTERDOWN Link with MASTER is down"),
      "readonly",
      false,
      true,
    ],
    [
      new SimpleError("ERR user_script:3: attempt to compare nil with number"),
      "script",
      "unknown",
      false,
    ],
    [new TypeError("x is undefined"), "connection", "unknown", true],
  ];
  for (const [err, fault, stored, outage] of cases) {
    const c = classifyEngineError(err);
    assert.deepEqual(
      [c.fault, c.stored, c.outage],
      [fault, stored, outage],
      String(err),
    );
    assert.ok(c.reason.startsWith(`${fault}: `), c.reason);
  }
});

Deno.test("EngineHealth: down and up reported once each, the fault is the reason, waiters woken, away once per outage, resync on the way back", async () => {
  const stats = new BrokerStats();
  const told: string[] = [];
  let backs = 0;
  let aways = 0;
  const health = new EngineHealth({
    stats,
    onStateChange: (up, reason) => told.push(up ? "up" : `down ${reason}`),
    onBack: () => backs++,
    onAway: () => aways++,
  });
  assert.equal(stats.up, false);
  health.update(true);
  assert.deepEqual(
    [stats.up, told, backs],
    [true, [], 1],
    "first connection is not news",
  );
  health.noteFault(classifyEngineError(new CommandTimeoutError(5)));
  health.update(true);
  health.noteFault(classifyEngineError(new ClientOfflineError()));
  health.update(false);
  assert.equal(stats.up, false);
  assert.match(stats.downReason, /^timeout: /, "the first fault is the reason");
  assert.equal(told.length, 1);
  assert.equal(
    aways,
    1,
    "away once per outage (the followers take their marks)",
  );
  const waiting = health.connected(60_000);
  health.clearFault();
  health.update(true);
  assert.equal(await waiting, true);
  assert.deepEqual([told.at(-1), backs, stats.downReason], ["up", 2, ""]);
  health.close();
  assert.equal(await health.connected(60_000), false);
});

Deno.test("RedisSubscriber: subjects are subscribed again on a replacement connection, and unsubscribed ones are not", async () => {
  class FakeSub implements PubSubClient {
    isOpen = true;
    isReady = true;
    readonly subjects = new Map<string, Listener>();
    subscribe(subject: string, listener: Listener) {
      this.subjects.set(subject, listener);
      return Promise.resolve();
    }
    unsubscribe(subject: string) {
      this.subjects.delete(subject);
      return Promise.resolve();
    }
  }
  const first = new FakeSub();
  const sub = new RedisSubscriber(first);
  const got: string[] = [];
  await sub.subscribe("a", (m) => got.push(`a:${m}`));
  await sub.subscribe("b", (m) => got.push(`b:${m}`));
  await sub.unsubscribe("b");
  const second = new FakeSub();
  sub.replace(second);
  assert.deepEqual([...second.subjects.keys()], ["a"]);
  second.subjects.get("a")!("1", "a");
  assert.deepEqual(got, ["a:1"]);
});

Deno.test("withDeadline: a promise past the deadline rejects with CommandTimeoutError; others pass through", async () => {
  const client = {
    stuck: () => new Promise<never>(() => {}),
    quick: () => Promise.resolve(7),
    sync: () => 3,
  };
  const bounded = withDeadline(client, 10);
  await assert.rejects(bounded.stuck(), CommandTimeoutError);
  assert.equal(await bounded.quick(), 7);
  assert.equal(bounded.sync(), 3);
});

Deno.test("parseSentinelUrl: hosts, ports, name, db and credentials; anything else is not one", () => {
  const t = parseSentinelUrl(
    "redis+sentinel://u:p@s1,s2:26380,[::1]:26381/main/3",
  );
  assert.deepEqual(t, {
    nodes: [
      { host: "s1", port: 26379 },
      { host: "s2", port: 26380 },
      { host: "[::1]", port: 26381 },
    ],
    name: "main",
    auth: "u:p@",
    db: "/3",
  });
  for (
    const bad of [
      "redis://s1:26379/main",
      "redis+sentinel://s1:26379",
      "redis+sentinel://s1:99999/main",
      "redis+sentinel://s1:26379/main?x=1",
    ]
  ) {
    assert.equal(parseSentinelUrl(bad), undefined, bad);
  }
});
