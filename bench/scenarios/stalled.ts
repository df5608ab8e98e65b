/**
 * Scenario 4 — stalled clients: server RSS over time with k clients that
 * never read after the handshake (plus a few fast ones). It must level off,
 * bounded by the queue bounds, not grow with time. fanout runs twice: with
 * its disconnect policy off (the stalled clients stay, their queues full:
 * this is the bound) and with its defaults (they are cut off); the peers run
 * with theirs.
 *
 * @module
 */
import { type BenchOptions, progress } from "../_options.ts";
import { type PointResult, runPoint } from "../_point.ts";
import type { BenchPaths, ServerKind } from "../_servers.ts";

/** The stalled-clients scenario's output. */
export interface StalledResult {
  readonly scenario: "stalled";
  readonly stalled_clients: number;
  readonly fast_clients: number;
  readonly rate: number;
  readonly payload_bytes: number;
  readonly runs: {
    name: string;
    server: ServerKind;
    /** RSS growth over the second half of the run, KiB/s (≈0 when bounded). */
    late_growth_kb_per_s: number;
    rss_max_kb: number;
    point: PointResult;
  }[];
}

/** Runs the stalled-clients scenario. */
export async function runStalled(
  options: BenchOptions,
  paths: BenchPaths,
): Promise<StalledResult> {
  const stalled = options.quick ? 5 : 20;
  const fast = 5;
  const rate = 100;
  const payloadBytes = 16 * 1024;
  const seconds = options.quick ? 4 : 15;
  const configs: { name: string; kind: ServerKind; flags: string[] }[] = [
    {
      name: "fanout, policy off",
      kind: "fanout",
      flags: [
        "--drop-limit",
        "1000000000",
        "--full-timeout",
        "86400",
        "--ping-interval",
        "0",
      ],
    },
    ...(options.quick
      ? []
      : [{ name: "fanout, defaults", kind: "fanout" as const, flags: [] }]),
    ...(options.quick ? options.peers.slice(0, 1) : options.peers).map((
      kind,
    ) => ({ name: kind, kind, flags: [] })),
  ];
  const runs: StalledResult["runs"] = [];
  for (const c of configs) {
    progress(`stalled: ${c.name}, ${stalled} stalled + ${fast} fast clients`);
    const point = await runPoint(
      {
        kind: c.kind,
        rate,
        payloadBytes,
        fanoutFlags: [...c.flags, ...options.fanoutFlags],
      },
      {
        groups: [
          { name: "fast", count: fast },
          { name: "stalled", count: stalled, stalled: true },
        ],
        warmupMs: 500,
        measureMs: seconds * 1000,
        graceMs: 200,
        timelineMs: 500,
        path: options.clientPath,
      },
      paths,
    );
    const tl = point.timeline ?? [];
    const half = tl.filter((s) => s.t_s >= (tl.at(-1)?.t_s ?? 0) / 2);
    const growth = half.length >= 2
      ? (half.at(-1)!.rss_kb - half[0]!.rss_kb) /
        (half.at(-1)!.t_s - half[0]!.t_s)
      : 0;
    runs.push({
      name: c.name,
      server: c.kind,
      late_growth_kb_per_s: Math.round(growth),
      rss_max_kb: point.rss_max_kb,
      point,
    });
    progress(
      `  RSS max ${(point.rss_max_kb / 1024).toFixed(1)} MiB, late growth ${
        Math.round(growth)
      } KiB/s, fast p99 ${point.groups.fast?.latency_ms.p99} ms`,
    );
  }
  return {
    scenario: "stalled",
    stalled_clients: stalled,
    fast_clients: fast,
    rate,
    payload_bytes: payloadBytes,
    runs,
  };
}
