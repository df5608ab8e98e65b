/**
 * The storm scenario: a node's clients all come back at once. Node B (the
 * publisher, on Redis with history) serves `bystanders` clients; node A
 * (same Redis, serving only) serves `resumers` SDK clients behind a tiny
 * in-process "load balancer" (a WebSocket wrapper that sends each new
 * connection to the node in service). Then A is killed (`kill`) or drained
 * (`drain`, SIGTERM with `--drain-ms`) and every resumer resumes on B.
 *
 * Measured: the bystanders' p99 latency (receive time − `ts_send`) over a
 * window before the storm and during it (target ≤ 2×), the storm's length
 * (from A's end until every resumer has caught up with the stream), and for
 * every resumer the holes and duplicates in what it delivered, plus what
 * the SDK announced as lost (`gap`). A bench scenario, not a timed test:
 *
 *   deno task bench:storm                                 # 2,000 on A, 1,000 on B, kill
 *   deno task bench:storm --variant drain --drain-ms 10000
 *   deno task bench:storm --resumers 50 --bystanders 20   # a smoke run
 *
 * @module
 */
import { parseArgs } from "node:util";
import { Histogram } from "../../lib/histogram.ts";
import { FanoutClient } from "../../sdk/mod.ts";
import { RedisServer } from "../_redis.ts";
import { type BenchPaths, startServer } from "../_servers.ts";

/** What a storm run does. */
export interface StormOptions {
  /** Clients on node A that will all resume on B. */
  readonly resumers: number;
  /** Clients already on node B whose latency is watched. */
  readonly bystanders: number;
  /** Messages per second B publishes. */
  readonly rate: number;
  /** Messages of history per channel (Redis). */
  readonly history: number;
  /** How A ends: SIGKILL, or SIGTERM with a drain. */
  readonly variant: "kill" | "drain";
  /** `--drain-ms` of node A (the drain variant). */
  readonly drainMs: number;
  /** The window measured before the storm, ms. */
  readonly baselineMs: number;
  /** Longest a storm may take before the run gives up, ms. */
  readonly maxStormMs: number;
  /** Extra `fanout server` flags for both nodes (e.g. `--replay-budget 20000`). */
  readonly flags: readonly string[];
}

/** What a storm run measured. */
export interface StormResult {
  readonly scenario: "storm";
  readonly options: StormOptions;
  readonly bystander_p99_before_ms: number;
  readonly bystander_p99_during_ms: number;
  /** During ÷ before (target ≤ 2). */
  readonly p99_ratio: number;
  /** From A's end until every resumer caught up (or the run gave up), ms. */
  readonly storm_ms: number;
  /** Resumers that caught up on B. */
  readonly resumed: number;
  /** Seqs skipped between consecutive delivered messages, over all resumers. */
  readonly holes: number;
  /** Messages delivered twice, over all resumers. */
  readonly duplicates: number;
  /** Messages the SDK said were lost (`gap`, `dropped`), over all resumers. */
  readonly announced_missed: number;
  /** Refusals and hints the resumers saw on the way (4503, …), by close code. */
  readonly closes_by_code: Record<string, number>;
}

/** One resumer's account of what it delivered. */
interface Track {
  readonly client: FanoutClient;
  last: number;
  holes: number;
  duplicates: number;
}

/** Runs one storm. */
export async function runStorm(
  o: StormOptions,
  paths: BenchPaths,
): Promise<StormResult> {
  await using redis = await RedisServer.start();
  const shared = ["--broker", redis.url, "--history", String(o.history)];
  const flags = [...shared, "--max-clients", "100000", ...o.flags];
  await using b = await startServer(
    { kind: "fanout", rate: o.rate, payloadBytes: 64, fanoutFlags: flags },
    paths,
  );
  await using a = await startServer({
    kind: "fanout",
    rate: o.rate,
    payloadBytes: 64,
    fanoutFlags: [
      ...flags,
      ...["--source", "http", "--publish-token", "bench"],
      ...["--drain-ms", String(o.drainMs)],
    ],
  }, paths);
  let target = a.port;
  // The "load balancer": every new connection goes to the node in service.
  class Balanced extends WebSocket {
    constructor(url: string) {
      const u = new URL(url);
      u.port = String(target);
      super(u.href);
    }
  }
  let phase: "warmup" | "before" | "during" | "after" = "warmup";
  const latency = { before: new Histogram(), during: new Histogram() };
  let head = 0;
  const bystanders = Array.from({ length: o.bystanders }, () => {
    const c = new FanoutClient(`ws://127.0.0.1:${b.port}/`);
    c.on("message", (m) => {
      head = Math.max(head, m.seq);
      if (phase === "before" || phase === "during") {
        latency[phase].record(Math.max(0, Date.now() - m.ts_send * 1000));
      }
    });
    return c.start();
  });
  const closes: Record<string, number> = {};
  const tracks: Track[] = Array.from({ length: o.resumers }, () => {
    const client = new FanoutClient(`ws://127.0.0.1:${a.port}/`, {
      WebSocket: Balanced,
    });
    const t: Track = { client, last: 0, holes: 0, duplicates: 0 };
    client.on("message", (m) => {
      if (t.last > 0 && m.seq <= t.last) t.duplicates++;
      else if (t.last > 0) t.holes += m.seq - t.last - 1;
      t.last = Math.max(t.last, m.seq);
    });
    client.on("close", (e) => {
      if (phase === "during") closes[e.code] = (closes[e.code] ?? 0) + 1;
    });
    return t;
  });
  try {
    // Open the resumers a few at a time, as a node's clients would arrive.
    for (let i = 0; i < tracks.length; i += 100) {
      for (const t of tracks.slice(i, i + 100)) t.client.start();
      await sleep(50);
    }
    await until(
      () => tracks.every((t) => t.last > 0) && head > 0,
      120_000,
      "every client's first message",
    );
    phase = "before";
    await sleep(o.baselineMs);
    phase = "during";
    const start = performance.now();
    target = b.port;
    a.child.process.kill(o.variant === "kill" ? "SIGKILL" : "SIGTERM");
    const slack = Math.ceil(o.rate / 2);
    const caughtUp = () =>
      tracks.filter((t) =>
        t.client.stats.connects >= 2 && t.last >= head - slack
      )
        .length;
    await until(() => caughtUp() === tracks.length, o.maxStormMs, "")
      .catch(() => {});
    const stormMs = Math.round(performance.now() - start);
    phase = "after";
    const before = latency.before.percentile(0.99);
    const during = latency.during.percentile(0.99);
    return {
      scenario: "storm",
      options: o,
      bystander_p99_before_ms: round(before),
      bystander_p99_during_ms: round(during),
      p99_ratio: before > 0 ? round(during / before) : 0,
      storm_ms: stormMs,
      resumed: caughtUp(),
      holes: tracks.reduce((n, t) => n + t.holes, 0),
      duplicates: tracks.reduce((n, t) => n + t.duplicates, 0),
      announced_missed: tracks.reduce((n, t) => n + t.client.stats.missed, 0),
      closes_by_code: closes,
    };
  } finally {
    for (const t of tracks) t.client.close();
    for (const c of bystanders) c.close();
  }
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

async function until(check: () => boolean, ms: number, what: string) {
  const end = performance.now() + ms;
  while (!check()) {
    if (performance.now() > end) throw new Error(`timed out: ${what}`);
    await sleep(100);
  }
}

function round(x: number): number {
  return Math.round(x * 10) / 10;
}

if (import.meta.main) {
  const { values } = parseArgs({
    args: Deno.args,
    options: {
      resumers: { type: "string", default: "2000" },
      bystanders: { type: "string", default: "1000" },
      rate: { type: "string", default: "20" },
      history: { type: "string", default: "10000" },
      variant: { type: "string", default: "kill" },
      "drain-ms": { type: "string", default: "10000" },
      "baseline-ms": { type: "string", default: "10000" },
      "max-storm-ms": { type: "string", default: "120000" },
      flag: { type: "string", multiple: true, default: [] },
    },
  });
  const variant = values.variant === "drain" ? "drain" : "kill";
  const root = new URL("../../", import.meta.url).pathname;
  const result = await runStorm({
    resumers: Number(values.resumers),
    bystanders: Number(values.bystanders),
    rate: Number(values.rate),
    history: Number(values.history),
    variant,
    drainMs: Number(values["drain-ms"]),
    baselineMs: Number(values["baseline-ms"]),
    maxStormMs: Number(values["max-storm-ms"]),
    flags: values.flag ?? [],
  }, {
    fanoutDir: root,
    peersDir: `${root}bench/peers`,
    bun: undefined,
    node: undefined,
  });
  console.log(JSON.stringify(result, null, 2));
}
