/**
 * The relay over real sockets on 127.0.0.1: replay with no hole, channels and
 * HTTP publishing, who may connect and how much, each slow-client policy's
 * isolation, TLS.
 */
import assert from "node:assert/strict";
import { SimClient } from "../client/mod.ts";
import type { ServerOptions } from "../server/mod.ts";
import { FanoutProcess, waitForListening } from "./_cli.ts";
import { ManualClient, startTestServer, waitFor } from "./_helpers.ts";
import { signJwt } from "./_jwt.ts";
import { makeTestCert } from "./_tls.ts";

const start = (overrides: Partial<ServerOptions>) => startTestServer(overrides);

/** Asks for a WebSocket upgrade with fetch, to read a refusal's status and body. */
async function upgradeStatus(
  httpUrl: string,
  query: string,
  headers: Record<string, string> = {},
): Promise<{ status: number; error: string }> {
  const res = await fetch(`${httpUrl}${query}`, {
    headers: {
      upgrade: "websocket",
      connection: "Upgrade",
      "sec-websocket-key": "dGhlIHNhbXBsZSBub25jZQ==",
      "sec-websocket-version": "13",
      ...headers,
    },
  });
  const body = await res.text();
  let error = body;
  try {
    error = JSON.parse(body).error;
  } catch { /* not JSON */ }
  return { status: res.status, error };
}

Deno.test("replay: a client that reconnects with since= recovers every missed message, no duplicate, no hole", async () => {
  await using server = start({ rate: 100, history: 1000 });
  const stop = new AbortController();
  const client = new SimClient(server.url, {
    id: "resumer",
    resume: true,
    signal: stop.signal,
  });
  client.run();
  await waitFor("the first messages", () => client.snapshot().messages >= 50);
  // Cut the connection from the server side; the client comes back after its
  // 250 ms backoff with ?since=<last seq> and the history fills the gap.
  const [session] = server.hub.sessions;
  server.hub.close(session!, "ping_timeout", "test: cut the connection");
  await waitFor("the reconnect", () => client.snapshot().connects === 2);
  await waitFor(
    "live messages after the replay",
    () => client.snapshot().recovered > 0 && client.snapshot().messages >= 150,
  );
  stop.abort();
  await client.stop();
  const s = client.snapshot();
  assert.equal(s.drops, 0, "no hole");
  assert.equal(s.repeats, 0, "no duplicate");
  assert.ok(
    s.recovered >= 10,
    `recovered ${s.recovered} messages published while away`,
  );
  assert.deepEqual(s.notices, {
    dropped: 0,
    missed: 0,
    resets: 0,
    expired: 0,
    tierChanges: 0,
  });
});

Deno.test("replay: since older than the history is told how many it missed, not silently resumed", async () => {
  await using server = start({ rate: 200, history: 5 });
  await waitFor("some history", () => server.source.published >= 50);
  await using client = new ManualClient(`${server.url}?since=1`);
  await client.open();
  const position = JSON.parse(String(await client.read()));
  assert.equal(position.type, "position");
  assert.equal(position.epoch, server.broker.position("default").epoch);
  const gap = JSON.parse(String(await client.read()));
  assert.equal(gap.type, "gap");
  assert.equal(gap.from, 2);
  assert.ok(gap.missed >= 40, `missed ${gap.missed}`);
  const first = JSON.parse(String(await client.read()));
  assert.equal(first.seq, gap.to + 1, "replay starts right after the gap");
});

Deno.test("channels: POST /publish reaches only that channel's subscribers, with the assigned seq", async () => {
  await using server = start({ source: "http", publishToken: "pub" });
  await using prices = new ManualClient(`${server.url}?channel=prices`);
  await using chat = new ManualClient(`${server.url}?channel=chat`);
  await prices.open();
  await chat.open();
  await waitFor("both subscribers", () => server.hub.sessions.size === 2);
  const post = (channel: string, body: string) =>
    fetch(`${server.httpUrl}publish?channel=${channel}`, {
      method: "POST",
      headers: {
        authorization: "Bearer pub",
        "content-type": "application/json",
      },
      body,
    }).then((r) => r.json());
  const epochOf = (channel: string) => server.broker.position(channel).epoch;
  assert.deepEqual(await post("prices", '{"sym":"AAPL","px":1}'), {
    channel: "prices",
    seq: 1,
    epoch: epochOf("prices"),
  });
  assert.deepEqual(await post("chat", '"hello"'), {
    channel: "chat",
    seq: 1,
    epoch: epochOf("chat"),
  });
  assert.deepEqual(await post("prices", '{"sym":"AAPL","px":2}'), {
    channel: "prices",
    seq: 2,
    epoch: epochOf("prices"),
  });
  assert.notEqual(epochOf("prices"), epochOf("chat"), "an epoch per channel");
  const p1 = JSON.parse(String(await prices.read()));
  const p2 = JSON.parse(String(await prices.read()));
  const c1 = JSON.parse(String(await chat.read()));
  assert.deepEqual([p1.seq, p1.data.px, p2.seq, p2.data.px], [1, 1, 2, 2]);
  assert.deepEqual([c1.seq, c1.channel, c1.data], [1, "chat", "hello"]);
  const unauthorized = await fetch(`${server.httpUrl}publish`, {
    method: "POST",
    body: "x",
  });
  assert.equal(unauthorized.status, 401);
  await unauthorized.body?.cancel();
});

Deno.test("admission: tokens, JWTs, origins, capacity and bad URLs are refused with the right status, and counted", async (t) => {
  const secret = "jwt-secret";
  await using server = start({
    token: "static",
    jwtSecret: secret,
    adminToken: "admin",
    allowedOrigins: ["https://good.example"],
    maxClients: 1,
  });
  const now = Math.floor(Date.now() / 1000);
  const cases: [string, string, Record<string, string>, number, RegExp][] = [
    ["no credentials", "", {}, 401, /missing credentials/],
    ["wrong token", "?token=nope", {}, 401, /invalid token/],
    [
      "expired JWT",
      `?token=${await signJwt(secret, { exp: now - 10 })}`,
      {},
      401,
      /expired/,
    ],
    [
      "JWT for another channel",
      `?channel=chat&token=${await signJwt(secret, {
        exp: now + 60,
        channels: ["prices"],
      })}`,
      {},
      403,
      /does not grant channel chat/,
    ],
    [
      "bad origin",
      "?token=static",
      { origin: "https://evil.example" },
      403,
      /not allowed/,
    ],
    [
      "path trick channel",
      "?token=static&channel=..%2F..%2Fetc",
      {},
      400,
      /invalid channel name/,
    ],
    [
      "bad since",
      "?token=static&since=-1",
      {},
      400,
      /since must be a whole number/,
    ],
    [
      "bad since_ts",
      "?token=static&since=3&since_ts=soon",
      {},
      400,
      /since_ts must be the ts_send of the message at since=/,
    ],
    [
      "since_ts without since",
      "?token=static&since_ts=1700000000.5",
      {},
      400,
      /given with since=/,
    ],
  ];
  for (const [name, query, headers, status, reason] of cases) {
    await t.step(name, async () => {
      const got = await upgradeStatus(server.httpUrl, query, headers);
      assert.equal(got.status, status);
      assert.match(got.error, reason);
    });
  }
  await t.step(
    "a valid JWT gets in to its channel; the next client finds the server full",
    async () => {
      const jwt = await signJwt(secret, {
        exp: now + 60,
        channels: ["prices"],
      });
      await using ok = new ManualClient(
        `${server.url}?channel=prices&token=${jwt}`,
      );
      await ok.open();
      const [session] = await waitFor(
        "the session",
        () => server.hub.sessions.size === 1 && [...server.hub.sessions],
      );
      assert.equal(session!.channel, "prices");
      const full = await upgradeStatus(server.httpUrl, "?token=static", {
        origin: "https://good.example",
      });
      assert.equal(full.status, 503);
      assert.match(full.error, /server full/);
    },
  );
  const r = server.hub.totals().rejections;
  assert.equal(r.get("unauthorized"), 3);
  assert.equal(r.get("forbidden_channel"), 1);
  assert.equal(r.get("bad_origin"), 1);
  assert.equal(r.get("server_full"), 1);
});

Deno.test("limits: an ACK flood is throttled then closed with 4101 while the other clients keep receiving", async () => {
  await using server = start({ rate: 50, maxInboundRate: 20 });
  const stop = new AbortController();
  const good = new SimClient(server.url, { id: "good", signal: stop.signal });
  good.run();
  await good.firstAttempt;
  // A browser-style client is enough here: it floods, it need not stall.
  const flood = new WebSocket(server.url);
  const closed = new Promise<number>((
    resolve,
  ) => (flood.onclose = (e) => resolve(e.code)));
  flood.onopen = () => {
    const ack = JSON.stringify({ ack_ts: Date.now() / 1000, seq: 1 });
    for (let i = 0; i < 200; i++) flood.send(ack);
  };
  await waitFor(
    "the flood disconnect",
    () => server.hub.totals().disconnects.get("flood") === 1,
  );
  // The server closed it with 4101; a client that is still flooding may see
  // only the connection end (Deno drops it when frames follow the close).
  assert.ok([4101, 1005, 1006, 0].includes(await closed));
  const before = good.snapshot().messages;
  await waitFor(
    "the good client to keep receiving",
    () => good.snapshot().messages > before + 10,
  );
  stop.abort();
  await good.stop();
  assert.equal(good.snapshot().closes.length, 0);
});

Deno.test("policies: under every --policy a stalled client costs the fast client nothing", async (t) => {
  for (
    const policy of [
      "drop-oldest",
      "drop-newest",
      "disconnect",
      "conflate",
    ] as const
  ) {
    await t.step(policy, async () => {
      await using server = start({
        rate: 100,
        payloadBytes: 65536,
        maxsize: 10,
        dropLimit: 1e9,
        fullTimeout: 3600,
        policy,
        ...(policy === "conflate" ? { conflateKey: "sym" } : {}),
      });
      const stop = new AbortController();
      const fast = new SimClient(server.url, {
        id: "fast",
        signal: stop.signal,
      });
      fast.run();
      await fast.firstAttempt;
      await using stalled = new ManualClient(`${server.url}?control=1`);
      await stalled.open();
      await stalled.read();
      const [, slow] = await waitFor(
        "both sessions",
        () => server.hub.sessions.size === 2 && [...server.hub.sessions],
      );
      await waitFor(
        "the stalled client to lose messages (or be cut off)",
        () =>
          [...server.hub.subscribers()].some((s) =>
            s.id === slow!.id && s.drops > 0
          ) || slow!.closed,
        30_000,
      );
      const published = server.source.published;
      await waitFor(
        "the fast client to keep up",
        () => (fast.snapshot().lastSeq ?? 0) >= published,
      );
      stop.abort();
      await fast.stop();
      const f = fast.snapshot();
      assert.equal(f.drops, 0, "the fast client lost nothing");
      assert.ok(
        f.latency.p99 < 2000,
        `fast p99 ${f.latency.p99} ms stays far below the stall`,
      );
      if (policy === "disconnect") {
        assert.equal((await stalled.drainUntilClosed()).code, 4004);
      }
    });
  }
});

Deno.test("TLS: --cert/--key serve https:// and wss://", async () => {
  await using tls = await makeTestCert();
  await using server = start({
    cert: tls.certFile,
    key: tls.keyFile,
    rate: 20,
  });
  assert.match(server.url, /^wss:\/\//);
  const client = Deno.createHttpClient({
    caCerts: [await Deno.readTextFile(tls.caFile)],
  });
  try {
    const res = await fetch(`${server.httpUrl}healthz`, { client });
    assert.equal(res.status, 200);
    await res.body?.cancel();
  } finally {
    client.close();
  }
  // A WebSocket client trusting the certificate, in its own process (--cert).
  const ws = await new Deno.Command(Deno.execPath(), {
    args: [
      "eval",
      "-q",
      `--cert=${tls.caFile}`,
      `const ws = new WebSocket(${JSON.stringify(server.url)});
       ws.onmessage = (e) => { console.log(JSON.parse(e.data).seq > 0 ? "frame" : "bad"); ws.close(); };
       ws.onerror = (e) => { console.log("error", e.message); };`,
    ],
    stdout: "piped",
    stderr: "piped",
  }).output();
  assert.equal(
    new TextDecoder().decode(ws.stdout).trim(),
    "frame",
    new TextDecoder().decode(ws.stderr),
  );
});

Deno.test("fanout server --source stdin publishes each input line; a client joining later replays them with since=0", async () => {
  await using proc = new FanoutProcess([
    "server",
    "--source",
    "stdin",
    "--history",
    "10",
    "--port",
    "0",
    "--host",
    "127.0.0.1",
    "--log-json",
    "--summary-interval",
    "3600",
  ], { stdin: "piped" });
  const { port } = await waitForListening(proc);
  const stdin = proc.stdin.getWriter();
  await stdin.write(
    new TextEncoder().encode(
      '{"level":"info","msg":"started"}\nplain text line\n',
    ),
  );
  await stdin.close();
  await proc.stdout.waitForJson(
    "end of input",
    (r) => r.type === "source_ended",
  );
  await using client = new ManualClient(`ws://127.0.0.1:${port}/?since=0`);
  await client.open();
  const position = JSON.parse(String(await client.read()));
  assert.deepEqual([position.type, position.last_seq], ["position", 2]);
  const first = JSON.parse(String(await client.read()));
  const second = JSON.parse(String(await client.read()));
  assert.deepEqual([first.seq, first.data], [1, {
    level: "info",
    msg: "started",
  }]);
  assert.deepEqual([second.seq, second.data], [2, "plain text line"]);
  proc.kill("SIGINT");
  assert.equal((await proc.exit()).code, 0);
});

Deno.test("epochs: resuming after a restart with since= and the old epoch gets reset naming the new one, never a splice of two streams", async () => {
  const first = start({ rate: 200, history: 1000 });
  const port = first.port;
  await waitFor("a stream", () => first.source.published >= 20);
  const old = first.broker.position("default");
  await first.stop();
  // A new process on the same port: numbering starts over in a new epoch.
  await using second = start({ rate: 200, history: 1000, port });
  await waitFor(
    "the new stream to pass the old position",
    () => second.source.published > old.seq + 20,
  );
  const fresh = second.broker.position("default");
  assert.notEqual(fresh.epoch, old.epoch);
  await using resumer = new ManualClient(
    `${second.url}?since=${old.seq}&epoch=${old.epoch}`,
  );
  await resumer.open();
  const position = JSON.parse(String(await resumer.read()));
  const reset = JSON.parse(String(await resumer.read()));
  assert.equal(position.epoch, fresh.epoch);
  assert.deepEqual([reset.type, reset.epoch], ["reset", fresh.epoch]);
  const next = JSON.parse(String(await resumer.read()));
  assert.equal(next.seq, reset.last_seq + 1, "then the live stream, no replay");
  // The same position in the current epoch resumes with no hole.
  await using same = new ManualClient(
    `${second.url}?since=10&epoch=${fresh.epoch}`,
  );
  await same.open();
  await same.read(); // position
  assert.equal(JSON.parse(String(await same.read())).seq, 11);
  // A seed client (no epoch) keeps today's behaviour: a replay after since.
  await using seed = new ManualClient(`${second.url}?since=10`);
  await seed.open();
  await seed.read(); // position
  assert.equal(JSON.parse(String(await seed.read())).seq, 11);
});

Deno.test("epochs: clientsim --resume carries the epoch across a server restart and counts the reset, with no repeat", async () => {
  const first = start({ rate: 100, history: 1000 });
  const port = first.port;
  await using client = new SimClient(first.url, { resume: true });
  client.run();
  await waitFor("messages", () => client.snapshot().messages >= 30);
  const epochBefore = client.snapshot().epoch;
  assert.equal(epochBefore, first.broker.position("default").epoch);
  await first.stop();
  await using second = start({ rate: 100, history: 1000, port });
  await waitFor(
    "the reconnect",
    () => client.snapshot().connects >= 2 && client.snapshot().messages >= 60,
    15_000,
  );
  const s = client.snapshot();
  assert.equal(s.notices.resets, 1);
  assert.equal(s.epoch, second.broker.position("default").epoch);
  assert.equal(s.repeats, 0, "the new stream's seqs are not read as repeats");
});
