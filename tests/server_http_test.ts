/**
 * The HTTP side of the server on 127.0.0.1, port 0: `/metrics` (checked by
 * the real `promtool` where installed), `/healthz`, `/readyz`, the
 * dashboard's files and the router's answers to everything else.
 */
import assert from "node:assert/strict";
import { SimClient } from "../client/mod.ts";
import { readyz } from "../server/observe/health.ts";
import type { HubEvent, RunningServer, ServerOptions } from "../server/mod.ts";
import { ManualClient, startTestServer, waitFor } from "./_helpers.ts";
import { PROMTOOL, reportSkip } from "./_tools.ts";

const start = (overrides: Partial<ServerOptions>): RunningServer =>
  startTestServer(overrides);

async function get(server: RunningServer, path: string, init?: RequestInit) {
  const res = await fetch(new URL(path, server.httpUrl), init);
  return { res, text: await res.text() };
}

/** The value of the series `name{labels}` (labels as written), or undefined. */
function sample(text: string, series: string): number | undefined {
  for (const line of text.split("\n")) {
    if (line.startsWith(series + " ")) {
      return Number(line.slice(series.length + 1));
    }
  }
  return undefined;
}

Deno.test("GET /metrics counts messages, deliveries, drops and disconnects by reason while a slow client is cut off", async () => {
  await using server = start({
    mode: "queue",
    rate: 100,
    payloadBytes: 65536,
    maxsize: 10,
    dropLimit: 20,
    fullTimeout: 3600,
  });
  const events: HubEvent[] = [];
  server.hub.on((e) => events.push(e));
  const stop = new AbortController();
  const fast = new SimClient(server.url, { id: "fast", signal: stop.signal });
  fast.run();
  await fast.firstAttempt;
  await using stalled = new ManualClient(server.url);
  await stalled.open();
  await stalled.read(); // then stop reading
  await waitFor(
    "the drop-limit disconnect",
    () =>
      events.some((e) =>
        e.type === "disconnect" && e.end.reason === "slow_drops"
      ),
    30_000,
  );
  await waitFor(
    "ACKs from the fast client",
    () => fast.snapshot().acksSent > 10,
  );
  const { res, text } = await get(server, "/metrics");
  assert.equal(res.status, 200);
  assert.match(
    res.headers.get("content-type") ?? "",
    /^text\/plain; version=0\.0\.4/,
  );
  assert.equal(sample(text, 'fanout_info{mode="queue",broker="memory"}'), 1);
  assert.equal(sample(text, "fanout_clients"), 1);
  assert.ok(sample(text, "fanout_messages_published_total")! > 0);
  assert.ok(sample(text, "fanout_deliveries_total")! > 0);
  assert.ok(sample(text, 'fanout_drops_total{reason="queue_full"}')! > 20);
  assert.ok(sample(text, 'fanout_drops_total{reason="disconnected"}')! >= 0);
  assert.equal(
    sample(text, 'fanout_disconnects_total{reason="slow_drops",code="4000"}'),
    1,
  );
  assert.equal(
    sample(text, 'fanout_disconnects_total{reason="shutdown",code="1001"}'),
    0,
  );
  assert.ok(sample(text, "fanout_e2e_latency_seconds_count")! > 0);
  assert.ok(sample(text, 'fanout_send_latency_seconds_bucket{le="+Inf"}')! > 0);
  assert.ok(sample(text, "fanout_process_resident_memory_bytes")! > 1e6);
  for (
    const gauge of [
      "fanout_queued_messages",
      "fanout_buffered_bytes",
      "fanout_publisher_lag_seconds",
      "fanout_publisher_behind_messages",
      "fanout_event_loop_lag_seconds",
    ]
  ) {
    assert.ok(sample(text, gauge)! >= 0, gauge);
  }
  assert.doesNotMatch(
    text,
    /fanout_client_/,
    "no per-client series without the flag",
  );
  stop.abort();
  await fast.stop();
});

Deno.test({
  name:
    "GET /metrics passes `promtool check metrics`, per-client series included",
  ignore: PROMTOOL.missing !== undefined,
  async fn() {
    await using server = start({ rate: 200, metricsPerClient: true });
    const stop = new AbortController();
    const client = new SimClient(server.url, { id: "a", signal: stop.signal });
    client.run();
    await waitFor("ACKs", () => server.hub.totals().acks > 20);
    const { text } = await get(server, "/metrics");
    stop.abort();
    await client.stop();
    assert.match(
      text,
      /^fanout_client_queued_messages\{client="c1",remote="127\.0\.0\.1:\d+"\} \d+$/m,
    );
    assert.match(text, /^fanout_client_deliveries_total\{client="c1",/m);
    const promtool = new Deno.Command(PROMTOOL.path!, {
      args: ["check", "metrics"],
      stdin: "piped",
      stdout: "piped",
      stderr: "piped",
    }).spawn();
    const writer = promtool.stdin.getWriter();
    await writer.write(new TextEncoder().encode(text));
    await writer.close();
    const out = await promtool.output();
    const said = new TextDecoder().decode(out.stdout) +
      new TextDecoder().decode(out.stderr);
    assert.equal(out.code, 0, `promtool said:\n${said}`);
    assert.equal(said.trim(), "", "promtool found nothing to lint");
  },
});
reportSkip("promtool test", PROMTOOL);

Deno.test("GET /healthz and /readyz answer JSON; /readyz says 503 and why once the server stops accepting", async () => {
  await using server = start({ rate: 50 });
  const health = await get(server, "/healthz");
  assert.equal(health.res.status, 200);
  assert.match(
    health.res.headers.get("content-type") ?? "",
    /^application\/json/,
  );
  assert.equal(JSON.parse(health.text).status, "ok");
  await waitFor("a published message", () => server.source.published > 0);
  const ready = await get(server, "/readyz");
  assert.equal(ready.res.status, 200);
  const body = JSON.parse(ready.text);
  assert.equal(body.status, "ready");
  assert.equal(body.accepting, true);
  assert.equal(body.publishing, true);
  assert.equal(body.mode, "queue");
  assert.ok(body.published_total > 0);
  const stopping = readyz({
    hub: server.hub,
    source: server.source,
    startedAt: 0,
    state: () => ({ accepting: false }),
  });
  assert.equal(stopping.status, 503);
  const why = await stopping.json();
  assert.equal(why.status, "not_ready");
  assert.equal(why.accepting, false);
});

Deno.test("the router serves the dashboard on a plain GET /, its files, and keeps 426 on /ws, 404 and 405", async () => {
  await using server = start({ rate: 10 });
  const page = await get(server, "/");
  assert.equal(page.res.status, 200);
  assert.match(page.res.headers.get("content-type") ?? "", /^text\/html/);
  assert.match(page.text, /<script src="\/dashboard\/uplot\.js"><\/script>/);
  const uplot = await get(server, "/dashboard/uplot.js");
  assert.match(uplot.res.headers.get("content-type") ?? "", /javascript/);
  assert.match(uplot.text, /uPlot/);
  assert.ok(uplot.text.length > 20_000, "the real uPlot bundle from npm");
  for (
    const path of [
      "/dashboard/app.js",
      "/dashboard/charts.js",
      "/dashboard/app.css",
      "/dashboard/uplot.css",
    ]
  ) {
    assert.equal((await get(server, path)).res.status, 200, path);
  }
  assert.equal((await get(server, "/ws")).res.status, 426);
  assert.equal((await get(server, "/nope")).res.status, 404);
  const post = await get(server, "/metrics", { method: "POST", body: "x" });
  assert.equal(post.res.status, 405);
  assert.equal(post.res.headers.get("allow"), "GET, HEAD");
});

Deno.test("every refusal is JSON {error}: 404, 405 and 426 as much as 400, 401 and 503", async (t) => {
  await using off = start({ rate: 10 });
  await using http = start({ source: "http", publishToken: "p" });
  const cases: [string, RunningServer, string, RequestInit, number, RegExp][] =
    [
      ["426 on a plain GET /ws", off, "/ws", {}, 426, /WebSocket client/],
      ["404 on an unknown path", off, "/nope", {}, 404, /not found: \/nope/],
      [
        "404 on /publish with the HTTP source off",
        off,
        "/publish",
        {
          method: "POST",
          body: "x",
        },
        404,
        /--source http/,
      ],
      [
        "405 on POST /metrics",
        off,
        "/metrics",
        {
          method: "POST",
          body: "x",
        },
        405,
        /method POST not allowed/,
      ],
      ["405 on GET /publish", http, "/publish", {}, 405, /use POST/],
      [
        "401 on POST /publish without the token",
        http,
        "/publish",
        {
          method: "POST",
          body: "x",
        },
        401,
        /publish token/,
      ],
    ];
  for (const [name, server, path, init, status, error] of cases) {
    await t.step(name, async () => {
      const { res, text } = await get(server, path, init);
      assert.equal(res.status, status);
      assert.match(res.headers.get("content-type") ?? "", /^application\/json/);
      assert.match(JSON.parse(text).error, error);
    });
  }
});

Deno.test("GET /healthz counts uptime from the server's start whatever the source (not only the synthetic one)", async () => {
  await using server = start({ source: "http", publishToken: "p" });
  const health = await waitFor("a positive uptime", async () => {
    const body = JSON.parse((await get(server, "/healthz")).text);
    return body.uptime_seconds > 0 && body;
  }, 2000);
  assert.equal(health.status, "ok");
});
