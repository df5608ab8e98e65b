/**
 * lib/metrics.ts (Prometheus text), the histogram window behind the
 * dashboard's charts, and the event-loop lag sampler.
 */
import assert from "node:assert/strict";
import { EventLoopLag } from "../lib/event_loop_lag.ts";
import { Histogram } from "../lib/histogram.ts";
import { formatValue, MetricsRegistry } from "../lib/metrics.ts";
import { waitFor } from "./_helpers.ts";

Deno.test("MetricsRegistry.render() writes HELP, TYPE and one line per series, reading values when scraped", () => {
  const sent = { value: 0 };
  const r = new MetricsRegistry()
    .counter("x_sent_total", "Frames sent.", () => sent.value)
    .gauge("x_clients", "Clients.", () => [
      { labels: { mode: "queue", id: "c1" }, value: 2 },
      { labels: { mode: "naive", id: "c2" }, value: 0.5 },
    ]);
  sent.value += 3; // after registering: read when scraped
  assert.equal(
    r.render(),
    [
      "# HELP x_sent_total Frames sent.",
      "# TYPE x_sent_total counter",
      "x_sent_total 3",
      "# HELP x_clients Clients.",
      "# TYPE x_clients gauge",
      'x_clients{mode="queue",id="c1"} 2',
      'x_clients{mode="naive",id="c2"} 0.5',
      "",
    ].join("\n"),
  );
  assert.deepEqual(r.names, ["x_sent_total", "x_clients"]);
});

Deno.test("MetricsRegistry.render() escapes label values and help text", () => {
  const text = new MetricsRegistry()
    .gauge("x_g", "Line one\nback\\slash.", () => [
      { labels: { v: 'a"b\\c\nd' }, value: 1 },
    ])
    .render();
  assert.match(text, /^# HELP x_g Line one\\nback\\\\slash\.$/m);
  assert.match(text, /^x_g\{v="a\\"b\\\\c\\nd"\} 1$/m);
});

Deno.test("MetricsRegistry.histogram() exports ms histograms as cumulative seconds buckets, +Inf, _sum and _count", () => {
  const h = new Histogram();
  for (const ms of [0.5, 2, 2, 40, 3000]) h.record(ms);
  const text = new MetricsRegistry()
    .histogram("x_latency_seconds", "Latency.", () => h, [0.001, 0.01, 1])
    .render();
  const line = (le: string) =>
    Number(
      text.match(new RegExp(`x_latency_seconds_bucket\\{le="${le}"\\} (\\d+)`))
        ?.[1],
    );
  assert.equal(line("0.001"), 1);
  assert.equal(line("0.01"), 3);
  assert.equal(line("1"), 4);
  assert.equal(line("\\+Inf"), 5);
  assert.match(text, /^x_latency_seconds_count 5$/m);
  const sum = Number(text.match(/^x_latency_seconds_sum (\S+)$/m)?.[1]);
  assert.ok(Math.abs(sum - 3.0445) < 1e-9, `sum ${sum}`);
  assert.match(text, /^# TYPE x_latency_seconds histogram$/m);
});

Deno.test("MetricsRegistry refuses names that break Prometheus conventions", async (t) => {
  const r = new MetricsRegistry().gauge("x_ok", "ok", () => 1);
  const cases: [string, () => unknown][] = [
    ["a counter without _total", () => r.counter("x_sent", "", () => 0)],
    [
      "a histogram not in seconds",
      () => r.histogram("x_ms", "", () => new Histogram(), [1]),
    ],
    ["a duplicate", () => r.gauge("x_ok", "", () => 1)],
    ["an invalid name", () => r.gauge("x-bad", "", () => 1)],
    [
      "descending buckets",
      () => r.histogram("x_seconds", "", () => new Histogram(), [1, 0.5]),
    ],
  ];
  for (const [name, register] of cases) {
    await t.step(name, () => assert.throws(register, TypeError));
  }
});

Deno.test("formatValue() spells special values the Prometheus way", () => {
  assert.deepEqual(
    [NaN, Infinity, -Infinity, 3, 0.25].map(formatValue),
    ["NaN", "+Inf", "-Inf", "3", "0.25"],
  );
});

Deno.test("Histogram.since() is the window recorded after a snapshot", () => {
  const h = new Histogram();
  for (let i = 0; i < 100; i++) h.record(1000);
  const before = h.snapshot();
  for (let ms = 1; ms <= 100; ms++) h.record(ms);
  const w = h.since(before);
  assert.equal(w.count, 100);
  assert.ok(Math.abs(w.sum - 5050) < 1e-6);
  const p50 = w.percentile(50);
  assert.ok(p50 >= 48 && p50 <= 53, `p50 ${p50}`);
  assert.ok(
    w.percentile(99) <= 104,
    "the old 1000 ms values are not in the window",
  );
  assert.equal(h.since(h.snapshot()).count, 0, "an empty window");
  assert.equal(h.since(h.snapshot()).percentile(99), 0);
});

Deno.test("EventLoopLag notices a blocked event loop", async () => {
  using lag = new EventLoopLag({ intervalMs: 20 });
  const until = performance.now() + 120;
  while (performance.now() < until) { /* block the loop on purpose */ }
  await waitFor("a lag sample", () => lag.maxMs >= 50, 5000);
});

Deno.test("EventLoopLag.takeWindowMaxMs() keeps a stall between scrapes that the latest sample no longer shows, then starts a new window", async () => {
  using lag = new EventLoopLag({ intervalMs: 20 });
  const until = performance.now() + 150;
  while (performance.now() < until) { /* block the loop on purpose */ }
  await waitFor("the stall's sample", () => lag.maxMs >= 100, 5000);
  // Later samples find the loop free again: the point sample forgets.
  const seen = lag.samples;
  await waitFor("a later sample", () => lag.samples > seen, 5000);
  const window = lag.takeWindowMaxMs();
  assert.ok(window >= 100, `the window kept the stall: ${window} ms`);
  assert.ok(window > lag.lagMs, "more than the latest sample");
  assert.ok(lag.takeWindowMaxMs() < window, "a new window starts");
});
