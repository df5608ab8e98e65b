/**
 * The dashboard in a real browser: headless Chromium (Debian's `chromium`)
 * driven by playwright-core from npm. The page must show clients arriving, a
 * stalled client's drops rising and its disconnect in the log, then it is
 * photographed. Skipped, with one line saying why, where Chromium is
 * missing; `.ci/run` installs it.
 *
 * The screenshot goes to a temporary directory; with
 * `FANOUT_UPDATE_SCREENSHOT=1` (`deno task screenshot`) it replaces
 * `docs/dashboard.png`, the picture in the README.
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
import { launchChromium, waitForText } from "./_browser.ts";

const README_SCREENSHOT = new URL("docs/dashboard.png", REPO_ROOT);

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
      console.log(
        `dashboard screenshot: ${shot.pathname} (${png.length} bytes)`,
      );
    } finally {
      stop.abort();
      await Promise.all(fast.map((c) => c.stop()));
    }
  },
});
reportSkip("dashboard browser test", CHROMIUM);
