/** The HTTP and stdin sources, against a hub with fake sinks: no network. */
import assert from "node:assert/strict";
import { createPublishHandler } from "../server/http/publish.ts";
import { HttpSource } from "../server/sources/source_http.ts";
import { BrokerUnavailableError, MemoryBroker } from "../server/mod.ts";
import { QueueMode } from "../server/modes/queue.ts";
import { messageFromText } from "../server/sources/message_body.ts";
import { runStdinSource } from "../server/sources/source_stdin.ts";
import { FakeClock, FakeSink, testHub } from "./_helpers.ts";

function hubWithClient(channel = "default", maxChannels = 10) {
  const clock = new FakeClock();
  const mode = new QueueMode({
    queue: { maxsize: 100, maxBytes: Infinity, policy: "drop-oldest" },
    limits: { dropLimit: 100, fullTimeoutMs: 5000 },
    scheduler: clock,
  });
  const { hub, broker } = testHub(mode, clock, { maxChannels });
  const sink = new FakeSink();
  hub.open(sink, { remote: "sub", channel });
  const reject = (label: string) => hub.reject(label);
  return { hub, broker, sink, reject };
}

const TOKEN = "pub-token";
const post = (
  path: string,
  body: BodyInit,
  headers: Record<string, string> = {},
) => {
  const url = new URL(`http://127.0.0.1${path}`);
  return [new Request(url, { method: "POST", body, headers }), url] as const;
};
const auth = { authorization: `Bearer ${TOKEN}` };

Deno.test("POST /publish delivers a JSON body to the channel's subscribers and answers its seq", async () => {
  const { broker, sink } = hubWithClient("prices");
  const handle = createPublishHandler(new HttpSource(broker), {
    publishToken: TOKEN,
    maxBodyBytes: 1024,
  });
  const res = await handle(
    ...post("/publish?channel=prices", '{"sym":"AAPL","px":1.5}', {
      ...auth,
      "content-type": "application/json",
    }),
  );
  assert.equal(res.status, 200);
  const answer = await res.json();
  assert.deepEqual(answer, {
    channel: "prices",
    seq: 1,
    epoch: broker.position("prices").epoch,
  });
  assert.match(answer.epoch, /^[A-Za-z0-9_-]{8}$/);
  const frame = JSON.parse(sink.frames[0]!);
  assert.equal(frame.seq, 1);
  assert.equal(frame.channel, "prices");
  assert.deepEqual(frame.data, { sym: "AAPL", px: 1.5 });
  assert.equal(typeof frame.ts_send, "number");
});

Deno.test("POST /publish with application/x-ndjson publishes a batch in order", async () => {
  const { broker, sink } = hubWithClient();
  const handle = createPublishHandler(new HttpSource(broker), {
    publishToken: TOKEN,
    maxBodyBytes: 1024,
  });
  const res = await handle(
    ...post("/publish", '{"n":1}\n{"n":2}\n\n"three"\n', {
      ...auth,
      "content-type": "application/x-ndjson",
    }),
  );
  assert.deepEqual(await res.json(), {
    channel: "default",
    count: 3,
    first: 1,
    last: 3,
    epoch: broker.position("default").epoch,
  });
  assert.deepEqual(sink.frames.map((f) => JSON.parse(f).data), [{ n: 1 }, {
    n: 2,
  }, "three"]);
});

Deno.test("POST /publish sends text bodies as strings", async () => {
  const { broker, sink } = hubWithClient();
  const handle = createPublishHandler(new HttpSource(broker), {
    publishToken: TOKEN,
    maxBodyBytes: 1024,
  });
  await handle(...post("/publish", 'plain "quoted" text', auth));
  assert.equal(JSON.parse(sink.frames[0]!).data, 'plain "quoted" text');
});

Deno.test("POST /publish refuses hostile and bad requests with the right status, and counts them", async (t) => {
  const { hub, broker, sink, reject } = hubWithClient("default", 1);
  const handle = createPublishHandler(new HttpSource(broker), {
    publishToken: TOKEN,
    maxBodyBytes: 100,
    reject,
  });
  const json = { ...auth, "content-type": "application/json" };
  const cases: [string, Request, URL, number, RegExp][] = [
    ["no token", ...post("/publish", "x"), 401, /publish token/],
    [
      "the right token, but in the URL",
      ...post(`/publish?token=${TOKEN}`, "x"),
      401,
      /not \?token=/,
    ],
    [
      "wrong token",
      ...post("/publish", "x", { authorization: "Bearer nope" }),
      401,
      /publish token/,
    ],
    [
      "path trick in channel",
      ...post("/publish?channel=../etc", "x", auth),
      400,
      /invalid channel name/,
    ],
    [
      "encoded slash",
      ...post("/publish?channel=a%2Fb", "x", auth),
      400,
      /invalid channel name/,
    ],
    [
      "new channel over the limit",
      ...post("/publish?channel=other", "x", auth),
      503,
      /--max-channels/,
    ],
    [
      "body too big",
      ...post("/publish", "x".repeat(101), auth),
      413,
      /--max-message-bytes/,
    ],
    [
      "malformed JSON",
      ...post("/publish", "{nope", json),
      400,
      /not valid JSON/,
    ],
    [
      "bad NDJSON line",
      ...post("/publish", '{"a":1}\n{bad', {
        ...auth,
        "content-type": "application/x-ndjson",
      }),
      400,
      /line 2/,
    ],
    ["empty body", ...post("/publish", "", auth), 400, /empty/],
  ];
  for (const [name, req, url, status, reason] of cases) {
    await t.step(name, async () => {
      const res = await handle(req, url);
      assert.equal(res.status, status);
      assert.match((await res.json()).error, reason);
    });
  }
  const get = new URL("http://127.0.0.1/publish");
  assert.equal((await handle(new Request(get), get)).status, 405);
  assert.equal(sink.frames.length, 0, "nothing was published");
  const rejections = hub.totals().rejections;
  assert.equal(rejections.get("publish_unauthorized"), 3);
  assert.equal(rejections.get("bad_channel"), 2);
});

Deno.test("POST /publish answers 408 to a body that does not arrive within the timeout", async () => {
  const { broker, reject, hub } = hubWithClient();
  const handle = createPublishHandler(new HttpSource(broker), {
    publishToken: TOKEN,
    maxBodyBytes: 1000,
    reject,
    bodyTimeoutMs: 50,
  });
  // One byte, then nothing: a trickled body.
  const body = new ReadableStream<Uint8Array>({
    start(c) {
      c.enqueue(new Uint8Array([0x7b]));
    },
  });
  const res = await handle(...post("/publish", body, auth));
  assert.equal(res.status, 408);
  assert.match((await res.json()).error, /--handshake-timeout/);
  assert.equal(hub.totals().rejections.get("publish_too_slow"), 1);
});

Deno.test("runStdinSource() publishes each non-empty line, JSON as JSON, and refuses oversized lines", async () => {
  const { broker, sink } = hubWithClient();
  const records: Record<string, unknown>[] = [];
  const input = ReadableStream.from([
    '{"a":1}\nplain line\r\n',
    "\n",
    "x".repeat(50),
    "\nlast",
  ])
    .pipeThrough(new TextEncoderStream());
  const published = await runStdinSource(broker, {
    input,
    maxMessageBytes: 40,
    signal: new AbortController().signal,
    logger: { log: (r) => void records.push(r) },
  });
  assert.equal(published, 3);
  assert.deepEqual(sink.frames.map((f) => JSON.parse(f).data), [
    { a: 1 },
    "plain line",
    "last",
  ]);
  assert.ok(
    records.some((r) => r.type === "refused" && r.reason === "message_too_big"),
  );
  assert.ok(records.some((r) => r.type === "source_ended"));
});

Deno.test("runStdinSource() refuses a 256 MiB line as it streams in, holding none of it, and counts the limit in bytes", async () => {
  const { broker, sink } = hubWithClient();
  const records: Record<string, unknown>[] = [];
  const chunk = new Uint8Array(64 * 1024).fill(0x61); // the same buffer each time
  let sent = 0;
  let peak = 0;
  const base = Deno.memoryUsage();
  const input = new ReadableStream<Uint8Array>({
    pull(controller) {
      if (sent < 4096) {
        sent++;
        if (sent % 256 === 0) {
          const m = Deno.memoryUsage();
          peak = Math.max(
            peak,
            m.heapUsed + m.external - base.heapUsed - base.external,
          );
        }
        controller.enqueue(chunk);
        return;
      }
      // 400 characters, 1200 bytes: over a 1000-byte limit.
      controller.enqueue(
        new TextEncoder().encode(`\n${"€".repeat(400)}\nshort\n`),
      );
      controller.close();
    },
  }, { highWaterMark: 0 });
  const published = await runStdinSource(broker, {
    input,
    maxMessageBytes: 1000,
    signal: new AbortController().signal,
    logger: { log: (r) => void records.push(r) },
  });
  assert.equal(published, 1);
  assert.equal(JSON.parse(sink.frames.at(-1)!).data, "short");
  const refused = records.filter((r) => r.type === "refused").map((r) =>
    r.bytes
  );
  assert.deepEqual(refused, [256 * 1024 * 1024, 1200]);
  assert.ok(
    peak < 16 * 1024 * 1024,
    `heap and buffers grew ${
      (peak / 2 ** 20).toFixed(1)
    } MiB while 256 MiB streamed through`,
  );
});

Deno.test("messageFromText() extracts the conflation key from JSON objects only", () => {
  assert.equal(
    messageFromText('{"k":"a"}', { json: "try", conflateKey: "k" }).key,
    "a",
  );
  assert.equal(
    messageFromText('{"k":7}', { json: "try", conflateKey: "k" }).key,
    "7",
  );
  assert.equal(
    messageFromText('{"other":1}', { json: "try", conflateKey: "k" }).key,
    undefined,
  );
  assert.equal(
    messageFromText("not json", { json: "try", conflateKey: "k" }).dataJson,
    '"not json"',
  );
  assert.throws(
    () => messageFromText("not json", { json: "require" }),
    SyntaxError,
  );
});

Deno.test("HttpSource: the HTTP source is the only writer of its statistics — published, and refused when the broker cannot take them", async () => {
  const broker = new MemoryBroker({ maxChannels: 1 });
  const source = new HttpSource(broker, () => 42);
  assert.equal(source.stats.startedAt, 42);
  const body = { tsSend: 1, dataJson: "1" };
  await source.publish("a", [body, body]);
  await assert.rejects(source.publish("b", [body]), BrokerUnavailableError);
  assert.equal(source.stats.published, 2);
  assert.equal(source.stats.refused, 1);
});

Deno.test("POST /publish: Fanout-TTL-Ms and Fanout-Critical give every message its deadline and class; an NDJSON line's own fields win; a bad header is a 400", async () => {
  const published: unknown[] = [];
  const broker = {
    admits: () => true,
    publish: (channel: string, bodies: readonly unknown[]) => {
      published.push(...bodies);
      return Promise.resolve({ channel, epoch: "e", first: 1, last: 1 });
    },
  } as unknown as ConstructorParameters<typeof HttpSource>[0];
  const handle = createPublishHandler(new HttpSource(broker), {
    publishToken: TOKEN,
    maxBodyBytes: 1024,
  });
  const res = await handle(
    ...post("/publish", '{"a":1}\n{"a":2,"ttl_ms":9,"critical":false}\n', {
      ...auth,
      "content-type": "application/x-ndjson",
      "fanout-ttl-ms": "500",
      "fanout-critical": "1",
    }),
  );
  assert.equal(res.status, 200);
  const [one, two] = published as { ttlMs?: number; critical?: boolean }[];
  assert.equal(one?.ttlMs, 500);
  assert.equal(one?.critical, true);
  assert.equal(two?.ttlMs, 9, "the line's own ttl_ms wins");
  assert.equal(two?.critical, false, "…and its own critical");
  const bad = await handle(
    ...post("/publish", "x", { ...auth, "fanout-ttl-ms": "soon" }),
  );
  assert.equal(bad.status, 400);
  assert.match((await bad.json()).error, /Fanout-TTL-Ms must be/);
});

Deno.test("POST /publish with an Idempotency-Key publishes once: a retry answers the original position with duplicate: true; a bad key is a 400", async () => {
  const { broker, sink } = hubWithClient("prices");
  const handle = createPublishHandler(new HttpSource(broker), {
    publishToken: TOKEN,
    maxBodyBytes: 1024,
  });
  const send = (key: string, body = '{"px":1}') =>
    handle(...post("/publish?channel=prices", body, {
      ...auth,
      "content-type": "application/json",
      "idempotency-key": key,
    }));
  const first = await (await send("order-17")).json();
  const retry = await (await send("order-17")).json();
  const other = await (await send("order-18")).json();
  assert.equal(first.seq, 1);
  assert.equal(first.duplicate, undefined);
  assert.deepEqual(retry, { ...first, duplicate: true });
  assert.equal(other.seq, 2);
  assert.equal(sink.frames.length, 2, "the retry published nothing");
  const bad = await send("has space");
  assert.equal(bad.status, 400);
  assert.match((await bad.json()).error, /Idempotency-Key/);
});

Deno.test("MemoryBroker remembers an Idempotency-Key for --idempotency-window: a retry within it is a duplicate, one after it publishes again", async () => {
  let now = 0;
  const broker = new MemoryBroker({ idempotencyWindowS: 60, now: () => now });
  const body = [{ tsSend: 1, dataJson: "1" }];
  const key = { idempotencyKey: "order-1" };
  const first = await broker.publish("c", body, key);
  now = 59_000;
  const retry = await broker.publish("c", body, key);
  assert.equal(retry.duplicate, true);
  assert.equal(retry.first, first.first);
  now = 61_000;
  const late = await broker.publish("c", body, key);
  assert.equal(late.duplicate, undefined);
  assert.equal(late.first, first.first + 1);
});

Deno.test("POST /publish NDJSON with an idempotency_key on every line: each line once — a retry of the batch publishes only the new lines; mixing with the header, or a key on some lines only, is a 400", async () => {
  const { broker, sink } = hubWithClient("prices");
  const handle = createPublishHandler(new HttpSource(broker), {
    publishToken: TOKEN,
    maxBodyBytes: 4096,
  });
  const send = (body: string, headers: Record<string, string> = {}) =>
    handle(...post("/publish?channel=prices", body, {
      ...auth,
      "content-type": "application/x-ndjson",
      ...headers,
    }));
  const line = (key: string, px: number) =>
    JSON.stringify({ px, idempotency_key: key });
  const first = await (await send(`${line("a", 1)}\n${line("b", 2)}\n`))
    .json();
  assert.deepEqual(first.seqs, [1, 2]);
  assert.deepEqual(first.duplicates, []);
  const retry = await (await send(
    `${line("a", 1)}\n${line("b", 2)}\n${line("c", 3)}\n`,
  )).json();
  assert.deepEqual(retry.seqs, [1, 2, 3], "a and b keep their seqs");
  assert.deepEqual(retry.duplicates, [0, 1]);
  assert.equal(sink.frames.length, 3, "a and b were not published again");
  const some = await send(`${line("d", 4)}\n{"px":5}\n`);
  assert.equal(some.status, 400);
  assert.match((await some.json()).error, /every NDJSON line/);
  const both = await send(`${line("e", 6)}\n`, { "idempotency-key": "x" });
  assert.equal(both.status, 400);
  assert.equal(sink.frames.length, 3);
});
