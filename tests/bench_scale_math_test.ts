/** The scale scenario's arithmetic: ratios to peers and the marginal RSS of an idle connection. */
import assert from "node:assert/strict";
import { type Spread, spreadOfValues } from "../bench/_point.ts";
import {
  marginalRss,
  ratiosOf,
  type ScaleRow,
} from "../bench/scenarios/scale.ts";

const one = (median: number): Spread => ({
  median,
  min: median,
  max: median,
  runs: [median],
});
const figures = (cpu: number, rss: number) => ({
  cpu_us_per_delivery: one(cpu),
  rss_per_connection_kb: one(rss),
});
const row = (
  clients: number,
  rate: number,
  spread: ScaleRow["spread"],
): ScaleRow => ({ clients, rate, results: [], spread, ratios: {} });

Deno.test("ratiosOf divides fanout by each peer, and each fanout variant by each peer that is not a variant", () => {
  const r = ratiosOf({
    fanout: figures(6, 40),
    "fanout-lean": figures(5, 30),
    "deno-loop": figures(4, 25),
  });
  assert.deepEqual(Object.keys(r).sort(), [
    "deno-loop",
    "fanout-lean",
    "fanout-lean ÷ deno-loop",
  ]);
  assert.equal(r["deno-loop"]!.cpu_us_per_delivery, 1.5);
  assert.equal(r["fanout-lean"]!.rss_per_connection_kb, 1.333);
  assert.equal(r["fanout-lean ÷ deno-loop"]!.cpu_us_per_delivery, 1.25);
  assert.equal(r["fanout-lean ÷ deno-loop"]!.rss_per_connection_kb, 1.2);
});

Deno.test("marginalRss is the slope of RSS between the two at-rest points, leaving out what the process grows by once", () => {
  // 10 MB that arrive with the first clients, plus 20 KiB per connection:
  // 2,000 clients read as 25 KiB each, 5,000 as 22; one more costs 20.
  const perConn = (n: number) => (10 * 1024 + 20 * n) / n;
  const rows = [
    row(1000, 100, { fanout: figures(5, 99) }),
    row(2000, 1, { fanout: figures(0, perConn(2000)) }),
    row(5000, 1, { fanout: figures(0, perConn(5000)) }),
  ];
  assert.equal(marginalRss(rows).fanout, 20);
  assert.deepEqual(
    marginalRss(rows.slice(0, 2)),
    {},
    "one at-rest point: no slope",
  );
});

Deno.test("spreadOfValues: the lower middle of the known values, their range, every run kept", () => {
  assert.deepEqual(spreadOfValues([9, null, 3, 5]), {
    median: 5,
    min: 3,
    max: 9,
    runs: [9, null, 3, 5],
  });
  assert.equal(spreadOfValues([4, 2, 8, 6]).median, 4);
  assert.deepEqual(spreadOfValues([null]), {
    median: null,
    min: null,
    max: null,
    runs: [null],
  });
});
