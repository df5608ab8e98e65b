/**
 * `--max-connect-rate`: the token bucket (injected clock), and over real
 * sockets the 503 with `Retry-After` beyond it, and SDK clients that obey
 * the hint and all get in, paced.
 */
import assert from "node:assert/strict";
import { ConnectRate } from "../server/http/connect_rate.ts";
import { FanoutClient, type FanoutCloseEvent } from "../sdk/mod.ts";
import { startTestServer, waitFor } from "./_helpers.ts";

Deno.test("ConnectRate: a burst of perSec, then one token per 1/perSec, never more than the burst; 0 is no limit", () => {
  let t = 0;
  const bucket = new ConnectRate({ perSec: 10, now: () => t });
  let taken = 0;
  while (bucket.take()) taken++;
  assert.equal(taken, 10);
  assert.equal(bucket.waitMs(), 100);
  t = 250;
  assert.ok(bucket.take() && bucket.take());
  assert.equal(bucket.take(), false);
  t = 60_000;
  taken = 0;
  while (bucket.take()) taken++;
  assert.equal(taken, 10, "the burst caps what a quiet minute saves");
  const open = new ConnectRate({ perSec: 0 });
  assert.equal(open.limited, false);
  for (let i = 0; i < 1000; i++) assert.ok(open.take());
});

Deno.test("--max-connect-rate: beyond the bucket a plain upgrade gets 503 with Retry-After, SDK clients get 4503 with a hint they obey, and all get in", async () => {
  await using server = startTestServer({ rate: 20, maxConnectRate: 2 });
  const upgrade = () =>
    fetch(new URL("/", server.httpUrl), {
      headers: {
        upgrade: "websocket",
        connection: "Upgrade",
        "sec-websocket-version": "13",
        "sec-websocket-key": "ZmFub3V0LXJhdGUtdGVzdA==",
      },
    });
  // Take the bucket's two tokens with upgrades that succeed (101), then one more.
  const statuses: number[] = [];
  const retryAfter: (string | null)[] = [];
  for (let i = 0; i < 3; i++) {
    const res = await upgrade();
    statuses.push(res.status);
    retryAfter.push(res.headers.get("retry-after"));
    await res.body?.cancel();
  }
  assert.equal(statuses.at(-1), 503, String(statuses));
  assert.ok(Number(retryAfter.at(-1)) >= 1);

  const closes: FanoutCloseEvent[] = [];
  const clients = Array.from({ length: 4 }, () => {
    const c = new FanoutClient(server.url, { backoff: { initialMs: 10 } });
    c.on("close", (e) => closes.push(e));
    return c.start();
  });
  try {
    await waitFor("four clients in", () => server.hub.size === 4, 30_000);
    const refused = closes.filter((c) => c.code === 4503);
    assert.ok(refused.length > 0, "some were refused first");
    for (const c of refused) {
      assert.match(c.reason, /--max-connect-rate/);
      assert.ok(c.hintMs! >= 1000 && c.retryInMs! >= c.hintMs!);
    }
  } finally {
    for (const c of clients) c.close();
  }
});
