/**
 * The Redis engine failing in ways other than a clean disconnect, against a
 * real `redis-server` started here on a free port: out of memory at
 * `maxmemory`, READONLY after the primary became a replica, a stalled
 * process (SIGSTOP), a long LOADING, a subscribe during an outage, a node
 * stopped while Redis is unreachable. Every one is an outage the node says
 * (503 with Retry-After, `/readyz` 503), and every one ends by itself.
 */
import assert from "node:assert/strict";
import { ManualClient, waitFor } from "./_helpers.ts";
import { RedisServer } from "../bench/_redis.ts";
import { REDIS_SERVER, reportSkip } from "./_tools.ts";
import { FanoutProcess, waitForListening } from "./_cli.ts";
import { replicated, sentinelSetup } from "./_sentinel.ts";
import {
  direct,
  metric,
  node,
  nodeProcess,
  publishOne as publish,
  range,
} from "./_cluster.ts";

reportSkip("engine fault tests", REDIS_SERVER);
const ignore = REDIS_SERVER.missing !== undefined;

/** `/readyz`'s status code. */
async function readyz(server: { httpUrl: string }): Promise<number> {
  const res = await fetch(`${server.httpUrl}readyz`);
  await res.body?.cancel();
  return res.status;
}

/** Waits until a publish on `server` is accepted. */
function publishingAgain(server: { httpUrl: string }, timeoutMs = 15_000) {
  return waitFor("a publish accepted again", async () => {
    const res = await publish(server, { probe: true });
    await res.body?.cancel();
    return res.status === 200;
  }, timeoutMs);
}

/** Asserts `res` is the 503 an engine outage gives, and returns its body. */
async function assertOutage(res: Response) {
  const body = await res.json();
  assert.equal(res.status, 503, JSON.stringify(body));
  assert.ok(Number(res.headers.get("retry-after")) >= 1, "Retry-After");
  assert.equal(typeof body.error, "string");
  return body as { error: string; stored: false | "unknown" };
}

/** The synthetic source's state, from `/readyz`. */
async function sourceState(httpUrl: string): Promise<string> {
  const res = await fetch(`${httpUrl}readyz`);
  return (await res.json()).source_state;
}

for (
  const [fault, set, clear] of [
    [
      "OOM at maxmemory",
      ["CONFIG", "SET", "maxmemory", "1"],
      ["CONFIG", "SET", "maxmemory", "0"],
    ],
    [
      "READONLY (the primary became a replica)",
      ["REPLICAOF", "127.0.0.1", "1"],
      ["REPLICAOF", "NO", "ONE"],
    ],
  ] as const
) {
  Deno.test({
    name:
      `engine faults: ${fault} → the synthetic source pauses and resumes (the node stays up), HTTP publish 503 + Retry-After + stored:false, /readyz 503, then back by itself`,
    ignore,
    sanitizeOps: false,
    sanitizeResources: false,
    async fn() {
      await using redis = await RedisServer.start();
      const admin = await direct(redis.url);
      await admin.sendCommand([
        "CONFIG",
        "SET",
        "maxmemory-policy",
        "noeviction",
      ]);
      // Replication to a port nobody listens on stays "connecting": the
      // server is a read-only replica for as long as the test needs.
      await admin.sendCommand(["CONFIG", "SET", "replica-read-only", "yes"]);
      const { proc, httpUrl } = await nodeProcess(redis.url, [
        "--source",
        "synthetic",
        "--rate",
        "100",
      ]);
      await using _proc = proc;
      const http = await node(redis.url);
      try {
        await waitFor(
          "publishing",
          async () => (await sourceState(httpUrl)) === "running",
        );
        await admin.sendCommand([...set]);
        await waitFor(
          "the synthetic source to pause",
          async () => (await sourceState(httpUrl)) === "paused",
          15_000,
        );
        const body = await assertOutage(await publish(http, { during: 1 }));
        assert.equal(body.stored, false, "refused by Redis: not stored");
        await waitFor("/readyz 503", async () => (await readyz(http)) === 503);
        await admin.sendCommand([...clear]);
        await publishingAgain(http);
        await waitFor(
          "the synthetic source to run again",
          async () => (await sourceState(httpUrl)) === "running",
          15_000,
        );
        await waitFor("/readyz 200", async () => (await readyz(http)) === 200);
        const exited = await Promise.race([
          proc.status.then(() => true),
          Promise.resolve(false),
        ]);
        assert.equal(exited, false, `the node died:\n${proc.stderr.text}`);
      } finally {
        await http.stop();
        await admin.close();
      }
    },
  });
}

Deno.test({
  name:
    "engine faults: the stdin source meets OOM → it pauses (the node stays up), and publishes the line once Redis takes writes",
  ignore,
  async fn() {
    await using redis = await RedisServer.start();
    const admin = await direct(redis.url);
    await admin.sendCommand([
      "CONFIG",
      "SET",
      "maxmemory-policy",
      "noeviction",
    ]);
    await using proc = FanoutProcess.server([
      "--log-json",
      "--broker",
      redis.url,
      "--source",
      "stdin",
    ], { stdin: "piped" });
    const { port } = await waitForListening(proc);
    const httpUrl = `http://127.0.0.1:${port}/`;
    const stdin = proc.stdin.getWriter();
    const inStream = async (line: number) => {
      const entries = await admin.xRange("fanout:{default}:stream", "-", "+");
      return (entries ?? []).some((e) =>
        String(e.message.f).includes(`"line":${line}`)
      );
    };
    const write = (line: number) =>
      stdin.write(new TextEncoder().encode(`{"line":${line}}\n`));
    try {
      await write(1);
      await waitFor("line 1 in the stream", () => inStream(1), 15_000);
      await admin.sendCommand(["CONFIG", "SET", "maxmemory", "1"]);
      await write(2);
      await waitFor(
        "the stdin source to pause",
        async () => (await sourceState(httpUrl)) === "paused",
        15_000,
      );
      assert.equal(await inStream(2), false);
      await admin.sendCommand(["CONFIG", "SET", "maxmemory", "0"]);
      await waitFor("line 2 in the stream", () => inStream(2), 15_000);
      await waitFor(
        "the stdin source to run again",
        async () => (await sourceState(httpUrl)) === "running",
      );
    } finally {
      await stdin.close().catch(() => {});
      await admin.close();
    }
  },
});

/** The next data frame (control frames other than `allow` fail). */
async function nextData(client: ManualClient, allow: string[] = []) {
  while (true) {
    const f = JSON.parse(String(await client.read()));
    if (f.type === undefined) return f;
    if (f.type === "lag") continue; // every --lag-interval: not news here
    assert.ok(allow.includes(f.type), `unexpected ${JSON.stringify(f)}`);
  }
}

Deno.test({
  name:
    "engine faults: a stalled Redis (SIGSTOP) is an outage: publishes answer 503 with stored false|unknown, /readyz 503, and nothing answered stored:false is in Redis after SIGCONT",
  ignore,
  async fn() {
    await using redis = await RedisServer.start();
    await using a = await node(redis.url);
    assert.equal((await publish(a, { id: -1 })).status, 200);
    redis.signal("SIGSTOP");
    const answers: { id: number; status: number; stored?: unknown }[] = [];
    try {
      for (let id = 0; id < 40; id++) {
        const res = await publish(a, { id });
        if (res.status === 200) {
          await res.body?.cancel();
          answers.push({ id, status: 200 });
          continue;
        }
        const body = await assertOutage(res);
        assert.match(body.error, /timeout|unreachable|stall|no reply/i);
        answers.push({ id, status: 503, stored: body.stored });
      }
      await waitFor("/readyz 503", async () => (await readyz(a)) === 503);
    } finally {
      redis.signal("SIGCONT");
    }
    await publishingAgain(a);
    await waitFor("/readyz 200", async () => (await readyz(a)) === 200);
    const refused = answers.filter((x) => x.stored === false).map((x) => x.id);
    const unknown = answers.filter((x) => x.stored === "unknown");
    assert.ok(refused.length >= 1, "refused without sending once detected");
    assert.ok(unknown.length >= 1, "the one sent into the stall: unknown");
    assert.ok(
      answers.every((x) => x.status === 200 || x.stored !== undefined),
    );
    const admin = await direct(redis.url);
    const entries = await admin.xRange("fanout:{default}:stream", "-", "+");
    await admin.close();
    const stored = new Set(
      (entries ?? []).map((e) =>
        JSON.parse(`{"x":1${String(e.message.f)}`).data?.id
      ),
    );
    const leaked = refused.filter((id) => stored.has(id));
    assert.deepEqual(leaked, [], "answered stored:false yet published");
    for (const { id } of answers.filter((x) => x.status === 200)) {
      assert.ok(stored.has(id), `200 for ${id} but not in the stream`);
    }
  },
});

Deno.test({
  name:
    "engine faults: a stalled Redis with no traffic → /readyz 503 from the watchdog alone, 200 again after SIGCONT",
  ignore,
  async fn() {
    await using redis = await RedisServer.start();
    await using a = await node(redis.url);
    assert.equal(await readyz(a), 200);
    redis.signal("SIGSTOP");
    try {
      // No publish, no subscriber: only the watchdog can notice (within
      // about --broker-timeout-ms; the deadline here is for a busy machine).
      await waitFor("/readyz 503", async () => (await readyz(a)) === 503);
      const why = await (await fetch(`${a.httpUrl}readyz`)).json();
      assert.match(why.reason, /timeout/);
    } finally {
      redis.signal("SIGCONT");
    }
    await waitFor("/readyz 200", async () => (await readyz(a)) === 200);
  },
});

Deno.test({
  name:
    "engine faults: Redis restarted into a long LOADING (about 12 s) → down while it loads, then publishing again by itself",
  ignore,
  async fn() {
    await using redis = await RedisServer.start();
    await using a = await node(redis.url);
    assert.equal((await publish(a, { n: 1 })).status, 200);
    const admin = await direct(redis.url);
    const fill: string[] = [];
    for (let i = 0; i < 150; i++) fill.push(`fill:${i}`, "x");
    await admin.mSet(fill);
    await admin.sendCommand(["SAVE"]);
    await admin.close();
    await redis.kill();
    // 150 keys at 80 ms each: about 12 s of LOADING, past the 5-s PING.
    redis.args = ["--key-load-delay", "80000"];
    await redis.restart();
    await waitFor("down while loading", async () => (await readyz(a)) === 503);
    // Only /readyz is asked (no publish): the node finds its way back alone.
    await waitFor(
      "/readyz 200 after loading",
      async () => (await readyz(a)) === 200,
      60_000,
      100,
    );
    assert.equal((await publish(a, { n: 2 })).status, 200);
  },
});

Deno.test({
  name:
    "engine faults: a node started while Redis is in a long LOADING (about 12 s), with a subscriber waiting → ready by itself once loaded, and the subscriber gets live messages",
  ignore,
  async fn() {
    await using redis = await RedisServer.start();
    const admin = await direct(redis.url);
    const fill: string[] = [];
    for (let i = 0; i < 150; i++) fill.push(`fill:${i}`, "x");
    await admin.mSet(fill);
    await admin.sendCommand(["SAVE"]);
    await admin.close();
    await redis.kill();
    redis.args = ["--key-load-delay", "80000"];
    await redis.restart();
    await using a = await node(redis.url);
    const client = new ManualClient(`${a.url}?control=1`);
    await client.open();
    try {
      await waitFor(
        "/readyz 200 after loading",
        async () => (await readyz(a)) === 200,
        60_000,
        100,
      );
      const sent = await (await publish(a, { after: "loading" })).json();
      while (true) {
        const f = JSON.parse(String(await withTimeout(client.read(), 15_000)));
        if (f.type === "position") {
          assert.equal(f.epoch, sent.epoch, "a real epoch");
        }
        if (f.type === undefined && f.data?.after === "loading") break;
      }
    } finally {
      await client[Symbol.asyncDispose]();
    }
  },
});

Deno.test({
  name:
    "engine faults: a client subscribing during an outage on a node that follows no channel yet gets live messages once Redis is back",
  ignore,
  async fn() {
    await using redis = await RedisServer.start({ aof: true });
    await using b = await node(redis.url);
    assert.equal((await publish(b, { n: 1 })).status, 200);
    await redis.kill();
    await waitFor("node B down", () => !b.broker.stats.up);
    const client = new ManualClient(`${b.url}?control=1`);
    await client.open();
    try {
      await redis.restart();
      await publishingAgain(b, 20_000);
      const sent = await (await publish(b, { after: "outage" })).json();
      const frames: Record<string, unknown>[] = [];
      while (true) {
        const f = JSON.parse(String(await withTimeout(client.read(), 15_000)));
        frames.push(f);
        if (f.type === undefined && f.data?.after === "outage") break;
      }
      const position = frames.find((f) => f.type === "position");
      assert.equal(position?.epoch, sent.epoch, JSON.stringify(frames));
    } finally {
      await client[Symbol.asyncDispose]();
    }
  },
});

Deno.test({
  name:
    "engine faults: a node started while Redis is down, a client subscribing before it ever connected → live messages once Redis is up",
  ignore,
  async fn() {
    await using redis = await RedisServer.start();
    await redis.kill();
    await using b = await node(redis.url);
    const client = new ManualClient(`${b.url}?control=1`);
    await client.open();
    try {
      await redis.restart();
      await publishingAgain(b, 20_000);
      const sent = await (await publish(b, { after: "start" })).json();
      while (true) {
        const f = JSON.parse(String(await withTimeout(client.read(), 15_000)));
        if (f.type === "position") assert.equal(f.epoch, sent.epoch);
        if (f.type === undefined && f.data?.after === "start") break;
      }
    } finally {
      await client[Symbol.asyncDispose]();
    }
  },
});

for (
  const [fault, set, clear] of [
    ["READONLY", ["REPLICAOF", "127.0.0.1", "1"], ["REPLICAOF", "NO", "ONE"]],
    ["OOM", ["CONFIG", "SET", "maxmemory", "1"], [
      "CONFIG",
      "SET",
      "maxmemory",
      "0",
    ]],
  ] as const
) {
  Deno.test({
    name:
      `engine faults: a first JOIN refused with ${fault} → /readyz 503, then the channel works once Redis takes writes (a real epoch, live delivery)`,
    ignore,
    async fn() {
      await using redis = await RedisServer.start();
      const admin = await direct(redis.url);
      await admin.sendCommand([
        "CONFIG",
        "SET",
        "maxmemory-policy",
        "noeviction",
      ]);
      await admin.sendCommand([...set]);
      await using b = await node(redis.url);
      const client = new ManualClient(`${b.url}?control=1`);
      await client.open();
      try {
        await waitFor("/readyz 503", async () => (await readyz(b)) === 503);
        await admin.sendCommand([...clear]);
        await publishingAgain(b);
        const sent = await (await publish(b, { after: fault })).json();
        const position = JSON.parse(
          String(await withTimeout(client.read(), 15_000)),
        );
        assert.equal(position.type, "position");
        assert.equal(position.epoch, sent.epoch, 'a real epoch, not ""');
        while (true) {
          const f = await withTimeout(nextData(client, ["reset"]), 15_000);
          if (f.data?.after === fault) break;
        }
        await waitFor("/readyz 200", async () => (await readyz(b)) === 200);
      } finally {
        await client[Symbol.asyncDispose]();
        await admin.close();
      }
    },
  });
}

Deno.test({
  name:
    "engine faults: SIGTERM while Redis is unreachable → the node still exits",
  ignore,
  async fn() {
    await using redis = await RedisServer.start();
    const { proc, port } = await nodeProcess(redis.url, ["--source", "http"]);
    await using _proc = proc;
    const http = { httpUrl: `http://127.0.0.1:${port}/` };
    assert.equal((await publish(http, { n: 1 })).status, 200);
    // Unreachable: connected, but nothing answers (a partition, a stall).
    redis.signal("SIGSTOP");
    try {
      const inFlight = publish(http, { n: 2 }).catch(() => undefined);
      proc.kill("SIGTERM");
      const status = await proc.exit(30_000);
      assert.equal(status.success, true, proc.stderr.text);
      await inFlight;
    } finally {
      redis.signal("SIGCONT");
    }
  },
});

/** Resolves like `p`, or rejects after `ms`. */
function withTimeout<T>(p: Promise<T>, ms: number): Promise<T> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  return Promise.race([
    p,
    new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(new Error(`no answer in ${ms} ms`)), ms);
    }),
  ]).finally(() => clearTimeout(timer));
}

Deno.test({
  name:
    "engine faults: ACKs on node B of messages published on node A give e2e latency, and an ACK lagging over --max-lag closes the client with 4006",
  ignore,
  async fn() {
    await using redis = await RedisServer.start();
    await using a = await node(redis.url);
    await using b = await node(redis.url, { maxLag: 1 });
    const client = new ManualClient(`${b.url}?control=1`);
    await client.open();
    try {
      await client.read(); // position
      const ack = (f: { seq: number; ts_send: number }) =>
        client.send(JSON.stringify({ ack_ts: f.ts_send, seq: f.seq }));
      assert.equal((await publish(a, { n: 1 })).status, 200);
      const first = await nextData(client);
      assert.equal(typeof first.ts_send, "number");
      await ack(first); // arms the ledger: later frames are remembered
      assert.equal((await publish(a, { n: 2 })).status, 200);
      const second = await nextData(client);
      await ack(second);
      await waitFor(
        "an e2e latency sample on node B",
        async () => (await metric(b, "fanout_e2e_latency_seconds_count")) >= 1,
      );
      // Hold the next one past --max-lag 1 s, then ACK it.
      assert.equal((await publish(a, { n: 3 })).status, 200);
      const third = await nextData(client);
      await waitFor(
        "the message to be 1.5 s old",
        () => Date.now() / 1000 - third.ts_send > 1.5,
      );
      await ack(third);
      const closed = client.drainUntilClosed();
      for (let n = 4; n < 60; n++) {
        const res = await publish(a, { n });
        await res.body?.cancel();
        const done = await Promise.race([closed, Promise.resolve(undefined)]);
        if (done) break;
        await waitFor("a moment", () => true);
      }
      assert.equal((await withTimeout(closed, 15_000)).code, 4006);
    } finally {
      await client[Symbol.asyncDispose]();
    }
  },
});

for (const lossy of [true, false]) {
  Deno.test({
    name: lossy
      ? "engine faults: through Sentinel, the primary killed and a replica that lacks the last writes promoted → publishing resumes on the new primary, clients get reset, never a reused position"
      : "engine faults: through Sentinel, the primary killed and a replica that has every write promoted → publishing resumes, no reset, no gap, the numbering goes on",
    ignore,
    async fn() {
      await using engine = await sentinelSetup();
      const { primary, r, url } = engine;
      await using a = await node(url);
      await using b = await node(url);
      await waitFor("A up", () => a.broker.stats.up, 15_000);
      const client = new ManualClient(`${b.url}?control=1`);
      await client.open();
      try {
        let epoch = JSON.parse(String(await client.read())).epoch as string;
        /** What each (epoch, seq) carried, as this client received it. */
        const seen = new Map<string, string>();
        const resets: string[] = [];
        const readUntil = async (n: unknown) => {
          while (true) {
            const f = JSON.parse(
              String(await withTimeout(client.read(), 30_000)),
            );
            if (f.type === "reset") {
              resets.push(f.epoch);
              epoch = f.epoch;
              continue;
            }
            if (f.type !== undefined) continue; // gap: announced, allowed
            const at = `${epoch}:${f.seq}`;
            const body = JSON.stringify(f.data);
            assert.ok(
              !seen.has(at) || seen.get(at) === body,
              `position ${at} reused: ${seen.get(at)} then ${body}`,
            );
            seen.set(at, body);
            if (f.data?.n === n) return;
          }
        };
        for (let n = 1; n <= 10; n++) {
          assert.equal((await publish(a, { n })).status, 200);
        }
        await readUntil(10);
        await replicated(primary.url);
        // Lossy: the replica stops replicating: it keeps 1..10, misses 11..15.
        if (lossy) await r.sendCommand(["REPLICAOF", "127.0.0.1", "1"]);
        for (let n = 11; n <= 15; n++) {
          assert.equal((await publish(a, { n })).status, 200);
        }
        await readUntil(15);
        if (!lossy) await replicated(primary.url);
        await engine.failover();
        await waitFor(
          "publishing on the new primary",
          async () => {
            const res = await publish(a, { n: 16 });
            if (res.status === 200) {
              await res.body?.cancel();
              return true;
            }
            // Meanwhile: the outage answer, never a 500.
            const body = await assertOutage(res);
            assert.ok([false, "unknown"].includes(body.stored), body.error);
            return false;
          },
          60_000,
          200,
        );
        await readUntil(16);
        if (lossy) {
          assert.ok(resets.length >= 1, "told the stream started over");
        } else {
          assert.deepEqual(resets, [], "the same stream: no reset");
          const seqs = [...seen.keys()].map((k) => Number(k.split(":")[1]));
          assert.deepEqual(seqs, range(1, seqs.length), "no hole");
          assert.ok(seqs.length >= 16);
        }
        assert.equal(
          await engine.primaryPort(),
          engine.replica.port,
          "the replica is the primary now",
        );
      } finally {
        await client[Symbol.asyncDispose]();
      }
    },
  });
}
