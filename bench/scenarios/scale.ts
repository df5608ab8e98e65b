/**
 * Scenarios 3 and 5 — scale, against the peers in the same run: N clients
 * at 100 Hz with 64-byte payloads, 1,000 clients at 400 Hz, and the largest
 * N at 1 Hz (memory per connection at rest, without load's heap churn). Per point:
 * deliveries/s against N × rate, p50/p99, server CPU µs per delivery, RSS per
 * connection — and every figure as a ratio to the peers at the same point.
 *
 * @module
 */
import { type BenchOptions, progress } from "../_options.ts";
import { type PointResult, round, runPoint } from "../_point.ts";
import type { BenchPaths, ServerKind } from "../_servers.ts";

/** One (rate, clients) point, measured on every server. */
export interface ScaleRow {
  readonly clients: number;
  readonly rate: number;
  readonly results: PointResult[];
  /** fanout's figure ÷ the peer's, per peer and figure (lower is better for all but deliveries). */
  readonly ratios: Record<string, Record<string, number | null>>;
}

/** The scale scenario's output. */
export interface ScaleResult {
  readonly scenario: "scale";
  readonly payload_bytes: number;
  readonly ack: boolean;
  readonly rows: ScaleRow[];
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
    const results: PointResult[] = [];
    // Interleaved per point so drift on the machine hits every server alike.
    for (const kind of kinds) {
      progress(`scale: ${kind}, ${clients} clients × ${rate} Hz`);
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
      results.push(r);
    }
    rows.push({ clients, rate, results, ratios: ratiosOf(results) });
  }
  return {
    scenario: "scale",
    payload_bytes: payloadBytes,
    ack: options.ack,
    rows,
  };
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

/** fanout ÷ each peer, for the headline figures. */
export function ratiosOf(
  results: readonly PointResult[],
): Record<string, Record<string, number | null>> {
  const fanout = results.find((r) => r.server === "fanout");
  const out: Record<string, Record<string, number | null>> = {};
  if (!fanout) return out;
  const div = (a: number | null | undefined, b: number | null | undefined) =>
    a == null || b == null || b === 0 ? null : round(a / b, 3);
  for (const peer of results) {
    if (peer === fanout) continue;
    out[peer.server] = {
      cpu_us_per_delivery: div(
        fanout.server_cpu_us_per_delivery,
        peer.server_cpu_us_per_delivery,
      ),
      deliveries_per_s: div(fanout.deliveries_per_s, peer.deliveries_per_s),
      p50_ms: div(
        fanout.groups.fast?.latency_ms.p50,
        peer.groups.fast?.latency_ms.p50,
      ),
      p99_ms: div(
        fanout.groups.fast?.latency_ms.p99,
        peer.groups.fast?.latency_ms.p99,
      ),
      rss_per_connection_kb: div(
        fanout.rss_per_connection_kb,
        peer.rss_per_connection_kb,
      ),
    };
  }
  return out;
}
