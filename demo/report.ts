/**
 * The demo's side-by-side table and its verdict, computed from the numbers.
 *
 * @module
 */
import { fmtMs, type ModeResult } from "./scenario.ts";

/** Naive fast-client p99 must be at least this many times queue mode's to call isolation shown. */
export const ISOLATION_FACTOR = 5;
/** The ladder leaves fast clients' p99 unchanged when it is at most this many times queue mode's. */
export const LADDER_P99_FACTOR = 1.2;

/** The slow client's path on the ladder: `full → coalesced → conflated`. */
export function tierPath(r: ModeResult): string {
  const t = r.slow.tiers;
  if (t.length === 0) return r.run === "ladder" ? "full" : "-";
  return [t[0]!.from, ...t.map((c) => c.to)].join(" → ");
}

function disconnectCell(r: ModeResult): string {
  const d = r.slow.disconnects;
  if (d.length === 0) return "no";
  const first = d[0]!;
  return `${d.length}x, first at ${
    first.atSec.toFixed(1)
  } s: ${first.code} ${first.reason}`;
}

/** The comparison table, one row per figure, one column per run. */
export function formatComparison(
  naive: ModeResult,
  queue: ModeResult,
  ladder?: ModeResult,
): string {
  const rows: [string, (r: ModeResult) => string][] = [
    ["fast clients: msgs/s each", (r) => r.fast.ratePerSec.toFixed(1)],
    [
      "fast clients: delivered",
      (r) => `${(r.fast.deliveredRatio * 100).toFixed(1)} %`,
    ],
    ["fast clients: p50 latency", (r) => fmtMs(r.fast.latency.p50)],
    ["fast clients: p99 latency", (r) => fmtMs(r.fast.latency.p99)],
    ["fast clients: max latency", (r) => fmtMs(r.fast.latency.max)],
    ["fast clients: drops (seq gaps)", (r) => String(r.fast.drops)],
    ["fast clients: undelivered at end", (r) => String(r.fast.undelivered)],
    ["slow client: msgs received", (r) => String(r.slow.messages)],
    ["slow client: p99 latency", (r) => fmtMs(r.slow.latency.p99)],
    ["slow client: drops by server", (r) => String(r.slow.serverDrops)],
    ["slow client: disconnected", disconnectCell],
    ["slow client: tiers", tierPath],
    [
      "slow client: saw the close",
      (r) =>
        r.slow.closesSeen[0]
          ? `yes, ${r.slow.closesSeen[0].code}`
          : r.slow.disconnects.length
          ? "not yet (behind data in flight)"
          : "-",
    ],
    ["server: published msgs/s", (r) => r.server.pubRatePerSec.toFixed(1)],
  ];
  const runs = ladder ? [naive, queue, ladder] : [naive, queue];
  const labelWidth = Math.max(...rows.map(([l]) => l.length));
  const cells = rows.map(([l, f]) => [l, ...runs.map(f)]);
  const colWidth = Math.max(
    12,
    ...cells.flatMap(([, ...c]) => c.map((x) => x.length)),
  );
  const line = (cols: string[]) =>
    cols.map((c, i) =>
      i === 0
        ? c.padEnd(labelWidth)
        : i === cols.length - 1
        ? c
        : c.padEnd(colWidth)
    ).join("  ");
  const heads = ["NAIVE", "QUEUE", "LADDER"].slice(0, runs.length);
  return [
    line(["", ...heads]),
    line([
      "-".repeat(labelWidth),
      ...heads.map((_, i) =>
        "-".repeat(i === heads.length - 1 ? 12 : colWidth)
      ),
    ]),
    ...cells.map((c) => line(c)),
    "",
    "Latency = receipt time - due time. Messages still undelivered when a run ends count at their",
    "age then (a lower bound), so a stalled client cannot look fast by receiving nothing.",
  ].join("\n");
}

/**
 * The ladder run's verdict, chosen by its numbers: whether the slow client
 * stayed connected, what it got, and whether the fast clients' p99 stayed
 * within {@link LADDER_P99_FACTOR} of queue mode's.
 */
export function ladderVerdict(queue: ModeResult, ladder: ModeResult): string {
  const l99 = ladder.fast.latency.p99;
  const q99 = queue.fast.latency.p99;
  const ratio = l99 / Math.max(q99, 0.001);
  const fast = ratio <= LADDER_P99_FACTOR
    ? `fast clients' p99 unchanged (${fmtMs(l99)} vs ${
      fmtMs(q99)
    } in queue mode)`
    : `fast clients' p99 ${fmtMs(l99)}, ${ratio.toFixed(1)}x queue mode's ${
      fmtMs(q99)
    } (over ${LADDER_P99_FACTOR}x: not unchanged in this run)`;
  const s = ladder.slow;
  const d = s.disconnects;
  const got = `${s.messages} messages (${s.ratePerSec.toFixed(1)}/s), tiers ${
    tierPath(ladder)
  }, staleness p99 ${fmtMs(s.latency.p99)}`;
  return d.length === 0
    ? `The ladder: the same slow client stayed connected and got ${got}; ${fast}.`
    : `The ladder did not keep the slow client: cut ${d.length}x (${
      d[0]!.code
    }: ${d[0]!.detail}) after ${got}; ${fast}.`;
}

/** Two lines of verdict, each chosen by the measured numbers. */
export function verdict(
  naive: ModeResult,
  queue: ModeResult,
): [string, string] {
  const n99 = naive.fast.latency.p99;
  const q99 = queue.fast.latency.p99;
  const ratio = n99 / Math.max(q99, 0.001);
  const first = ratio >= ISOLATION_FACTOR
    ? `Isolation shown: with one slow client present, fast clients' p99 latency was ${
      fmtMs(n99)
    } in naive mode and ${fmtMs(q99)} in queue mode (${
      ratio.toFixed(0)
    }x lower), at ${queue.fast.ratePerSec.toFixed(1)} vs ${
      naive.fast.ratePerSec.toFixed(1)
    } msgs/s each.`
    : `No clear isolation effect in this run: fast clients' p99 was ${
      fmtMs(n99)
    } (naive) vs ${
      fmtMs(q99)
    } (queue), under ${ISOLATION_FACTOR}x apart; the slow client did not back up the server. Try a longer --duration or larger --payload-bytes.`;
  const d = queue.slow.disconnects;
  const second = d.length > 0
    ? `The price: queue mode dropped ${queue.slow.serverDrops} messages for the slow client and disconnected it ${d.length}x (${
      d[0]!.code
    }: ${d[0]!.detail}); naive mode kept it and made everyone wait for it.`
    : queue.slow.serverDrops > 0
    ? `The price: queue mode dropped ${queue.slow.serverDrops} messages for the slow client but kept it connected (it stayed under --drop-limit and --full-timeout).`
    : `Queue mode neither dropped nor disconnected anything for the slow client in this run: it kept up with the load.`;
  return [first, second];
}
