/**
 * Limits under concurrency, over real sockets on 127.0.0.1: capacity is
 * taken at admission, before anything is awaited, so concurrent upgrades
 * never overshoot `--max-clients`, `--max-channels` or `--max-replays`;
 * malformed upgrades are refused with 400 and counted.
 */
import assert from "node:assert/strict";
import { FanoutProcess, waitForListening } from "./_cli.ts";
import { ManualClient, startTestServer, waitFor } from "./_helpers.ts";

/** Opens `n` WebSockets at once; resolves with how each ended up (open, or the close code). */
async function openAtOnce(url: (i: number) => string, n: number) {
  const sockets = Array.from({ length: n }, (_, i) => new WebSocket(url(i)));
  const outcomes = await Promise.all(
    sockets.map((ws) =>
      new Promise<"open" | "refused">((resolve) => {
        ws.onopen = () => resolve("open");
        ws.onerror = () => resolve("refused");
      })
    ),
  );
  return { sockets, open: outcomes.filter((o) => o === "open").length };
}

async function closeSockets(sockets: WebSocket[]): Promise<void> {
  await Promise.all(sockets.map((ws) =>
    new Promise<void>((resolve) => {
      if (ws.readyState === WebSocket.CLOSED) return resolve();
      ws.onclose = () => resolve();
      ws.close();
    })
  ));
}

Deno.test("--max-clients holds under 50 concurrent upgrades against a limit of 5", async () => {
  // JWT checks await; a slot is taken before they run.
  await using server = startTestServer({ maxClients: 5, rate: 10 });
  const { sockets, open } = await openAtOnce(() => server.url, 50);
  try {
    assert.equal(open, 5, `${open} of 50 admitted`);
    assert.equal(server.hub.size, 5);
    assert.equal(server.hub.totals().rejections.get("server_full"), 45);
  } finally {
    await closeSockets(sockets);
  }
  await waitFor("the slots to come back", () => server.hub.size === 0);
  const again = await openAtOnce(() => server.url, 5);
  assert.equal(again.open, 5, "freed slots are usable again");
  await closeSockets(again.sockets);
});

Deno.test("--max-channels holds under 50 concurrent upgrades to new channels: 503, not an open-then-close", async () => {
  await using server = startTestServer({ maxChannels: 5, rate: 10 });
  // The synthetic source holds the default channel: 4 more fit.
  const { sockets, open } = await openAtOnce(
    (i) => `${server.url}?channel=c${i}`,
    50,
  );
  try {
    assert.equal(open, 4, `${open} of 50 channels opened`);
    const t = server.hub.totals();
    assert.equal(t.rejections.get("too_many_channels"), 46);
    assert.equal(
      t.disconnects.get("channel_limit") ?? 0,
      0,
      "none admitted then closed",
    );
  } finally {
    await closeSockets(sockets);
  }
});

Deno.test("--max-replays bounds the ?since= replays in progress; a finished replay frees its slot", async () => {
  await using server = startTestServer({
    rate: 1000,
    history: 100_000,
    maxReplays: 2,
    payloadBytes: 4096,
    // The resumers pause reading: keep them while they do.
    dropLimit: 1_000_000_000,
    fullTimeout: 3600,
    maxLag: 0,
  });
  // ~11 MB of history: more than socket buffers absorb.
  await waitFor("history", () => server.source.published >= 2000, 20_000);
  // Two resumers that do not read: their replays stay in progress.
  await using a = new ManualClient(`${server.url}?since=1`);
  await using b = new ManualClient(`${server.url}?since=1`);
  await a.open();
  await b.open();
  const third = new WebSocket(`${server.url}?since=1`);
  const refused = await new Promise<boolean>((resolve) => {
    third.onopen = () => resolve(false);
    third.onerror = () => resolve(true);
  });
  if (!refused) third.close();
  assert.ok(refused, "the third concurrent replay is refused");
  assert.equal(server.hub.totals().rejections.get("too_many_replays"), 1);
  // A live subscriber (no since=) is not a replay.
  await using live = new ManualClient(server.url);
  await live.open();
  await live.read();
  // Reading a's replay to its end frees its slot.
  const top = server.broker.position("default").seq;
  while (true) {
    const frame = JSON.parse(String(await a.read()));
    if (typeof frame.seq === "number" && frame.seq >= top) break;
  }
  await using c = new ManualClient(`${server.url}?since=1`);
  await c.open();
  assert.equal(
    JSON.parse(String(await c.read())).type,
    "position",
    "a new resumer gets in",
  );
});

Deno.test("malformed upgrades get 400 with a JSON reason, counted, and no stack trace on stderr", async () => {
  await using proc = FanoutProcess.server([
    "--log-json",
    "--summary-interval",
    "3600",
  ]);
  const { port } = await waitForListening(proc);
  const base = {
    upgrade: "websocket",
    connection: "Upgrade",
    "sec-websocket-key": "dGhlIHNhbXBsZSBub25jZQ==",
    "sec-websocket-version": "13",
  };
  const cases: [string, Record<string, string | undefined>, RegExp][] = [
    [
      "no key",
      { "sec-websocket-key": undefined },
      /Sec-WebSocket-Key header is missing/,
    ],
    ["bad key", { "sec-websocket-key": "short" }, /16 bytes in base64/],
    [
      "no Connection: Upgrade",
      { connection: "keep-alive" },
      /Connection header must include Upgrade/,
    ],
    ["wrong version", { "sec-websocket-version": "8" }, /Version must be 13/],
  ];
  for (const [name, change, reason] of cases) {
    const headers = Object.fromEntries(
      Object.entries({ ...base, ...change }).filter(([, v]) => v !== undefined),
    ) as Record<string, string>;
    const res = await fetch(`http://127.0.0.1:${port}/`, { headers });
    assert.equal(res.status, 400, name);
    assert.match(res.headers.get("content-type") ?? "", /json/, name);
    assert.match((await res.json()).error, reason, name);
  }
  const metrics = await (await fetch(`http://127.0.0.1:${port}/metrics`))
    .text();
  assert.match(metrics, /^fanout_rejections_total\{reason="bad_upgrade"\} 4$/m);
  proc.kill("SIGTERM");
  assert.equal((await proc.exit()).code, 0);
  assert.equal(proc.stderr.text, "", "nothing on stderr");
});
