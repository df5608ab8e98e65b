/**
 * The ladder (`--policy ladder`), measured beside Bun and the bare Deno
 * servers in the same run, with the server pinned to one core and the load
 * generator to the other (`taskset -c`):
 *
 * - `batch`: clients that accept arrays (`?batch=auto`, the SDK's default)
 *   at N × 100 Hz: delivered share, p50/p99, server CPU per delivery, and
 *   each as a ratio to Bun's;
 * - `strict`: the same with a strict reader as the generator (Node's `ws`,
 *   JSON.parse of every frame) at 2,000 and 3,000: nobody cut, what arrives
 *   within the queue's bound, beside fanout's default policy and Bun;
 * - `default`: plain clients at 1,000 × 100 Hz, fanout's default policy
 *   against the ladder (the ladder must cost nothing per message);
 * - `isolation`: fast clients and one reader at 10 % of the rate, queue mode
 *   against the ladder: is the slow reader still connected, and the fast
 *   clients' p99 as a ratio to queue mode's.
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

/** The server's CPU (`taskset -c`). */
export const SERVER_CPUS = "0";
/** The load generator's CPU. */
export const GENERATOR_CPUS = "1";
const RATE = 100;
const LADDER = ["--policy", "ladder"] as const;

/** One measured configuration: the run with the median CPU per delivery, and each figure's spread. */
export interface LadderRun {
  /** What ran: `fanout --policy ladder`, `bun`, … */
  readonly name: string;
  /** The repeat whose CPU per delivery is the median. */
  readonly result: PointResult;
  /** Median, min and max of each figure over the interleaved repeats. */
  readonly spread: Record<string, Spread>;
}

/** One point of the ladder scenario. */
export interface LadderPoint {
  readonly case: "batch" | "strict" | "default" | "isolation";
  /** The load generator's clients (`lean`: no parse; `ws`: JSON.parse per frame). */
  readonly reader: "lean" | "ws";
  readonly clients: number;
  readonly rate: number;
  /** Interleaved repeats of each configuration. */
  readonly repeats: number;
  readonly runs: LadderRun[];
  /** The verdict figures of the point (ratios of medians; see the module doc). */
  readonly ratios: Record<string, number | null>;
}

/** The ladder scenario's output. */
export interface LadderResult {
  readonly scenario: "ladder";
  /** How the processes were pinned. */
  readonly pinning: { readonly server: string; readonly generator: string };
  readonly points: LadderPoint[];
}

/** The figures whose spread over repeats is kept, per group. */
function figuresOf(
  r: PointResult,
  group: string,
): Record<string, number | null> {
  const g = r.groups[group];
  return {
    delivered: g?.delivery_ratio ?? null,
    p50_ms: g?.latency_ms.p50 ?? null,
    p99_ms: g?.latency_ms.p99 ?? null,
    cpu_us_per_delivery: r.server_cpu_us_per_delivery ?? null,
    generator_cpu_cores: r.generator_cpu_cores ?? null,
    cut: Object.values(g?.closes ?? {}).reduce((n, c) => n + c, 0),
    ...(group === "fast" ? {} : { open_at_end: g?.open_at_end ?? null }),
  };
}

function spreadOfRuns(
  runs: readonly PointResult[],
  group = "fast",
): Record<string, Spread> {
  const rows = runs.map((r) => figuresOf(r, group));
  return Object.fromEntries(
    Object.keys(rows[0] ?? {}).map((k) => [
      k,
      spreadOfValues(rows.map((row) => row[k] ?? null)),
    ]),
  );
}

function medianRun(runs: readonly PointResult[]): PointResult {
  const sorted = [...runs].sort((a, b) =>
    (a.server_cpu_us_per_delivery ?? Infinity) -
    (b.server_cpu_us_per_delivery ?? Infinity)
  );
  return sorted[Math.floor((sorted.length - 1) / 2)]!;
}

const med = (run: LadderRun | undefined, figure: string, group = "fast") =>
  group === "fast"
    ? run?.spread[figure]?.median ?? null
    : run?.spread[`${group}.${figure}`]?.median ?? null;

function ratio(a: number | null, b: number | null): number | null {
  return a === null || b === null || b === 0 ? null : round(a / b, 3);
}

/** A configuration of a point: a name, the server, its flags and path. */
interface Config {
  readonly name: string;
  readonly kind: ServerKind;
  readonly flags: readonly string[];
  readonly path: string;
}

/**
 * Runs the ladder scenario: every configuration of a point once per repeat,
 * interleaved (so drift on the machine hits each alike), then medians,
 * ranges and the ratios of medians.
 */
export async function runLadder(
  options: BenchOptions,
  paths: BenchPaths,
): Promise<LadderResult> {
  const quick = options.quick;
  const repeats = options.repeat;
  const warmupMs = quick ? 1000 : 3000;
  const measureMs = quick ? 2000 : 10_000;
  const batchClients = quick ? [100] : [1000, 2000, 3000];
  const peers: ServerKind[] = options.peers.filter((k) =>
    k === "bun" || k === "deno-loop" || k === "deno-queue"
  );
  const point = async (
    configs: readonly Config[],
    clients: number,
    slow = 0,
    reader: "lean" | "ws" = "lean",
  ): Promise<LadderRun[]> => {
    const results = configs.map((): PointResult[] => []);
    for (let repeat = 0; repeat < repeats; repeat++) {
      for (const [i, c] of configs.entries()) {
        progress(
          `ladder: ${c.name}, ${clients} clients × ${RATE} Hz, ${c.path}, ${reader} reader${
            repeats > 1 ? ` (run ${repeat + 1}/${repeats})` : ""
          }`,
        );
        results[i]!.push(
          await runPoint(
            {
              kind: c.kind,
              rate: RATE,
              payloadBytes: 64,
              fanoutFlags: [...options.fanoutFlags, ...c.flags],
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
              path: c.path,
              cpus: GENERATOR_CPUS,
              reader,
            },
            paths,
          ),
        );
      }
    }
    return configs.map((c, i) => ({
      name: c.name,
      result: medianRun(results[i]!),
      spread: {
        ...spreadOfRuns(results[i]!),
        ...(slow > 0
          ? Object.fromEntries(
            Object.entries(spreadOfRuns(results[i]!, "slow")).map((
              [k, v],
            ) => [`slow.${k}`, v]),
          )
          : {}),
      },
    }));
  };
  const points: LadderPoint[] = [];
  for (const clients of batchClients) {
    const runs = await point([
      {
        name: "fanout --policy ladder",
        kind: "fanout",
        flags: LADDER,
        path: "/?batch=auto",
      },
      ...peers.map((kind) => ({ name: kind, kind, flags: [], path: "/" })),
    ], clients);
    const ours = runs[0];
    const bun = runs.find((r) => r.name === "bun");
    points.push({
      case: "batch",
      reader: "lean",
      clients,
      rate: RATE,
      repeats,
      runs,
      ratios: {
        delivered: med(ours, "delivered"),
        cut: med(ours, "cut"),
        p50_vs_bun: ratio(med(ours, "p50_ms"), med(bun, "p50_ms")),
        p99_vs_bun: ratio(med(ours, "p99_ms"), med(bun, "p99_ms")),
        cpu_per_delivery_vs_bun: ratio(
          med(ours, "cpu_us_per_delivery"),
          med(bun, "cpu_us_per_delivery"),
        ),
      },
    });
  }
  // A strict reader (`ws`, JSON.parse per frame) as the generator: the
  // clients a busy reader serves last look slow, though the cause is the
  // server's frames. Nobody may be cut for it, and what arrives stays within
  // the queue's own bound.
  for (const clients of quick ? [100] : [2000, 3000]) {
    const runs = await point(
      [
        {
          name: "fanout --policy ladder",
          kind: "fanout",
          flags: LADDER,
          path: "/?batch=auto",
        },
        { name: "fanout (default)", kind: "fanout", flags: [], path: "/" },
        ...peers.filter((k) => k === "bun").map((kind) => ({
          name: kind,
          kind,
          flags: [],
          path: "/",
        })),
      ],
      clients,
      0,
      "ws",
    );
    const [ours, plain] = runs;
    const bun = runs.find((r) => r.name === "bun");
    points.push({
      case: "strict",
      reader: "ws",
      clients,
      rate: RATE,
      repeats,
      runs,
      ratios: {
        delivered: med(ours, "delivered"),
        cut: med(ours, "cut"),
        p99_ms: med(ours, "p99_ms"),
        cut_default: med(plain, "cut"),
        p50_vs_bun: ratio(med(ours, "p50_ms"), med(bun, "p50_ms")),
        p99_vs_bun: ratio(med(ours, "p99_ms"), med(bun, "p99_ms")),
        cpu_per_delivery_vs_bun: ratio(
          med(ours, "cpu_us_per_delivery"),
          med(bun, "cpu_us_per_delivery"),
        ),
      },
    });
  }
  const plainClients = quick ? 100 : 1000;
  const plain = await point([
    { name: "fanout (default)", kind: "fanout", flags: [], path: "/" },
    {
      name: "fanout --policy ladder",
      kind: "fanout",
      flags: LADDER,
      path: "/",
    },
  ], plainClients);
  points.push({
    case: "default",
    reader: "lean",
    clients: plainClients,
    rate: RATE,
    repeats,
    runs: plain,
    ratios: {
      delivered_default: med(plain[0], "delivered"),
      delivered_ladder: med(plain[1], "delivered"),
      cpu_per_delivery_ladder_vs_default: ratio(
        med(plain[1], "cpu_us_per_delivery"),
        med(plain[0], "cpu_us_per_delivery"),
      ),
    },
  });
  const isoClients = quick ? 50 : 500;
  const iso = await point(
    [
      {
        name: "fanout (queue) + slow reader",
        kind: "fanout",
        flags: [],
        path: "/?batch=auto",
      },
      {
        name: "fanout --policy ladder + slow reader",
        kind: "fanout",
        flags: LADDER,
        path: "/?batch=auto",
      },
    ],
    isoClients,
    1,
  );
  points.push({
    case: "isolation",
    reader: "lean",
    clients: isoClients,
    rate: RATE,
    repeats,
    runs: iso,
    ratios: {
      slow_connected_queue: med(iso[0], "open_at_end", "slow"),
      slow_connected_ladder: med(iso[1], "open_at_end", "slow"),
      fast_p99_ladder_vs_queue: ratio(
        med(iso[1], "p99_ms"),
        med(iso[0], "p99_ms"),
      ),
    },
  });
  return {
    scenario: "ladder",
    pinning: { server: SERVER_CPUS, generator: GENERATOR_CPUS },
    points,
  };
}

/** One line per point, for the console: medians, with the range over the repeats. */
export function describeLadder(point: LadderPoint): string {
  const fig = (sp: Spread | undefined, scale = 1, digits = 1) => {
    if (!sp || sp.median === null) return "-";
    const f = (v: number | null) =>
      v === null ? "-" : (v * scale).toFixed(digits);
    return point.repeats > 1
      ? `${f(sp.median)} [${f(sp.min)}–${f(sp.max)}]`
      : f(sp.median);
  };
  const runs = point.runs.map(({ name, spread }) =>
    `${name}: delivered ${fig(spread.delivered, 100)} %, p50 ${
      fig(spread.p50_ms)
    } ms, p99 ${fig(spread.p99_ms)} ms, ${
      fig(spread.cpu_us_per_delivery, 1, 2)
    } µs/delivery, generator ${fig(spread.generator_cpu_cores, 1, 2)} cores`
  );
  return `${point.case} ${point.clients} × ${point.rate} Hz (${point.reader} reader; server on CPU ${SERVER_CPUS}, generator on CPU ${GENERATOR_CPUS}, medians of ${point.repeats} interleaved runs [range]): ${
    runs.join("; ")
  }; ${JSON.stringify(point.ratios)}`;
}
