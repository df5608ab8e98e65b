/**
 * SSE subscribers: the sink on its own (events, honest bufferedAmount, the
 * close event, the abort of a reader that stopped), then `GET /sse` on a
 * real server — data with `<epoch>:<seq>:<ts_send>` ids, resume with Last-Event-ID,
 * reset, admission as for WebSocket, shutdown — and isolation: a stalled
 * SSE reader is cut while fast SSE and WebSocket readers stay whole.
 */
import assert from "node:assert/strict";
import { SimClient } from "../client/mod.ts";
import { SSE_PATH } from "../server/http/paths.ts";
import { onServeError } from "../server/http/serve_error.ts";
import { SseEncoder } from "../server/http/sse_event.ts";
import { SseAbort, SseSink } from "../server/http/sse_sink.ts";
import { ReconnectPacer } from "../server/http/reconnect_pacer.ts";
import { parseRetryHint } from "../lib/retry_hint.ts";
import type { HubEvent, RunningServer, ServerOptions } from "../server/mod.ts";
import { withDeadline } from "./_cli.ts";
import { startTestServer, waitFor } from "./_helpers.ts";
import { SseReader } from "./_sse.ts";

const start = (o: Partial<ServerOptions>): RunningServer => startTestServer(o);
const sseUrl = (server: RunningServer, query = "") =>
  new URL(`${SSE_PATH}${query}`, server.httpUrl);

async function readRest(
  reader: ReadableStreamDefaultReader<Uint8Array>,
): Promise<string> {
  let text = "";
  for (let r = await reader.read(); !r.done; r = await reader.read()) {
    text += new TextDecoder().decode(r.value);
  }
  return text;
}

Deno.test("SseSink: frames become SSE events named by the seq and epoch they are handed with and their ts_send; bufferedAmount is what the reader has not pulled; close sends event: close, then the stream ends", async () => {
  let gone = 0;
  const sink = new SseSink({ onPeerGone: () => gone++, retryMs: 500 });
  sink.send(
    '{"type":"position","channel":"default","epoch":"E1","last_seq":4}',
    0,
    "",
  );
  // The position comes from what the caller hands over, not from the text.
  sink.send('{"seq":5,"ts_send":1,"payload_b64":""}', 5, "E1");
  const queued = sink.bufferedAmount;
  assert.ok(queued > 100, `${queued} bytes waiting, none pulled`);
  const reader = sink.stream.getReader();
  const first = new TextDecoder().decode((await reader.read()).value);
  assert.equal(sink.bufferedAmount, 0, "pulled: nothing waits here");
  assert.equal(
    first,
    "retry: 500\n\n" +
      'event: position\ndata: {"type":"position","channel":"default","epoch":"E1","last_seq":4}\n\n' +
      'id: E1:5:1\ndata: {"seq":5,"ts_send":1,"payload_b64":""}\n\n',
  );
  sink.send('{"seq":6,"ts_send":1,"payload_b64":""}', 6, "E1");
  sink.close(4000, "slow client");
  sink.send('{"seq":7,"ts_send":1,"payload_b64":""}', 7, "E1"); // after close: ignored
  const rest = await readRest(reader);
  assert.equal(
    rest,
    'event: close\ndata: {"type":"close","code":4000,"reason":"slow client"}\n\n',
    "what the reader had not pulled is discarded; the close comes next",
  );
  assert.equal(gone, 0, "our own close is not the peer going away");
});

Deno.test("SseEncoder: one server's sinks share each event's bytes; the id is the position the caller hands over and the frame's ts_send as written", () => {
  const encoder = new SseEncoder();
  const text = '{"seq":9,"ts_send":1733400000.123456,"payload_b64":""}';
  const a = encoder.encode(text, 4, "E2");
  assert.equal(
    new TextDecoder().decode(a),
    `id: E2:4:1733400000.123456\ndata: ${text}\n\n`,
    "the text is not read for the position",
  );
  assert.equal(encoder.encode(text, 4, "E2"), a, "encoded once, shared");
  assert.notEqual(
    encoder.encode(text, 4, "E3"),
    a,
    "another epoch, another id",
  );
});

Deno.test("SseSink: a reader that never takes its close is aborted with SseAbort; a reader that cancels is reported once", async () => {
  const sink = new SseSink({ onPeerGone: () => {}, closeGraceMs: 10 });
  sink.send('{"seq":1,"ts_send":1,"payload_b64":""}', 1, "E1");
  sink.close(4002, "stalled");
  assert.ok(sink.bufferedAmount > 0, "the close event waits");
  await waitFor("the abort", () => sink.bufferedAmount === 0);
  await assert.rejects(sink.stream.getReader().read(), SseAbort);

  let gone = 0;
  const other = new SseSink({ onPeerGone: () => gone++ });
  await other.stream.cancel();
  await other.stream.cancel().catch(() => {});
  other.close(1001, "late"); // after the reader left: nothing to do
  assert.equal(gone, 1);
});

Deno.test("onServeError: an SSE response aborted on purpose is not logged; any other error is, once; both answer JSON 500", async () => {
  const lines: string[] = [];
  const handle = onServeError({ log: (_r, human) => lines.push(human) });
  const quiet = handle(new SseAbort("reader did not take its close"));
  assert.equal(quiet.status, 500);
  assert.deepEqual(lines, []);
  const loud = handle(new TypeError("boom"));
  assert.equal(loud.status, 500);
  assert.deepEqual(await loud.json(), { error: "internal server error" });
  assert.deepEqual(lines, ["[error] TypeError: boom"]);
  await quiet.body?.cancel();
});

Deno.test("GET /sse: a position event, then data events with id <epoch>:<seq>:<ts_send>, consecutive; a session of the same hub", async () => {
  await using server = start({ rate: 100 });
  await using sse = await SseReader.open(sseUrl(server));
  assert.equal(sse.response.status, 200);
  assert.match(
    sse.response.headers.get("content-type")!,
    /^text\/event-stream/,
  );
  await waitFor("20 data events", () => sse.data().length >= 20);
  const epoch = server.broker.position("default").epoch;
  const [position] = sse.events;
  assert.equal(position?.event, "position");
  assert.equal(JSON.parse(position!.data).epoch, epoch);
  const data = sse.events.filter((e) => e.event === "message");
  const seqs = data.map((e) => JSON.parse(e.data).seq as number);
  assert.equal(seqs[0], JSON.parse(position!.data).last_seq + 1);
  seqs.forEach((s, i) => i > 0 && assert.equal(s, seqs[i - 1]! + 1));
  assert.deepEqual(
    data.map((e) => e.id),
    data.map((e) => {
      const f = JSON.parse(e.data);
      return `${epoch}:${f.seq}:${f.ts_send}`;
    }),
  );
  assert.equal(server.hub.size, 1);
});

Deno.test("GET /sse: Last-Event-ID resumes with a replay and no hole; an id from another epoch gets reset naming the current one", async () => {
  await using server = start({ rate: 200, history: 1000 });
  const epoch = await waitFor(
    "a stream",
    () =>
      server.source.published >= 50 && server.broker.position("default").epoch,
  );
  await using resumed = await SseReader.open(sseUrl(server), {
    "last-event-id": `${epoch}:10`,
  });
  await waitFor("a replay into live", () => resumed.data().length >= 100);
  const seqs = resumed.data().map((d) => d.seq as number);
  assert.equal(seqs[0], 11);
  seqs.forEach((s, i) => i > 0 && assert.equal(s, seqs[i - 1]! + 1));
  assert.deepEqual(resumed.named("gap"), []);

  await using other = await SseReader.open(sseUrl(server), {
    "last-event-id": "OLDEPOCH:10",
  });
  await waitFor("the reset", () => other.named("reset").length > 0);
  assert.equal(other.named("reset")[0]!.epoch, epoch);
});

Deno.test("GET /sse is admitted as a WebSocket is: credentials, origins, capacity, channel names, and a Last-Event-ID it did not send; all refusals JSON and counted", async (t) => {
  await using server = start({
    rate: 10,
    token: "sekrit",
    adminToken: "admin-sekrit",
    allowedOrigins: ["https://app.example"],
    maxClients: 1,
  });
  const refused = async (query: string, headers: Record<string, string>) => {
    const res = await fetch(sseUrl(server, query), { headers });
    assert.match(res.headers.get("content-type") ?? "", /^application\/json/);
    return { status: res.status, error: (await res.json()).error as string };
  };
  await t.step("401 without the token", async () => {
    const r = await refused("", {});
    assert.equal(r.status, 401);
    assert.match(r.error, /missing credentials/);
  });
  await t.step("403 from an origin not allowed", async () => {
    const r = await refused("?token=sekrit", {
      origin: "https://evil.example",
    });
    assert.equal(r.status, 403);
  });
  await t.step("400 for a bad channel name", async () => {
    const r = await refused("?token=sekrit&channel=../x", {});
    assert.equal(r.status, 400);
  });
  await t.step("400 for a Last-Event-ID this server never sends", async () => {
    const r = await refused("?token=sekrit", { "last-event-id": "12" });
    assert.equal(r.status, 400);
    assert.match(r.error, /<epoch>:<seq>:<ts_send>/);
    const ts = await refused("?token=sekrit", { "last-event-id": "E1:4:x" });
    assert.equal(ts.status, 400, "a ts_send that is not a number");
    assert.match(ts.error, /Last-Event-ID/);
  });
  // An allowed origin gets in, and is told so (CORS); it fills --max-clients.
  await using ok = await SseReader.open(sseUrl(server, "?token=sekrit"), {
    origin: "https://app.example",
  });
  assert.equal(ok.response.status, 200);
  assert.equal(
    ok.response.headers.get("access-control-allow-origin"),
    "https://app.example",
  );
  await waitFor("its position", () => ok.named("position").length > 0);
  await t.step("503 once --max-clients is reached", async () => {
    const r = await refused("?token=sekrit", {});
    assert.equal(r.status, 503);
    assert.match(r.error, /--max-clients/);
  });
  await t.step("SSE and WebSocket count together", async () => {
    const res = await fetch(new URL("/?token=sekrit", server.httpUrl), {
      headers: {
        upgrade: "websocket",
        connection: "Upgrade",
        "sec-websocket-key": "dGhlIHNhbXBsZSBub25jZQ==",
        "sec-websocket-version": "13",
      },
    });
    assert.equal(res.status, 503);
    await res.body?.cancel();
  });
  const rejections = server.hub.totals().rejections;
  assert.equal(rejections.get("unauthorized"), 1);
  assert.equal(rejections.get("bad_origin"), 1);
  assert.equal(rejections.get("server_full"), 2);
});

Deno.test("GET /sse: a reader that leaves ends its session (client_closed); shutdown sends event: close with 1001 and ends the stream", async () => {
  await using server = start({ rate: 100 });
  const events: HubEvent[] = [];
  server.hub.on((e) => events.push(e));
  const leaver = await SseReader.open(sseUrl(server));
  await waitFor("data", () => leaver.data().length > 0);
  await leaver[Symbol.asyncDispose]();
  await waitFor(
    "its session to end",
    () => events.some((e) => e.type === "disconnect"),
  );
  const end = events.find((e) => e.type === "disconnect");
  assert.equal(end?.type === "disconnect" && end.end.reason, "client_closed");

  await using stayer = await SseReader.open(sseUrl(server));
  await waitFor("data", () => stayer.data().length > 0);
  await server.stop();
  await stayer.done;
  assert.deepEqual(stayer.named("close").map((c) => c.code), [1001]);
  assert.equal(stayer.error, undefined, "ended cleanly");
});

Deno.test("SSE isolation: a stalled SSE reader is cut (4000) while a fast SSE reader and a fast WebSocket reader miss nothing", async () => {
  // 64 KiB payloads (87 KB frames) at 50 msg/s fill the stalled reader's
  // ~4 MB of loopback buffers in about a second; then its queue of 50 and
  // 20 drops cut it. Pings off: the cut must come from the drop limit. A
  // queue of 50 is a second of slack for the fast readers, who share this
  // process (and, in CI's busy pass, two cores with a CPU hog): with 10 (a
  // fifth of a second) a starved test process lost messages to them.
  await using server = start({
    rate: 50,
    payloadBytes: 64 * 1024,
    maxsize: 50,
    dropLimit: 20,
    fullTimeout: 3600,
    pingInterval: 0,
  });
  const events: HubEvent[] = [];
  server.hub.on((e) => events.push(e));
  await using fastSse = await SseReader.open(sseUrl(server));
  const stop = new AbortController();
  const ws = new SimClient(server.url, { id: "ws", signal: stop.signal });
  const wsRun = ws.run();
  // The stalled reader: raw TCP, reads the response head, then nothing.
  const conn = await Deno.connect({ hostname: "127.0.0.1", port: server.port });
  try {
    await conn.write(
      new TextEncoder().encode(
        `GET ${SSE_PATH} HTTP/1.1\r\nhost: 127.0.0.1\r\naccept: text/event-stream\r\n\r\n`,
      ),
    );
    const head = new Uint8Array(4096);
    assert.ok((await conn.read(head)) !== null);
    assert.match(new TextDecoder().decode(head), /^HTTP\/1\.1 200/);
    const stalledPort = (conn.localAddr as Deno.NetAddr).port;
    const cut = await waitFor(
      "the stalled SSE reader's cut",
      () =>
        events.find((e) =>
          e.type === "disconnect" &&
          e.subscriber.remote.endsWith(`:${stalledPort}`)
        ),
      30_000,
    );
    assert.equal(cut.type, "disconnect");
    if (cut.type !== "disconnect") return;
    // The fast readers keep going after it: 50 more messages each.
    const sseAt = fastSse.data().length;
    const wsAt = ws.snapshot().messages;
    await waitFor(
      "50 more messages for the fast readers",
      () =>
        fastSse.data().length >= sseAt + 50 &&
        ws.snapshot().messages >= wsAt + 50,
    );
    const seqs = fastSse.data().map((d) => d.seq as number);
    let sseGaps = 0;
    for (let i = 1; i < seqs.length; i++) {
      sseGaps += seqs[i]! - seqs[i - 1]! - 1;
    }
    const w = ws.snapshot();
    const fastDrops = [...server.hub.subscribers()].map((s) => s.drops);
    console.log(
      `sse isolation: stalled SSE reader cut with ${cut.end.code} ${cut.end.reason} ` +
        `after ${cut.subscriber.drops} drops ("${cut.end.detail}"); ` +
        `fast SSE ${seqs.length} messages, gaps ${sseGaps}; ` +
        `fast WebSocket ${w.messages} messages, gaps ${w.drops}; ` +
        `server drops for the fast ones ${fastDrops.join("/")}`,
    );
    assert.equal(cut.end.code, 4000);
    assert.equal(cut.end.reason, "slow_drops");
    assert.equal(sseGaps, 0, "the fast SSE reader missed nothing");
    assert.equal(w.drops, 0, "the fast WebSocket reader missed nothing");
    assert.deepEqual(fastDrops, [0, 0]);
    assert.deepEqual(w.closes, []);
    // Its close event sits behind the data in its buffers. Reading again,
    // it gets that event (if it reads within the grace period) or the
    // server has aborted the response and let go: never left hanging.
    const ending = await withDeadline(
      "the stalled reader's ending",
      (async () => {
        const buf = new Uint8Array(1 << 20);
        const dec = new TextDecoder();
        let tail = "";
        try {
          for (
            let n = await conn.read(buf);
            n !== null;
            n = await conn.read(buf)
          ) {
            tail = (tail + dec.decode(buf.subarray(0, n), { stream: true }))
              .slice(-300);
            const close = /event: close\ndata: (\{.*\})\n\n/.exec(tail);
            if (close) return `close event ${JSON.parse(close[1]!).code}`;
          }
        } catch { /* reset by the server */ }
        return "aborted by the server";
      })(),
    );
    console.log(
      `sse isolation: the stalled reader, reading again, got: ${ending}`,
    );
    assert.match(ending, /^(close event 4000|aborted by the server)$/);
  } finally {
    conn.close();
    stop.abort();
    await wsRun;
  }
});

Deno.test("SseSink: a close that invites a reconnect sends retry: with the pacer's hint and carries it in the close event; a terminal one does not", async () => {
  const pacer = new ReconnectPacer({ now: () => 0, random: () => 0 });
  for (
    const [code, hinted] of [[4000, true], [1012, true], [4100, false]] as const
  ) {
    const sink = new SseSink({ onPeerGone: () => {}, retryMs: 500, pacer });
    const reader = sink.stream.getReader();
    await reader.read(); // the opening retry: 500
    sink.close(code, "why");
    const rest = await readRest(reader);
    const close = JSON.parse(/^data: (.*)$/m.exec(rest)![1]!);
    assert.equal(close.code, code);
    if (!hinted) {
      assert.ok(!rest.includes("retry"), rest);
      continue;
    }
    const retry = Number(/^retry: (\d+)\n/.exec(rest)?.[1]);
    assert.ok(retry >= 250, rest);
    assert.equal(close.retry_in_ms, retry);
    assert.equal(parseRetryHint(close.reason), retry);
    assert.match(close.reason, /^why; /);
  }
});

Deno.test("GET /sse: a drain ends the stream with retry: set to the close's spread hint, and the close event carries it (1012)", async () => {
  await using server = start({ rate: 50, drainMs: 200 });
  const readers = await Promise.all(
    Array.from({ length: 3 }, () => SseReader.open(sseUrl(server))),
  );
  try {
    await waitFor("data", () => readers.every((r) => r.data().length > 0));
    await server.drain();
    await Promise.all(readers.map((r) => r.done));
    for (const r of readers) {
      assert.equal(r.error, undefined, "ended cleanly");
      const [close] = r.named("close");
      assert.equal(close?.code, 1012);
      const hint = close!.retry_in_ms as number;
      assert.ok(hint >= 250, `hint ${hint}`);
      assert.equal(parseRetryHint(close!.reason as string), hint);
      // EventSource takes the last retry: it saw before the stream ended.
      assert.equal(r.retries.at(-1), hint);
      assert.equal(r.retries[0], 1000, "the stream's opening retry");
    }
  } finally {
    for (const r of readers) await r[Symbol.asyncDispose]();
  }
});
