import assert from "node:assert/strict";
import { Histogram, HISTOGRAM_GROWTH } from "../lib/histogram.ts";

/** Exact percentile of a sorted array, nearest-rank. */
function exact(sorted: number[], q: number): number {
  return sorted[Math.max(0, Math.ceil((q / 100) * sorted.length) - 1)]!;
}

Deno.test("Histogram.percentile() is within one bucket of the exact value", () => {
  const h = new Histogram();
  const values: number[] = [];
  let seed = 42;
  for (let i = 0; i < 20_000; i++) {
    seed = (seed * 1103515245 + 12345) % 2 ** 31;
    const v = Math.exp((seed / 2 ** 31) * 12 - 4); // 0.018 ms … 2980 ms, log-uniform
    values.push(v);
    h.record(v);
  }
  values.sort((a, b) => a - b);
  for (const q of [50, 90, 95, 99, 99.9]) {
    const want = exact(values, q);
    const got = h.percentile(q);
    assert.ok(
      got >= want / HISTOGRAM_GROWTH && got <= want * HISTOGRAM_GROWTH,
      `p${q}: got ${got}, exact ${want}`,
    );
  }
  assert.equal(h.count, 20_000);
  assert.equal(h.min, values[0]);
  assert.equal(h.max, values.at(-1));
});

Deno.test("Histogram is empty-safe and clamps to observed min and max", () => {
  const h = new Histogram();
  assert.deepEqual(h.summary(), {
    count: 0,
    min: 0,
    avg: 0,
    p50: 0,
    p95: 0,
    p99: 0,
    max: 0,
  });
  h.record(5);
  assert.equal(h.percentile(50), 5);
  assert.equal(h.percentile(99), 5);
  h.record(-3); // clock skew: counts as 0
  assert.equal(h.min, 0);
});

Deno.test("Histogram.merge() equals recording both sets into one", () => {
  const a = new Histogram();
  const b = new Histogram();
  const both = new Histogram();
  for (let i = 1; i <= 100; i++) {
    (i % 2 ? a : b).record(i);
    both.record(i);
  }
  a.merge(b);
  assert.deepEqual(a.summary(), both.summary());
  a.reset();
  assert.equal(a.count, 0);
});

Deno.test("Histogram memory does not grow with the number of values", () => {
  const h = new Histogram();
  for (let i = 0; i < 1_000_000; i++) h.record(i % 1000);
  assert.equal(h.count, 1_000_000);
  assert.ok(Math.abs(h.mean - 499.5) < 1e-6);
  assert.equal(h.countAtOrBelow(1e9), 1_000_000);
});

Deno.test("Histogram pages: counts, snapshots and windows agree across the whole range", () => {
  const h = new Histogram();
  // Below the first bound (bucket 0) and near the top (the last page).
  const early: number[] = [0.0005, 9.9e6];
  const late: number[] = [];
  // Values in every decade from 10 µs to 10^6 ms touch every page between.
  for (let k = -2; k <= 6; k++) {
    early.push(10 ** k);
    late.push(2 * 10 ** k, 5 * 10 ** k);
  }
  for (const v of early) h.record(v);
  const before = h.snapshot();
  assert.equal(before.counts.reduce((a, b) => a + b, 0), early.length);
  for (const v of late) h.record(v);
  for (let k = -2; k <= 6; k++) {
    const at = 3 * 10 ** k;
    const want = [...early, ...late].filter((v) => v <= at).length;
    assert.equal(h.countAtOrBelow(at), want, `count ≤ ${at}`);
  }
  const window = h.since(before);
  assert.equal(window.count, late.length);
  const sorted = late.toSorted((a, b) => a - b);
  for (const q of [10, 50, 90]) {
    const want = exact(sorted, q);
    const got = window.percentile(q);
    assert.ok(
      got >= want / HISTOGRAM_GROWTH ** 2 && got <= want * HISTOGRAM_GROWTH,
      `window p${q}: got ${got}, exact ${want}`,
    );
  }
  h.reset();
  assert.equal(h.countAtOrBelow(1e9), 0);
  assert.equal(h.percentile(50), 0);
});
