/**
 * The client side in a real browser (headless Chromium): the README's
 * two-command path — `fanout server --static examples/`, then
 * `/ticker.html` — showing ticks; the SDK from `/client.js` resuming after a
 * server-side cut with no hole and no duplicate; and a plain `EventSource`
 * on `/sse` receiving data and resuming by itself with `Last-Event-ID`.
 * Skipped, with one line saying why, where Chromium is missing.
 */
import assert from "node:assert/strict";
import { FanoutProcess, waitForListening } from "./_cli.ts";
import { startTestServer, waitFor } from "./_helpers.ts";
import { launchChromium, waitForText, waitInPage } from "./_browser.ts";
import { CHROMIUM, reportSkip } from "./_tools.ts";

reportSkip("browser tests (ticker, SDK, EventSource)", CHROMIUM);

/** Holes and duplicates in a run of seqs that should be consecutive. */
function holesAndDuplicates(seqs: readonly number[]) {
  let holes = 0;
  let duplicates = 0;
  for (let i = 1; i < seqs.length; i++) {
    const step = seqs[i]! - seqs[i - 1]!;
    if (step <= 0) duplicates++;
    else holes += step - 1;
  }
  return { holes, duplicates };
}

Deno.test({
  name:
    "in Chromium: the example ticker served by --static examples/ shows ticks; the SDK from /client.js resumes a cut with no hole; EventSource on /sse resumes with Last-Event-ID",
  ignore: CHROMIUM.missing !== undefined,
  async fn(t) {
    await using browser = await launchChromium({ width: 1000, height: 800 });
    const page = await browser.context.newPage();
    const errors: string[] = [];
    page.on("pageerror", (e) => errors.push(String(e)));

    await t.step(
      "the README's path: fanout server --static examples/, then /ticker.html",
      async () => {
        await using server = new FanoutProcess([
          "server",
          "--static",
          "examples/",
          "--host",
          "127.0.0.1",
          "--port",
          "0",
          "--log-json",
        ]);
        const { port } = await waitForListening(server);
        await page.goto(`http://127.0.0.1:${port}/ticker.html`);
        await waitForText(
          page,
          "the connection open",
          "#status",
          (s) => s === "open",
        );
        const count = Number(
          await waitForText(page, "20 ticks", "#count", (c) => Number(c) >= 20),
        );
        assert.ok(count >= 20);
        assert.match(await page.textContent("#last") ?? "", /^\d+$/);
        assert.match(await page.textContent("#latency") ?? "", /^\d+ ms$/);
        assert.ok(await page.locator("#ticks li").count() > 0, "tick lines");
        assert.deepEqual(errors, []);
        server.kill("SIGTERM");
        assert.equal((await server.exit()).code, 0);
      },
    );

    await using server = startTestServer({ rate: 200, history: 1000 });
    await page.goto(`${server.httpUrl}healthz`); // an origin to run scripts in

    await t.step(
      "the SDK from /client.js: a cut (4002) mid-stream, then every message once",
      async () => {
        await page.evaluate(async () => {
          // deno-lint-ignore no-explicit-any
          const w = globalThis as any;
          const { FanoutClient } = await import("/client.js");
          w.seqs = [];
          w.closes = [];
          w.client = new FanoutClient("/", { backoff: { initialMs: 20 } });
          w.client.on("message", (m: { seq: number }) => w.seqs.push(m.seq));
          w.client.on("close", (e: { code: number }) => w.closes.push(e.code));
          w.client.start();
        });
        // deno-lint-ignore no-explicit-any
        const seen = () => (globalThis as any).seqs.length as number;
        await waitInPage(page, "50 messages", seen, (n) => n >= 50);
        for (const s of server.hub.sessions) {
          server.hub.close(s, "ping_timeout", "test cut");
        }
        await waitInPage(page, "150 messages", seen, (n) => n >= 150);
        const { seqs, closes, connects } = await page.evaluate(() => {
          // deno-lint-ignore no-explicit-any
          const w = globalThis as any;
          w.client.close();
          return {
            seqs: w.seqs,
            closes: w.closes,
            connects: w.client.stats.connects,
          };
        });
        const { holes, duplicates } = holesAndDuplicates(seqs);
        console.log(
          `sdk in chromium: ${seqs.length} messages, ${connects} connections, holes ${holes}, duplicates ${duplicates}`,
        );
        assert.equal(holes, 0);
        assert.equal(duplicates, 0);
        assert.equal(connects, 2);
        assert.equal(closes[0], 4002);
      },
    );

    await t.step(
      "EventSource on /sse: data with <epoch>:<seq>:<ts_send> ids, then a cut, and EventSource's own reconnect resumes with no hole",
      async () => {
        await waitFor("the SDK's session gone", () => server.hub.size === 0);
        await page.evaluate(() => {
          // deno-lint-ignore no-explicit-any
          const w = globalThis as any;
          w.sse = { seqs: [], ids: [], named: [], positions: 0, closes: [] };
          const es = new EventSource("/sse");
          w.es = es;
          es.onmessage = (e) => {
            const f = JSON.parse(e.data);
            w.sse.seqs.push(f.seq);
            w.sse.ids.push(e.lastEventId);
            w.sse.named.push(`${f.seq}:${f.ts_send}`);
          };
          es.addEventListener("position", () => w.sse.positions++);
          es.addEventListener(
            "close",
            (e) => w.sse.closes.push(JSON.parse((e as MessageEvent).data).code),
          );
        });
        // deno-lint-ignore no-explicit-any
        const count = () => (globalThis as any).sse.seqs.length as number;
        // deno-lint-ignore no-explicit-any
        const positions = () => (globalThis as any).sse.positions as number;
        await waitInPage(page, "50 SSE messages", count, (n) => n >= 50);
        assert.equal(server.hub.size, 1);
        for (const s of server.hub.sessions) {
          server.hub.close(s, "ping_timeout", "test cut");
        }
        await waitInPage(page, "the reconnect", positions, (n) => n >= 2);
        const at = await page.evaluate(count);
        await waitInPage(page, "100 more", count, (n) => n >= at + 100);
        const got = await page.evaluate(() => {
          // deno-lint-ignore no-explicit-any
          const w = globalThis as any;
          w.es.close();
          return w.sse;
        });
        const { holes, duplicates } = holesAndDuplicates(got.seqs);
        const epoch = server.broker.position("default").epoch;
        console.log(
          `eventsource in chromium: ${got.seqs.length} messages over ${got.positions} connections, holes ${holes}, duplicates ${duplicates}, close events ${
            got.closes.join(",")
          }`,
        );
        assert.equal(holes, 0);
        assert.equal(duplicates, 0);
        assert.deepEqual(got.closes, [4002]);
        assert.deepEqual(
          got.ids,
          got.named.map((n: string) => `${epoch}:${n}`),
        );
      },
    );
    assert.deepEqual(errors, []);
  },
});
