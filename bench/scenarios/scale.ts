/**
 * Scenarios 3 and 5 — scale, against the peers in the same run: N clients
 * at 100 Hz with 64-byte payloads, 1,000 clients at 400 Hz, and 2,000 and
 * 5,000 clients at 1 Hz (memory per connection at rest, without load's heap
 * churn, and its slope: {@link marginalRss}). Per point:
 * deliveries/s against N × rate, p50/p99, server CPU µs per delivery, RSS per
 * connection — and every figure as a ratio to the peers at the same point.
 *
 * @module
 */
import { type BenchOptions, progress } from "../_options.ts";
import {
  type PointResult,
  round,
  runPoint,
  type Spread,
  spreadOfValues,
} from "../_point.ts";
import type { BenchPaths, ServerKind } from "../_servers.ts";

/** One (rate, clients) point, measured on every server. */
export interface ScaleRow {
  readonly clients: number;
  readonly rate: number;
  /** Per server, the repeat with the median CPU per delivery (for charts and ratios). */
  readonly results: PointResult[];
  /** Per server and figure, the median and range over the interleaved repeats. */
  readonly spread: Record<string, Record<string, Spread>>;
  /** fanout's figure ÷ the peer's, per peer and figure (lower is better for all but deliveries). */
  readonly ratios: Record<string, Record<string, number | null>>;
}

/** The scale scenario's output. */
export interface ScaleResult {
  readonly scenario: "scale";
  readonly payload_bytes: number;
  readonly ack: boolean;
  readonly rows: ScaleRow[];
  /** Marginal RSS per idle connection, KiB, per server ({@link marginalRss}). */
  readonly marginal_rss_kb?: Record<string, number | null>;
}

/** Runs the scale scenario. */
export async function runScale(
  options: BenchOptions,
  paths: BenchPaths,
): Promise<ScaleResult> {
  const payloadBytes = 64;
  const points: { clients: number; rate: number }[] = options.scaleClients
    .map((clients) => ({ clients, rate: 100 }));
  if (!options.quick) {
    points.push({ clients: 1000, rate: 400 });
    // At rest (1 Hz): memory per connection without the heap churn of load,
    // at 2,000 and 5,000 connections.
    points.push({ clients: 2000, rate: 1 }, { clients: 5000, rate: 1 });
  }
  const kinds: ServerKind[] = ["fanout", ...options.peers];
  const rows: ScaleRow[] = [];
  for (const { clients, rate } of points) {
    const runs = new Map<ServerKind, PointResult[]>(kinds.map((k) => [k, []]));
    // Interleaved per point (and per repeat) so drift on the machine hits
    // every server alike.
    for (let repeat = 0; repeat < options.repeat; repeat++) {
      for (const kind of kinds) {
        progress(
          `scale: ${kind}, ${clients} clients × ${rate} Hz${
            options.repeat > 1 ? ` (run ${repeat + 1}/${options.repeat})` : ""
          }`,
        );
        const r = await runPoint(
          {
            kind,
            rate,
            payloadBytes,
            fanoutFlags: options.fanoutFlags,
          },
          {
            groups: [{ name: "fast", count: clients }],
            warmupMs: options.quick ? 1000 : 2000,
            measureMs: options.quick ? 2000 : 5000,
            graceMs: 1000,
            ack: options.ack,
            path: options.clientPath,
          },
          paths,
        );
        progress(`  ${describe(r)}`);
        runs.get(kind)!.push(r);
      }
    }
    const results = kinds.map((k) => medianRun(runs.get(k)!));
    const spread = Object.fromEntries(
      kinds.map((k) => [k, spreadOf(runs.get(k)!)]),
    );
    rows.push({ clients, rate, results, spread, ratios: ratiosOf(spread) });
  }
  const marginal = marginalRss(rows);
  return {
    scenario: "scale",
    payload_bytes: payloadBytes,
    ack: options.ack,
    rows,
    ...(Object.keys(marginal).length ? { marginal_rss_kb: marginal } : {}),
  };
}

/** The figures whose spread over repeats is reported. */
const FIGURES: Record<string, (r: PointResult) => number | null | undefined> = {
  cpu_us_per_delivery: (r) => r.server_cpu_us_per_delivery,
  p99_ms: (r) => r.groups.fast?.latency_ms.p99,
  deliveries_per_s: (r) => r.deliveries_per_s,
  rss_per_connection_kb: (r) => r.rss_per_connection_kb,
  generator_cpu_cores: (r) => r.generator_cpu_cores,
};

/** Median, min and max of each figure over `runs`. */
export function spreadOf(runs: readonly PointResult[]): Record<string, Spread> {
  return Object.fromEntries(
    Object.entries(FIGURES).map((
      [name, get],
    ) => [name, spreadOfValues(runs.map((r) => get(r) ?? null))]),
  );
}

/** The run whose CPU per delivery is the median (lower middle for an even count). */
function medianRun(runs: readonly PointResult[]): PointResult {
  const sorted = [...runs].sort((a, b) =>
    (a.server_cpu_us_per_delivery ?? Infinity) -
    (b.server_cpu_us_per_delivery ?? Infinity)
  );
  return sorted[Math.floor((sorted.length - 1) / 2)]!;
}

/** One line per point for the progress log. */
export function describe(r: PointResult): string {
  const g = r.groups.fast;
  return `${r.label}: ${r.deliveries_per_s}/s of ${r.nominal_deliveries_per_s}, ` +
    `ratio ${
      g?.delivery_ratio?.toFixed(4)
    }, p50/p99 ${g?.latency_ms.p50}/${g?.latency_ms.p99} ms, ` +
    `server ${r.server_cpu_us_per_delivery} µs/delivery (${r.server_cpu_cores} cores), ` +
    `gen ${r.generator_cpu_cores} cores, RSS/conn ${r.rss_per_connection_kb} KiB`;
}

/**
 * fanout ÷ each peer, figure by figure, from the medians over the repeats;
 * and each fanout variant (`fanout-serve`, `fanout-lean`) ÷ each other peer,
 * keyed `variant ÷ peer`.
 */
export function ratiosOf(
  spread: Record<string, Record<string, Spread>>,
): Record<string, Record<string, number | null>> {
  const out: Record<string, Record<string, number | null>> = {};
  const ratio = (
    a: Record<string, Spread>,
    b: Record<string, Spread>,
  ): Record<string, number | null> =>
    Object.fromEntries(
      Object.keys(b).filter((f) => f !== "generator_cpu_cores").map((f) => {
        const x = a[f]?.median;
        const y = b[f]?.median;
        return [f, x == null || y == null || y === 0 ? null : round(x / y, 3)];
      }),
    );
  const fanout = spread.fanout;
  const variants = Object.keys(spread).filter((k) => k.startsWith("fanout-"));
  for (const [peer, figures] of Object.entries(spread)) {
    if (peer === "fanout") continue;
    if (fanout) out[peer] = ratio(fanout, figures);
    if (peer.startsWith("fanout-")) continue;
    for (const v of variants) {
      out[`${v} ÷ ${peer}`] = ratio(spread[v]!, figures);
    }
  }
  return out;
}

/**
 * What one more idle connection costs, KiB: the slope of RSS between the
 * two at-rest points (2,000 and 5,000 connections at 1 Hz), per server. RSS
 * per connection at one point also spreads what a process grows by once
 * it has any clients (code compiled for the hot path, heap headroom) over
 * the connections; the slope leaves that out.
 */
export function marginalRss(
  rows: readonly ScaleRow[],
): Record<string, number | null> {
  const rest = rows.filter((r) => r.rate === 1).sort((a, b) =>
    a.clients - b.clients
  );
  if (rest.length < 2) return {};
  const [lo, hi] = [rest[0]!, rest.at(-1)!];
  return Object.fromEntries(
    Object.keys(hi.spread).map((k) => {
      const a = lo.spread[k]?.rss_per_connection_kb?.median;
      const b = hi.spread[k]?.rss_per_connection_kb?.median;
      return [
        k,
        a == null || b == null ? null : round(
          (b * hi.clients - a * lo.clients) / (hi.clients - lo.clients),
          2,
        ),
      ];
    }),
  );
}
