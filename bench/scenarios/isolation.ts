/**
 * Scenario 1 — the isolation curve: fast clients' p50/p99 latency and
 * delivery ratio against the share of slow clients (0, 1, 5, 10 % of N),
 * naive mode against queue mode.
 *
 * Payloads are large (16 KiB) on purpose: a slow client's loopback socket
 * absorbs ~4 MB before the server feels anything (kernel socket buffers). At
 * 16 KiB × 50 msg/s a client reading 5 msg/s fills that in ~4 s, inside the
 * warm-up, so the window sees the steady state: naive mode stalled behind
 * the slowest reader, queue mode cutting slow clients off by policy.
 *
 * @module
 */
import { type BenchOptions, progress } from "../_options.ts";
import { type PointResult, runPoint, spreadOfValues } from "../_point.ts";
import type { BenchPaths, ServerKind } from "../_servers.ts";

/** One (mode, slow share) point: the median of its repetitions. */
export interface IsolationRow {
  mode: "naive" | "queue";
  slow_percent: number;
  slow_clients: number;
  /** Fast clients' p50, ms: the median over the repetitions. */
  fast_p50_ms: number | null;
  /** Fast clients' p99, ms: the median over the repetitions. */
  fast_p99_ms: number | null;
  /** Fast clients' p99 of every repetition, ms, in run order. */
  fast_p99_runs_ms: (number | null)[];
  /** Fast clients' delivery ratio: the lowest over the repetitions. */
  fast_delivery_ratio: number | null;
  /** fast p99 ÷ the same mode's p99 with no slow client (medians). */
  fast_p99_vs_baseline: number | null;
  /** The repetition whose p99 is the median. */
  point: PointResult;
}

/** The isolation scenario's output. */
export interface IsolationResult {
  readonly scenario: "isolation";
  readonly clients: number;
  readonly rate: number;
  readonly payload_bytes: number;
  readonly slow_period_ms: number;
  /** Runs per queue-mode point (naive mode runs once: its stall is seconds). */
  readonly repetitions: number;
  readonly rows: IsolationRow[];
}

/** Median of the numbers in `xs` (nulls ignored), or null; repetitions are odd (1 or 3). */
function median(xs: readonly (number | null)[]): number | null {
  return spreadOfValues(xs).median;
}

/**
 * Runs the isolation scenario. Fast clients' p99 is a few milliseconds on two
 * shared cores, so one run per point is noise against a 1.2× target: queue
 * mode runs every point three times, interleaved (0, 1, 5, 10 %, then again)
 * so drift on the machine hits every share alike, and reports the medians.
 */
export async function runIsolation(
  options: BenchOptions,
  paths: BenchPaths,
): Promise<IsolationResult> {
  const clients = options.quick ? 10 : 100;
  const rate = 50;
  const payloadBytes = 16 * 1024;
  const slowPeriodMs = 200;
  const percents = options.quick ? [0, 10] : [0, 1, 5, 10];
  const repetitions = options.quick ? 1 : 3;
  const slowCount = (percent: number) => Math.round((clients * percent) / 100);
  const rows: IsolationRow[] = [];
  for (const mode of ["queue", "naive"] as const) {
    const kind: ServerKind = mode === "queue" ? "fanout" : "fanout-naive";
    const runs = new Map<number, PointResult[]>(percents.map((p) => [p, []]));
    const reps = mode === "queue" ? repetitions : 1;
    for (let rep = 1; rep <= reps; rep++) {
      for (const percent of percents) {
        const slow = slowCount(percent);
        progress(
          `isolation: ${mode}, ${slow} of ${clients} clients slow` +
            (reps > 1 ? ` (run ${rep} of ${reps})` : ""),
        );
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
            measureMs: options.quick ? 2000 : 4000,
            graceMs: 1000,
            ack: options.ack,
            path: options.clientPath,
          },
          paths,
        );
        const fast = point.groups.fast;
        runs.get(percent)!.push(point);
        progress(
          `  fast p50/p99 ${fast?.latency_ms.p50}/${fast?.latency_ms.p99} ms, ` +
            `delivered ${
              fast?.delivery_ratio?.toFixed(4)
            }, server ${point.server_cpu_cores} cores`,
        );
      }
    }
    let baseline: number | null = null;
    for (const percent of percents) {
      const points = runs.get(percent)!;
      const p99s = points.map((p) => p.groups.fast?.latency_ms.p99 ?? null);
      const p99 = median(p99s);
      if (percent === 0) baseline = p99;
      const ratios = points.map((p) => p.groups.fast?.delivery_ratio ?? null)
        .filter((x): x is number => x !== null);
      rows.push({
        mode,
        slow_percent: percent,
        slow_clients: slowCount(percent),
        fast_p50_ms: median(
          points.map((p) => p.groups.fast?.latency_ms.p50 ?? null),
        ),
        fast_p99_ms: p99,
        fast_p99_runs_ms: p99s,
        fast_delivery_ratio: ratios.length ? Math.min(...ratios) : null,
        fast_p99_vs_baseline: p99 !== null && baseline ? p99 / baseline : null,
        point: points.find((p) => p.groups.fast?.latency_ms.p99 === p99) ??
          points[0]!,
      });
    }
  }
  return {
    scenario: "isolation",
    clients,
    rate,
    payload_bytes: payloadBytes,
    slow_period_ms: slowPeriodMs,
    repetitions,
    rows,
  };
}
