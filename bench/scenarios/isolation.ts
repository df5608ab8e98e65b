/**
 * Scenario 1 — the isolation curve: fast clients' p50/p99 latency and
 * delivery ratio against the share of slow clients (0, 1, 5, 10 % of N),
 * naive mode against queue mode.
 *
 * Payloads are large (16 KiB) on purpose: a slow client's loopback socket
 * absorbs ~4 MB before the server feels anything (DESIGN.md, trap 3). At
 * 16 KiB × 50 msg/s a client reading 5 msg/s fills that in ~4 s, inside the
 * warm-up, so the window sees the steady state: naive mode stalled behind
 * the slowest reader, queue mode cutting slow clients off by policy.
 *
 * @module
 */
import { type BenchOptions, progress } from "../_options.ts";
import { type PointResult, runPoint } from "../_point.ts";
import type { BenchPaths, ServerKind } from "../_servers.ts";

/** The isolation scenario's output. */
export interface IsolationResult {
  readonly scenario: "isolation";
  readonly clients: number;
  readonly rate: number;
  readonly payload_bytes: number;
  readonly slow_period_ms: number;
  readonly rows: {
    mode: "naive" | "queue";
    slow_percent: number;
    slow_clients: number;
    fast_p50_ms: number | null;
    fast_p99_ms: number | null;
    fast_delivery_ratio: number | null;
    /** fast p99 ÷ the same mode's p99 with no slow client. */
    fast_p99_vs_baseline: number | null;
    point: PointResult;
  }[];
}

/** Runs the isolation scenario. */
export async function runIsolation(
  options: BenchOptions,
  paths: BenchPaths,
): Promise<IsolationResult> {
  const clients = options.quick ? 10 : 100;
  const rate = 50;
  const payloadBytes = 16 * 1024;
  const slowPeriodMs = 200;
  const percents = options.quick ? [0, 10] : [0, 1, 5, 10];
  const rows: IsolationResult["rows"] = [];
  for (const mode of ["queue", "naive"] as const) {
    const kind: ServerKind = mode === "queue" ? "fanout" : "fanout-naive";
    let baseline: number | null = null;
    for (const percent of percents) {
      const slow = Math.round((clients * percent) / 100);
      progress(`isolation: ${mode}, ${slow} of ${clients} clients slow`);
      const point = await runPoint(
        { kind, rate, payloadBytes, fanoutFlags: options.fanoutFlags },
        {
          groups: [
            { name: "fast", count: clients - slow },
            ...(slow > 0
              ? [{ name: "slow", count: slow, periodMs: slowPeriodMs }]
              : []),
          ],
          warmupMs: options.quick ? 3000 : 5000,
          measureMs: options.quick ? 2000 : 5000,
          graceMs: 1000,
          ack: options.ack,
          path: options.clientPath,
        },
        paths,
      );
      const fast = point.groups.fast;
      const p99 = fast?.latency_ms.p99 ?? null;
      if (percent === 0) baseline = p99;
      rows.push({
        mode,
        slow_percent: percent,
        slow_clients: slow,
        fast_p50_ms: fast?.latency_ms.p50 ?? null,
        fast_p99_ms: p99,
        fast_delivery_ratio: fast?.delivery_ratio ?? null,
        fast_p99_vs_baseline: p99 !== null && baseline ? p99 / baseline : null,
        point,
      });
      progress(
        `  fast p50/p99 ${fast?.latency_ms.p50}/${p99} ms, delivered ${
          fast?.delivery_ratio?.toFixed(4)
        }, server ${point.server_cpu_cores} cores`,
      );
    }
  }
  return {
    scenario: "isolation",
    clients,
    rate,
    payload_bytes: payloadBytes,
    slow_period_ms: slowPeriodMs,
    rows,
  };
}
