/**
 * The ladder (`--policy ladder`), measured beside Bun and the bare Deno
 * servers in the same run, with the server pinned to one core and the load
 * generator to the other (`taskset -c`):
 *
 * - `batch`: clients that accept arrays (`?batch=auto`, the SDK's default)
 *   at N × 100 Hz: delivered share, p50/p99, server CPU per delivery, and
 *   each as a ratio to Bun's;
 * - `default`: plain clients at 1,000 × 100 Hz, fanout's default policy
 *   against the ladder (the ladder must cost nothing per message);
 * - `isolation`: fast clients and one reader at 10 % of the rate, queue mode
 *   against the ladder: is the slow reader still connected, and the fast
 *   clients' p99 as a ratio to queue mode's.
 *
 * @module
 */
import { type BenchOptions, progress } from "../_options.ts";
import { type PointResult, round, runPoint } from "../_point.ts";
import type { BenchPaths, ServerKind } from "../_servers.ts";

/** The server's CPU (`taskset -c`). */
export const SERVER_CPUS = "0";
/** The load generator's CPU. */
export const GENERATOR_CPUS = "1";
const RATE = 100;
const LADDER = ["--policy", "ladder"] as const;

/** One measured configuration. */
export interface LadderRun {
  /** What ran: `fanout --policy ladder`, `bun`, … */
  readonly name: string;
  readonly result: PointResult;
}

/** One point of the ladder scenario. */
export interface LadderPoint {
  readonly case: "batch" | "default" | "isolation";
  readonly clients: number;
  readonly rate: number;
  readonly runs: LadderRun[];
  /** The verdict figures of the point (ratios; see the module doc). */
  readonly ratios: Record<string, number | null>;
}

/** The ladder scenario's output. */
export interface LadderResult {
  readonly scenario: "ladder";
  /** How the processes were pinned. */
  readonly pinning: { readonly server: string; readonly generator: string };
  readonly points: LadderPoint[];
}

function p(r: PointResult, group = "fast"): {
  p50: number | null;
  p99: number | null;
  delivered: number | null;
} {
  const g = r.groups[group];
  return {
    p50: g?.latency_ms.p50 ?? null,
    p99: g?.latency_ms.p99 ?? null,
    delivered: g?.delivery_ratio ?? null,
  };
}

function ratio(a: number | null, b: number | null): number | null {
  return a === null || b === null || b === 0 ? null : round(a / b, 3);
}

/** Runs the ladder scenario. */
export async function runLadder(
  options: BenchOptions,
  paths: BenchPaths,
): Promise<LadderResult> {
  const quick = options.quick;
  const warmupMs = quick ? 1000 : 3000;
  const measureMs = quick ? 2000 : 10_000;
  const batchClients = quick ? [100] : [1000, 2000, 3000];
  const peers: ServerKind[] = options.peers.filter((k) =>
    k === "bun" || k === "deno-loop" || k === "deno-queue"
  );
  const point = async (
    name: string,
    kind: ServerKind,
    flags: readonly string[],
    clients: number,
    path: string,
    slow = 0,
  ): Promise<LadderRun> => {
    progress(`ladder: ${name}, ${clients} clients × ${RATE} Hz, ${path}`);
    const result = await runPoint(
      {
        kind,
        rate: RATE,
        payloadBytes: 64,
        fanoutFlags: [...options.fanoutFlags, ...flags],
        cpus: SERVER_CPUS,
      },
      {
        groups: [
          { name: "fast", count: clients },
          ...(slow > 0
            ? [{ name: "slow", count: slow, periodMs: 10_000 / RATE }]
            : []),
        ],
        warmupMs,
        measureMs,
        path,
        cpus: GENERATOR_CPUS,
      },
      paths,
    );
    return { name, result };
  };
  const points: LadderPoint[] = [];
  for (const clients of batchClients) {
    const runs = [
      await point(
        "fanout --policy ladder",
        "fanout",
        LADDER,
        clients,
        "/?batch=auto",
      ),
    ];
    for (const kind of peers) {
      runs.push(await point(kind, kind, [], clients, "/"));
    }
    const ours = runs[0]!.result;
    const bun = runs.find((r) => r.name === "bun")?.result;
    points.push({
      case: "batch",
      clients,
      rate: RATE,
      runs,
      ratios: {
        delivered: p(ours).delivered,
        cut: Object.values(ours.groups.fast?.closes ?? {}).reduce(
          (n, c) => n + c,
          0,
        ),
        p50_vs_bun: bun ? ratio(p(ours).p50, p(bun).p50) : null,
        p99_vs_bun: bun ? ratio(p(ours).p99, p(bun).p99) : null,
        cpu_per_delivery_vs_bun: bun
          ? ratio(
            ours.server_cpu_us_per_delivery,
            bun.server_cpu_us_per_delivery,
          )
          : null,
      },
    });
  }
  const plainClients = quick ? 100 : 1000;
  const today = await point(
    "fanout (default)",
    "fanout",
    [],
    plainClients,
    "/",
  );
  const laddered = await point(
    "fanout --policy ladder",
    "fanout",
    LADDER,
    plainClients,
    "/",
  );
  points.push({
    case: "default",
    clients: plainClients,
    rate: RATE,
    runs: [today, laddered],
    ratios: {
      cpu_per_delivery_ladder_vs_default: ratio(
        laddered.result.server_cpu_us_per_delivery,
        today.result.server_cpu_us_per_delivery,
      ),
    },
  });
  const isoClients = quick ? 50 : 500;
  const queue = await point(
    "fanout (queue) + slow reader",
    "fanout",
    [],
    isoClients,
    "/?batch=auto",
    1,
  );
  const ladder = await point(
    "fanout --policy ladder + slow reader",
    "fanout",
    LADDER,
    isoClients,
    "/?batch=auto",
    1,
  );
  points.push({
    case: "isolation",
    clients: isoClients,
    rate: RATE,
    runs: [queue, ladder],
    ratios: {
      slow_connected_queue: queue.result.groups.slow?.open_at_end ?? null,
      slow_connected_ladder: ladder.result.groups.slow?.open_at_end ?? null,
      fast_p99_ladder_vs_queue: ratio(
        p(ladder.result).p99,
        p(queue.result).p99,
      ),
    },
  });
  return {
    scenario: "ladder",
    pinning: { server: SERVER_CPUS, generator: GENERATOR_CPUS },
    points,
  };
}

/** One line per point, for the console. */
export function describeLadder(point: LadderPoint): string {
  const runs = point.runs.map(({ name, result: r }) => {
    const f = p(r);
    return `${name}: ${r.deliveries_per_s}/s (${
      f.delivered === null ? "-" : (f.delivered * 100).toFixed(1)
    } %), p50 ${f.p50 ?? "-"} ms, p99 ${f.p99 ?? "-"} ms, ${
      r.server_cpu_us_per_delivery ?? "-"
    } µs/delivery`;
  });
  return `${point.case} ${point.clients} × ${point.rate} Hz (server on CPU ${SERVER_CPUS}, generator on CPU ${GENERATOR_CPUS}): ${
    runs.join("; ")
  }; ${JSON.stringify(point.ratios)}`;
}
