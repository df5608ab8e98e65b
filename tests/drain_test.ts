/**
 * A graceful drain: the batches (injected sleep, fake sinks) and, over real
 * sockets, what clients and probes see — `/readyz` 503 at once, new
 * subscribers refused with 503 and a hint, every connected SDK client
 * closed with 1012 and a retry hint that it obeys; and SIGTERM on the CLI.
 */
import assert from "node:assert/strict";
import { Drain } from "../server/http/drain.ts";
import { NaiveMode } from "../server/mod.ts";
import { FanoutClient, type FanoutCloseEvent } from "../sdk/mod.ts";
import {
  FakeClock,
  FakeSink,
  startTestServer,
  testHub,
  waitFor,
} from "./_helpers.ts";
import { FanoutProcess, waitForListening } from "./_cli.ts";

Deno.test("Drain closes the sessions with 1012 in batches spread over the drain time, and finishNow() ends it at the next tick", async () => {
  const { hub } = testHub(new NaiveMode(), new FakeClock());
  const sinks = Array.from({ length: 40 }, () => new FakeSink());
  for (const [i, sink] of sinks.entries()) hub.open(sink, { remote: `c${i}` });
  const openAtTicks: number[] = [];
  const drain = new Drain(hub, {
    tickMs: 100,
    sleep: () => {
      openAtTicks.push(hub.size);
      return Promise.resolve();
    },
  });
  assert.equal(drain.draining, false);
  await drain.start(1_000);
  assert.equal(drain.draining, true);
  // 10 ticks over 1 s: 4 sessions closed per tick.
  assert.deepEqual(openAtTicks, [36, 32, 28, 24, 20, 16, 12, 8, 4]);
  assert.ok(sinks.every((s) => s.closes.length === 1));
  assert.ok(sinks.every((s) => s.closes[0]!.code === 1012));
  assert.match(sinks[0]!.closes[0]!.reason, /draining/);

  const { hub: hub2 } = testHub(new NaiveMode(), new FakeClock());
  for (let i = 0; i < 10; i++) hub2.open(new FakeSink(), { remote: `d${i}` });
  let ticks = 0;
  const quick = new Drain(hub2, {
    sleep: () => {
      if (++ticks === 2) quick.finishNow();
      return Promise.resolve();
    },
  });
  await quick.start(60_000);
  assert.equal(hub2.size, 0);
  assert.equal(ticks, 2);
});

Deno.test("a drain turns /readyz 503 at once, refuses new subscribers with 503 and a hint, and closes every SDK client with 1012 and a hint it obeys", async () => {
  await using server = startTestServer({ rate: 20, drainMs: 600 });
  const closes: FanoutCloseEvent[] = [];
  const clients = Array.from({ length: 6 }, () => {
    const c = new FanoutClient(server.url, { backoff: { initialMs: 10 } });
    c.on("close", (e) => closes.push(e));
    return c.start();
  });
  try {
    await waitFor("six sessions", () => server.hub.size === 6);
    const drained = server.drain();
    const ready = await fetch(new URL("/readyz", server.httpUrl));
    assert.equal(ready.status, 503);
    await ready.body?.cancel();
    const late = await fetch(new URL("/", server.httpUrl), {
      headers: {
        upgrade: "websocket",
        connection: "Upgrade",
        "sec-websocket-version": "13",
        "sec-websocket-key": "ZmFub3V0LWRyYWluLXRzdA==",
      },
    });
    assert.equal(late.status, 503);
    assert.ok(Number(late.headers.get("retry-after")) >= 1);
    assert.match((await late.json()).error, /draining/);
    await drained;
    const drainCloses = () => closes.filter((c) => c.code === 1012);
    await waitFor("six drain closes", () => drainCloses().length === 6);
    for (const c of drainCloses()) {
      assert.equal(c.code, 1012);
      assert.equal(c.key, "drain");
      assert.equal(c.willReconnect, true);
      assert.ok(c.hintMs !== undefined && c.retryInMs! >= c.hintMs);
    }
    // Coming back to a draining node: refused as a close (4503) with a hint.
    await waitFor(
      "a refused reconnect",
      () => closes.some((c) => c.code === 4503),
    );
    const refused = closes.find((c) => c.code === 4503)!;
    assert.equal(refused.willReconnect, true);
    assert.ok(refused.hintMs! >= 1000);
  } finally {
    for (const c of clients) c.close();
  }
});

Deno.test("fanout server: SIGTERM drains (clients closed with 1012), and exits 0", async () => {
  await using server = FanoutProcess.server([
    "--rate",
    "20",
    "--drain-ms",
    "300",
    "--summary-interval",
    "3600",
    "--log-json",
  ]);
  const { port } = await waitForListening(server);
  const client = new FanoutClient(`ws://127.0.0.1:${port}/`);
  const closes: FanoutCloseEvent[] = [];
  client.on("close", (e) => closes.push(e));
  const opened = new Promise((resolve) => client.on("open", resolve));
  client.start();
  try {
    await opened;
    server.kill("SIGTERM");
    await waitFor("the drain's close", () => closes.length > 0, 15_000);
    assert.equal(closes[0]!.code, 1012);
    assert.equal((await server.exit(20_000)).code, 0, server.stderr.text);
  } finally {
    client.close();
  }
});
