/**
 * The dashboard in a real browser: headless Chromium (Debian's `chromium`)
 * driven by playwright-core from npm. The page must show clients arriving, a
 * stalled client's drops rising and its disconnect in the log, then it is
 * photographed. Skipped, with one line saying why, where Chromium is
 * missing; `.ci/run` installs it.
 *
 * The screenshot goes to a temporary directory; with
 * `FANOUT_UPDATE_SCREENSHOT=1` (`deno task screenshot`) it replaces
 * `docs/dashboard.png`, the picture in the README. With
 * `FANOUT_SCREENSHOT_DIR=DIR` every screenshot is also kept in DIR.
 *
 * A second test holds the dashboard to what it claims: a batching client
 * that keeps up is "ok", the dropped card says what it counts and agrees
 * with the log, a client that reconnects with the same `?client=` id is
 * recognisable, and the time-axis labels do not overlap.
 */
import assert from "node:assert/strict";
import { SimClient } from "../client/mod.ts";
import {
  type HubEvent,
  resolveServerConfig,
  startServer,
} from "../server/mod.ts";
import { REPO_ROOT } from "./_cli.ts";
import { ManualClient, waitFor } from "./_helpers.ts";
import { CHROMIUM, reportSkip } from "./_tools.ts";
import { launchChromium, waitForText, waitInPage } from "./_browser.ts";

const README_SCREENSHOT = new URL("docs/dashboard.png", REPO_ROOT);

/** Copies `png` to `$FANOUT_SCREENSHOT_DIR/name` when that is set. */
async function keep(name: string, png: Uint8Array): Promise<void> {
  const dir = Deno.env.get("FANOUT_SCREENSHOT_DIR");
  if (!dir) return;
  await Deno.mkdir(dir, { recursive: true });
  await Deno.writeFile(`${dir}/${name}`, png);
  console.log(`kept screenshot: ${dir}/${name}`);
}

/** `1,234` → 1234. */
const drops = (text: string) => Number(text.replace(/\D/g, ""));

Deno.test({
  name:
    "the dashboard shows clients arriving, a stalled client's drops rising and its disconnect, in headless Chromium",
  ignore: CHROMIUM.missing !== undefined,
  async fn() {
    // 32 KiB payloads at 50 msg/s fill a stalled client's ~4 MB of loopback
    // socket buffers in about 2 s; --drop-limit 100 then keeps it
    // dropping for about 2 s, long enough for the 1 s feed to show it.
    await using server = startServer(
      resolveServerConfig({
        host: "127.0.0.1",
        port: 0,
        mode: "queue",
        rate: 50,
        payloadBytes: 32 * 1024,
        maxsize: 10,
        dropLimit: 100,
        fullTimeout: 3600,
        summaryInterval: 3600,
      }),
      { logger: { log() {} } },
    );
    const events: HubEvent[] = [];
    server.hub.on((e) => events.push(e));
    await using browser = await launchChromium();
    const { context, profile } = browser;
    const stop = new AbortController();
    const fast: SimClient[] = [];
    try {
      const page = await context.newPage();
      await page.goto(server.httpUrl);
      await waitForText(
        page,
        "the live feed",
        "#conn",
        (t) => t.includes("live"),
      );
      await waitForText(page, "no clients", "#clients", (t) => t === "0");

      for (let i = 0; i < 4; i++) {
        const c = new SimClient(server.url, {
          id: `fast-${i}`,
          signal: stop.signal,
        });
        fast.push(c);
        c.run();
      }
      await waitForText(
        page,
        "the client count rise to 4",
        "#clients",
        (t) => t === "4",
      );

      const fastIds = new Set([...server.hub.sessions].map((s) => s.id));
      await using stalled = new ManualClient(server.url);
      await stalled.open();
      await stalled.read(); // then it stops reading
      const slowId = (await waitFor(
        "the stalled client's session",
        () => [...server.hub.sessions].find((s) => !fastIds.has(s.id)),
      )).id;
      const row = `#clients-table tr[data-id="${slowId}"]`;
      const first = drops(
        await waitForText(
          page,
          "drops for the stalled client",
          `${row} td.drops`,
          (t) => drops(t) > 0,
        ),
      );
      await waitForText(
        page,
        "its drops rising",
        `${row} td.drops`,
        (t) => drops(t) > first,
      );
      assert.equal(
        await page.textContent("#clients-table tbody tr:first-child td.id"),
        slowId,
        "the worst client is listed first",
      );
      assert.equal(await page.textContent(`${row} .state`), "dropping");

      const logged = await waitForText(
        page,
        "the disconnect in the log",
        `#log-table tr[data-id="${slowId}"]`,
        (t) => t.includes("4000") && t.includes("slow_drops"),
      );
      assert.match(logged, /over --drop-limit 100/);
      await waitForText(
        page,
        "the client count fall back to 4",
        "#clients",
        (t) => t === "4",
      );
      assert.ok(
        await page.locator("#chart-e2e canvas").count() > 0,
        "the latency chart is drawn",
      );
      assert.match(
        await page.textContent("#e2e-p99") ?? "",
        /\d/,
        "an e2e p99 from the ACKs",
      );

      // A second stalled client, photographed while it drops: the picture
      // shows one slow client being isolated and the previous one's disconnect.
      await using stalled2 = new ManualClient(server.url);
      await stalled2.open();
      await stalled2.read();
      const slow2 = (await waitFor(
        "the second stalled client's session",
        () => [...server.hub.sessions].find((s) => !fastIds.has(s.id)),
      )).id;
      await waitForText(
        page,
        "the second stalled client dropping",
        `#clients-table tr[data-id="${slow2}"] .state`,
        (t) => t === "dropping",
      );

      const shot = Deno.env.get("FANOUT_UPDATE_SCREENSHOT") === "1"
        ? README_SCREENSHOT
        : new URL(`file://${profile}/dashboard.png`);
      await Deno.mkdir(new URL(".", shot), { recursive: true });
      await page.screenshot({ path: shot.pathname, fullPage: true });
      const png = await Deno.readFile(shot);
      assert.deepEqual(
        [...png.subarray(0, 4)],
        [0x89, 0x50, 0x4e, 0x47],
        "a PNG",
      );
      assert.ok(png.length > 20_000, `a real picture (${png.length} bytes)`);
      await keep("dashboard.png", png);
      console.log(
        `dashboard screenshot: ${shot.pathname} (${png.length} bytes)`,
      );
    } finally {
      stop.abort();
      await Promise.all(fast.map((c) => c.stop()));
    }
  },
});
Deno.test({
  name:
    "the dashboard tells the truth: a batching client that keeps up is ok, the dropped card agrees with the log, a reconnecting client keeps its id, time labels do not overlap",
  ignore: CHROMIUM.missing !== undefined,
  async fn() {
    await using server = startServer(
      resolveServerConfig({
        host: "127.0.0.1",
        port: 0,
        mode: "queue",
        rate: 50,
        payloadBytes: 32 * 1024,
        maxsize: 10,
        dropLimit: 20,
        fullTimeout: 3600,
        summaryInterval: 3600,
      }),
      { logger: { log() {} } },
    );
    await using browser = await launchChromium();
    const page = await browser.context.newPage();
    await page.setViewportSize({ width: 1280, height: 1000 });
    await page.goto(server.httpUrl);
    await waitForText(
      page,
      "the live feed",
      "#conn",
      (t) => t.includes("live"),
    );
    const sockets: WebSocket[] = [];
    const open = (query: string) => {
      const ws = new WebSocket(`${server.url}?${query}`);
      ws.onmessage = () => {}; // reads everything: keeps up
      sockets.push(ws);
      return new Promise<WebSocket>((resolve, reject) => {
        ws.onopen = () => resolve(ws);
        ws.onerror = () => reject(new Error(`cannot open ?${query}`));
      });
    };
    const closed = (ws: WebSocket) =>
      new Promise<void>((resolve) => {
        if (ws.readyState === WebSocket.CLOSED) resolve();
        ws.onclose = () => resolve();
        ws.close();
      });
    try {
      // A batching client that keeps up: between two flushes it always has
      // something queued, which must not make it "backlogged".
      await open("batch=1&client=batcher-1");
      const batcher = (await waitFor(
        "the batching client's session",
        () => [...server.hub.sessions][0],
      )).id;
      const row = `#clients-table tr[data-id="${batcher}"]`;
      await waitForText(
        page,
        "the batcher's row",
        `${row} td.remote`,
        (t) => t.includes("client batcher-1"),
      );
      // Five feed ticks (the sent count moves each tick): ok at every one.
      let sent = -1;
      for (let tick = 0; tick < 5; tick++) {
        const now = drops(
          await waitForText(page, "the batcher's next tick", `${row} td.sent`, (
            t,
          ) => drops(t) > sent),
        );
        sent = now;
        // Never "backlogged" for waiting on its batch; "ok" whenever it lost
        // nothing (on a starved machine the server may shed for it too, and
        // then "dropping" is the truth).
        const state = await page.textContent(`${row} .state`);
        assert.notEqual(state, "backlogged", `tick ${tick}`);
        if (drops(await page.textContent(`${row} td.drops`) ?? "0") === 0) {
          assert.equal(state, "ok", `tick ${tick}`);
        }
      }

      // A client that reconnects with its id is recognisable as itself.
      const first = await open("client=same-client-7");
      await waitFor("its first session", () => server.hub.sessions.size === 2);
      await closed(first);
      await waitFor(
        "its first session closed",
        () => server.hub.sessions.size === 1,
      );
      await open("client=same-client-7");
      await waitFor("its second session", () => server.hub.sessions.size === 2);
      const again = `#clients-table td.remote`;
      await waitForText(
        page,
        "the reconnected client's row",
        again,
        () => true,
      );
      await waitFor(
        "the reconnected client named in the table",
        async () =>
          (await page.locator("#clients-table td.remote").allTextContents())
            .some((t) => t.includes("client same-client-7")),
      );
      await waitForText(
        page,
        "its first connection in the log, with its id",
        "#log-table tbody",
        (t) => t.includes("client same-client-7"),
      );

      // Everyone else leaves first, so every drop ends up in the log: on a
      // starved machine the batcher may lose messages too, and the card
      // counts those as well.
      await Promise.all(sockets.map(closed));
      await waitFor("the others closed", () => server.hub.sessions.size === 0);

      // A stalled client is cut; the card says what it counts, and its
      // "dropped from full queues" is the drops the log shows, summed over
      // every disconnect.
      await using stalled = new ManualClient(server.url);
      await stalled.open();
      await stalled.read();
      const logged = await waitForText(
        page,
        "the stalled client's disconnect in the log",
        "#log-table tbody",
        (t) => t.includes("slow_drops"),
      );
      assert.match(logged, /4000/);
      await waitFor(
        "the stalled client gone",
        () => server.hub.sessions.size === 0,
      );
      const logDrops = async () =>
        (await page.locator("#log-table tbody tr td:last-child")
          .allTextContents()).reduce((n, t) => n + drops(t), 0);
      assert.ok(await logDrops() > 0, "the stalled client's drops are logged");
      // Nobody is connected, so the totals are final; the card catches up
      // at the next feed tick.
      let card = "";
      let logTotal = 0;
      await waitFor(
        "the card to agree with the log",
        async () => {
          card = await page.textContent("#drop-total") ?? "";
          logTotal = await logDrops();
          return drops(card.split("dropped from full queues")[0]!) === logTotal;
        },
        10_000,
        200,
      ).catch(() => {
        throw new assert.AssertionError({
          message: `card "${card}" against the log's ${logTotal}`,
        });
      });
      assert.match(card, /discarded at disconnect/);

      // The time axes: no two labels overlap.
      const png = await page.screenshot({ fullPage: true });
      assert.ok(png.length > 20_000, `a real picture (${png.length} bytes)`);
      await keep("dashboard_truths.png", png);

      // The time axes: 24-hour HH:MM:SS labels, no two of them overlapping.
      // Runs in the page: label widths measured with the axes' font size.
      // A chart shows two labels once its data spans two label steps, which
      // takes longer on a slow machine: wait for that, then check them all.
      type Label = { text: string; x: number; w: number };
      const labels = await waitInPage(
        page,
        "two time labels on every chart",
        () => {
          // deno-lint-ignore no-explicit-any
          const w = globalThis as any;
          const ctx = w.document.createElement("canvas").getContext("2d");
          ctx.font = "12px system-ui, sans-serif";
          const all: Record<string, { text: string; x: number }[]> = w
            .fanoutCharts.timeLabels();
          return Object.fromEntries(
            Object.entries(all).map(([name, ls]) => [
              name,
              ls.map((l) => ({ ...l, w: ctx.measureText(l.text).width })),
            ]),
          );
        },
        (all: Record<string, Label[]>) =>
          Object.keys(all).length > 0 &&
          Object.values(all).every((ls) => ls.length >= 2),
      );
      for (const [name, ls] of Object.entries(labels)) {
        assert.ok(ls.length >= 2, `${name}: ${JSON.stringify(ls)}`);
        for (const l of ls) assert.match(l.text, /^\d{2}:\d{2}:\d{2}$/, name);
        for (let i = 1; i < ls.length; i++) {
          const gap = ls[i]!.x - ls[i - 1]!.x;
          assert.ok(
            gap > (ls[i]!.w + ls[i - 1]!.w) / 2 + 4,
            `${name}: "${ls[i - 1]!.text}" and "${
              ls[i]!.text
            }" ${gap} px apart`,
          );
        }
      }
    } finally {
      await Promise.all(sockets.map(closed));
    }
  },
});

reportSkip("dashboard browser test", CHROMIUM);
