/**
 * The overload scenario: N rising past what this machine can serve (1,000 →
 * 3,000 clients × 100 Hz × 64 B on 2 cores shared with the generator), every
 * client reading everything it gets. Per point and server: the share of
 * what was due that arrived, fast clients' p99, clients the server
 * disconnected (it must be 0: nobody here is slow but the server), messages
 * shed, RSS per connection, the source's lag — fanout against Bun and the
 * bare Deno references, interleaved per point.
 *
 * @module
 */
import { type BenchOptions, progress } from "../_options.ts";
import { type PointResult, runPoint } from "../_point.ts";
import type { BenchPaths, ServerKind } from "../_servers.ts";

/** One server at one N. */
export interface OverloadPoint {
  readonly server: string;
  readonly label: string;
  readonly clients: number;
  readonly delivery_ratio: number | null;
  readonly p50_ms: number | null;
  readonly p99_ms: number | null;
  /** p99 of the messages that arrived (what was shed is in `delivery_ratio`), ms. */
  readonly received_p99_ms: number | null;
  /** Connections that ended during the run, by close code (the loadgen's view). */
  readonly closes: Record<string, number>;
  /** Clients whose connection ended before the end of the run (closed by the server, or broken). */
  readonly disconnected: number;
  /** Messages shed (fanout: queue + source; the peers do not say). */
  readonly shed: number | null;
  /** Worst source lag in the last summary window, ms (fanout). */
  readonly publisher_lag_ms: number | null;
  readonly rss_per_connection_kb: number | null;
  readonly server_cpu_cores: number;
  readonly generator_cpu_cores: number;
  readonly server_cpu_us_per_delivery: number | null;
}

/** The overload scenario's output. */
export interface OverloadResult {
  readonly scenario: "overload";
  readonly payload_bytes: number;
  readonly points: OverloadPoint[];
}

/** Runs the overload scenario. */
export async function runOverload(
  options: BenchOptions,
  paths: BenchPaths,
): Promise<OverloadResult> {
  const counts = options.quick ? [1500] : [1000, 2000, 3000];
  const kinds: ServerKind[] = [
    "fanout",
    ...options.peers.filter((p) => p !== "node-ws"),
  ];
  const points: OverloadPoint[] = [];
  for (const clients of counts) {
    for (const kind of kinds) {
      progress(`overload: ${kind}, ${clients} clients × 100 Hz`);
      const r = await runPoint(
        {
          kind,
          rate: 100,
          payloadBytes: 64,
          fanoutFlags: options.fanoutFlags,
        },
        {
          groups: [{ name: "fast", count: clients }],
          warmupMs: options.quick ? 1500 : 3000,
          measureMs: options.quick ? 3000 : 8000,
          graceMs: 1000,
          ack: options.ack,
          path: options.clientPath,
        },
        paths,
      );
      const p = pointOf(r);
      progress(`  ${describeOverload(p)}`);
      points.push(p);
    }
  }
  return { scenario: "overload", payload_bytes: 64, points };
}

function pointOf(r: PointResult): OverloadPoint {
  const fast = r.groups.fast;
  const closes = fast?.closes ?? {};
  const final = r.server_final ?? {};
  const num = (v: unknown) => typeof v === "number" ? v : null;
  return {
    server: r.server,
    label: r.label,
    clients: r.clients,
    delivery_ratio: fast?.delivery_ratio ?? null,
    p50_ms: fast?.latency_ms.p50 ?? null,
    p99_ms: fast?.latency_ms.p99 ?? null,
    received_p99_ms: fast?.latency_received_ms.p99 ?? null,
    closes,
    disconnected: fast ? fast.clients - fast.open_at_end : 0,
    shed: num(final.shed_total),
    publisher_lag_ms: num(final.publisher_lag_ms),
    rss_per_connection_kb: r.rss_per_connection_kb,
    server_cpu_cores: r.server_cpu_cores,
    generator_cpu_cores: r.generator_cpu_cores,
    server_cpu_us_per_delivery: r.server_cpu_us_per_delivery,
  };
}

/** One line per point for the progress log. */
export function describeOverload(p: OverloadPoint): string {
  return `${p.label} at ${p.clients}: delivered ${
    p.delivery_ratio?.toFixed(3)
  }, p50/p99 ${p.p50_ms}/${p.p99_ms} ms (received p99 ${p.received_p99_ms} ms), ` +
    `disconnected ${p.disconnected}${
      Object.keys(p.closes).length ? ` ${JSON.stringify(p.closes)}` : ""
    }, shed ${p.shed ?? "–"}, source lag ${p.publisher_lag_ms ?? "–"} ms, ` +
    `RSS/conn ${p.rss_per_connection_kb} KiB, server ${p.server_cpu_cores} cores, gen ${p.generator_cpu_cores} cores`;
}
