import assert from "node:assert/strict";
import { DEFAULT_CLIENTSIM_OPTIONS } from "../client/options.ts";
import type { SimClient } from "../client/sim_client.ts";
import { runSwarm } from "../client/swarm.ts";
import { waitFor, WsFixture } from "./_ws_fixture.ts";

Deno.test("runSwarm() stops by itself and reports every client when the duration passes", async () => {
  await using fixture = WsFixture.start({ rate: 100 });
  const lines: string[] = [];
  const t0 = performance.now();
  const report = await runSwarm({
    ...DEFAULT_CLIENTSIM_OPTIONS,
    url: fixture.url,
    concurrency: 3,
    durationSec: 1,
    printEvery: 10,
    idPrefix: "fast",
  }, { onLine: (line) => lines.push(line) });
  const elapsed = performance.now() - t0;
  // It ran its whole duration (an upper bound would depend on the machine's load).
  assert.ok(elapsed >= 1000, `elapsed ${elapsed} ms`);
  assert.equal(report.stoppedEarly, false);
  assert.deepEqual(report.clients.map((c) => c.id), [
    "fast-0",
    "fast-1",
    "fast-2",
  ]);
  for (const c of report.clients) {
    assert.equal(c.connects, 1);
    assert.ok(c.messages > 10, `${c.id} got ${c.messages}`);
    assert.ok(
      c.ratePerSec > 20 && c.ratePerSec < 200,
      `${c.id} rate ${c.ratePerSec}`,
    );
    assert.equal(c.drops, 0);
    assert.deepEqual(c.closes, []);
  }
  assert.equal(report.totals.clients, 3);
  assert.equal(
    report.totals.messages,
    report.clients.reduce((n, c) => n + c.messages, 0),
  );
  assert.equal(report.totals.latency.count, report.totals.messages);
  assert.ok(lines.length >= 3);
  assert.match(
    lines[0]!,
    /^\[fast-\d\] Count: +10 \| Rate: +[\d.]+\/s \| Latency min\/avg\/p95\/p99: +[\d.]+\/ *[\d.]+\/ *[\d.]+\/ *[\d.]+ms \| Drops: 0$/,
  );
});

Deno.test("runSwarm() holds 1,000 connections that all receive when run against one server", async () => {
  await using fixture = WsFixture.start({ rate: 10 });
  const clients: SimClient[] = [];
  const stop = new AbortController();
  const t0 = performance.now();
  const swarm = runSwarm({
    ...DEFAULT_CLIENTSIM_OPTIONS,
    url: fixture.url,
    concurrency: 1000,
    durationSec: 20,
  }, { signal: stop.signal, onClient: (c) => clients.push(c) });
  try {
    await waitFor(
      () =>
        clients.length === 1000 &&
        clients.every((c) => c.snapshot().messages >= 2),
      "1,000 clients with 2 messages each",
      20_000,
    );
    assert.equal(fixture.openCount, 1000);
  } finally {
    stop.abort();
  }
  const report = await swarm;
  const elapsed = performance.now() - t0;
  console.log(
    `1,000 clients connected and received in ${elapsed.toFixed(0)} ms`,
  );
  assert.equal(report.stoppedEarly, true);
  assert.equal(report.totals.clients, 1000);
  assert.equal(report.totals.clientsConnected, 1000);
  assert.equal(report.totals.errors, 0);
  assert.ok(report.clients.every((c) => c.messages >= 2 && c.acksSent >= 1));
  await waitFor(() => fixture.openCount === 0, "every socket closed");
  assert.ok(fixture.sockets.every((s) => s.closeCode === 1000));
});
