/**
 * `deno task bench`: the benchmark suite. Every scenario starts its servers
 * (fanout as `deno run main.ts server`, and the peers in `bench/peers/`) and
 * the load generator (`bench/loadgen.mjs`, a separate Node process) on
 * 127.0.0.1, runs for a bounded time, reads CPU time and RSS from `/proc`,
 * and writes JSON to `bench/results/` and SVG charts to `docs/`.
 *
 *   deno task bench                 # everything, ~36 minutes on 2 cores
 *   deno task bench --quick         # the ~2-minute smoke run CI uses
 *   deno task bench --only scale    # some scenarios: isolation, latency-drop,
 *                                   # scale, stalled, overload, cluster, micro,
 *                                   # ladder (pinned with taskset, beside Bun)
 *
 * See bench/README.md for every option and what each figure means.
 *
 * @module
 */
import { parseArgs } from "node:util";
import {
  isolationSpec,
  latencyDropSpec,
  overloadSpec,
  renderSvg,
  scaleSpec,
  stalledSpec,
} from "./charts.ts";
import { type BenchOptions, progress } from "./_options.ts";
import { clockTicks, initClockTicks } from "./_proc.ts";
import { round } from "./_point.ts";
import {
  type BenchPaths,
  filePath,
  findPaths,
  PEERS_MISSING,
  type ServerKind,
} from "./_servers.ts";
import { type IsolationResult, runIsolation } from "./scenarios/isolation.ts";
import { runLatencyDrop } from "./scenarios/latency_drop.ts";
import { runMicro } from "./scenarios/micro.ts";
import { describe, runScale, type ScaleResult } from "./scenarios/scale.ts";
import {
  type ClusterResult,
  describeCluster,
  runCluster,
} from "./scenarios/cluster.ts";
import { REDIS_SERVER_PATH } from "./_redis.ts";
import {
  describeOverload,
  type OverloadResult,
  runOverload,
} from "./scenarios/overload.ts";
import { runStalled } from "./scenarios/stalled.ts";
import {
  describeLadder,
  type LadderResult,
  runLadder,
} from "./scenarios/ladder.ts";

const SCENARIOS = [
  "isolation",
  "latency-drop",
  "scale",
  "stalled",
  "overload",
  "cluster",
  "micro",
  "ladder",
] as const;
type Scenario = typeof SCENARIOS[number];

const HELP = `Usage: deno task bench [--quick] [options]

  --quick               the ~2-minute smoke run (CI): fewer, shorter points;
                        results in bench/results/quick/, charts there too
  --only LIST           comma-separated scenarios: ${SCENARIOS.join(", ")}
  --peers LIST          peers measured in the same run (default
                        bun,node-ws,deno-loop,deno-queue; quick bun,node-ws;
                        also deno-raw, and fanout-serve and fanout-lean:
                        fanout without its guarded listener, and without
                        pings too; "none" for none)
  --clients LIST        scale and cluster scenarios' client counts
                        (default scale 100,500,1000,2000,3000, cluster
                        500,1000; quick 500 and 200)
  --cluster-rate N      cluster scenario's publish rate (default 100 msg/s)
  --repeat N            interleaved repeats of each scale point: medians and
                        ranges (default 1; 3 in the full run)
  --fanout-dir DIR      the fanout checkout to benchmark (default: this one)
  --fanout-flag=FLAGS   extra 'fanout server' flags, e.g.
                        --fanout-flag="--maxsize 50" (the "=" is needed:
                        the value starts with a dash; repeatable; split on
                        spaces)
  --client-path PATH    the clients' request path, e.g. "/?batch=1"
  --ack                 clients ACK every message (as the seed's do)
  --out DIR             where JSON goes (default bench/results[/quick])
  --charts DIR          where SVG charts go (default docs/, quick: --out)
  -h, --help            this help
`;

async function main(args: string[]): Promise<number> {
  const flags = parseArgs({
    args,
    strict: true,
    options: {
      quick: { type: "boolean", default: false },
      only: { type: "string" },
      peers: { type: "string" },
      clients: { type: "string" },
      "cluster-rate": { type: "string", default: "100" },
      repeat: { type: "string" },
      "fanout-dir": { type: "string" },
      "fanout-flag": { type: "string", multiple: true, default: [] },
      "client-path": { type: "string", default: "/" },
      ack: { type: "boolean", default: false },
      out: { type: "string" },
      charts: { type: "string" },
      help: { type: "boolean", short: "h", default: false },
    },
  }).values;
  if (flags.help) {
    console.log(HELP);
    return 0;
  }
  const quick = flags.quick === true;
  const only = flags.only === undefined
    ? [...SCENARIOS]
    : flags.only.split(",").map((s) => s.trim());
  for (const s of only) {
    if (!(SCENARIOS as readonly string[]).includes(s)) {
      throw new TypeError(
        `--only: unknown scenario '${s}' (choose from ${SCENARIOS.join(", ")})`,
      );
    }
  }
  const peerKinds: ServerKind[] = [
    "bun",
    "node-ws",
    "deno-loop",
    "deno-queue",
    "deno-raw",
    "fanout-serve",
    "fanout-lean",
  ];
  const peers = flags.peers === "none"
    ? []
    : (flags.peers?.split(",").map((s) => s.trim()) ??
      (quick
        ? ["bun", "node-ws"]
        : ["bun", "node-ws", "deno-loop", "deno-queue"]));
  for (const p of peers) {
    if (!(peerKinds as string[]).includes(p)) {
      throw new TypeError(
        `--peers: unknown peer '${p}' (choose from ${peerKinds.join(", ")})`,
      );
    }
  }
  const counts = (list: string) =>
    list.split(",").map((s) => {
      const n = Number(s);
      if (!Number.isInteger(n) || n < 1 || n > 10_000) {
        throw new RangeError(
          `--clients: '${s}' is not a count from 1 to 10000`,
        );
      }
      return n;
    });
  const clients = counts(
    flags.clients ?? (quick ? "500" : "100,500,1000,2000,3000"),
  );
  const clusterClients = counts(
    flags.clients ?? (quick ? "200" : "500,1000"),
  );
  const options: BenchOptions = {
    quick,
    fanoutFlags: flags["fanout-flag"].flatMap((f) =>
      f.split(" ").filter((x) => x !== "")
    ),
    clientPath: flags["client-path"],
    ack: flags.ack === true,
    peers: peers as ServerKind[],
    scaleClients: clients,
    clusterClients,
    clusterRate: rateOf(flags["cluster-rate"]),
    repeat: repeatOf(flags.repeat ?? (quick ? "1" : "3")),
  };
  const here = filePath(new URL(".", import.meta.url));
  const out = flags.out ?? `${here}results${quick ? "/quick" : ""}`;
  const chartsDir = flags.charts ??
    (quick ? out : filePath(new URL("../docs", import.meta.url)));

  await initClockTicks();
  const paths = await findPaths(flags["fanout-dir"]);
  if (peers.includes("bun") && !paths.bun) throw new Error(PEERS_MISSING);
  if (!paths.node) {
    throw new Error("node is not on PATH (the load generator runs on Node)");
  }
  await Deno.mkdir(out, { recursive: true });
  await Deno.mkdir(chartsDir, { recursive: true });

  const env = await environment(paths);
  const started = performance.now();
  progress(
    `${quick ? "quick" : "full"} run: ${only.join(", ")}; peers ${
      peers.join(", ") || "none"
    }; fanout at ${paths.fanoutDir}`,
  );
  const subtitle =
    `${env.cpu}, ${env.cores} cores; generator: bench/loadgen.mjs on Node ${env.node}; ${
      new Date().toISOString().slice(0, 10)
    }${quick ? " (quick run)" : ""}`;
  const summary: Record<string, unknown> = {
    command: `deno task bench ${args.join(" ")}`.trim(),
    environment: env,
    options,
  };
  const timings: Record<string, number> = {};
  for (const name of only as Scenario[]) {
    if (name === "cluster" && !await exists(REDIS_SERVER_PATH)) {
      progress(
        `cluster skipped: ${REDIS_SERVER_PATH} not found (apt-get install redis-server)`,
      );
      continue;
    }
    const t0 = performance.now();
    const result = await runScenario(name, options, paths);
    timings[name] = Math.round((performance.now() - t0) / 100) / 10;
    const file = `${out}/${name}.json`;
    await Deno.writeTextFile(
      file,
      JSON.stringify({ ...result, environment: env }, null, 2) + "\n",
    );
    const spec = name === "scale"
      ? scaleSpec(result as ScaleResult, subtitle)
      : name === "isolation"
      ? isolationSpec(result as Parameters<typeof isolationSpec>[0], subtitle)
      : name === "latency-drop"
      ? latencyDropSpec(
        result as Parameters<typeof latencyDropSpec>[0],
        subtitle,
      )
      : name === "stalled"
      ? stalledSpec(result as Parameters<typeof stalledSpec>[0], subtitle)
      : name === "overload"
      ? overloadSpec(result as OverloadResult, subtitle)
      : undefined;
    if (spec) {
      const svg = `${chartsDir}/bench-${name}.svg`;
      await Deno.writeTextFile(svg, await renderSvg(spec));
      progress(`wrote ${file} and ${svg}`);
    } else progress(`wrote ${file}`);
    if (name === "scale") {
      summary.scale = headline(result as ScaleResult);
      const marginal = (result as ScaleResult).marginal_rss_kb;
      if (marginal) summary.scale_marginal_rss_kb = marginal;
    }
    if (name === "isolation") {
      summary.isolation = isolationHeadline(result as IsolationResult);
    }
    if (name === "overload") {
      const points = (result as OverloadResult).points;
      for (const p of points) console.log(`overload ${describeOverload(p)}`);
      summary.overload = points;
    }
    if (name === "ladder") {
      const points = (result as LadderResult).points;
      for (const p of points) console.log(`ladder ${describeLadder(p)}`);
      summary.ladder = points.map((p) => ({
        case: p.case,
        clients: p.clients,
        ratios: p.ratios,
      }));
    }
    if (name === "cluster") {
      const points = (result as ClusterResult).points;
      for (const p of points) console.log(`cluster ${describeCluster(p)}`);
      summary.cluster = points.map(({ fast: _, ...p }) => p);
    }
  }
  summary.seconds = {
    ...timings,
    total: Math.round((performance.now() - started) / 1000),
  };
  await Deno.writeTextFile(
    `${out}/summary.json`,
    JSON.stringify(summary, null, 2) + "\n",
  );
  progress(
    `done in ${
      summary.seconds && (summary.seconds as { total: number }).total
    } s`,
  );
  return 0;
}

function runScenario(
  name: Scenario,
  options: BenchOptions,
  paths: BenchPaths,
): Promise<object> {
  switch (name) {
    case "isolation":
      return runIsolation(options, paths);
    case "latency-drop":
      return runLatencyDrop(options, paths);
    case "scale":
      return runScale(options, paths);
    case "stalled":
      return runStalled(options, paths);
    case "cluster":
      return runCluster(options, paths);
    case "overload":
      return runOverload(options, paths);
    case "micro":
      return runMicro(options, paths);
    case "ladder":
      return runLadder(options, paths);
  }
}

function repeatOf(text: string): number {
  const n = Number(text);
  if (!Number.isInteger(n) || n < 1 || n > 9) {
    throw new RangeError(`--repeat: '${text}' is not a count from 1 to 9`);
  }
  return n;
}

function rateOf(text: string): number {
  const n = Number(text);
  if (!(n >= 1 && n <= 100_000)) {
    throw new RangeError(
      `--cluster-rate: '${text}' is not a rate from 1 to 100000`,
    );
  }
  return n;
}

async function exists(path: string): Promise<boolean> {
  try {
    return (await Deno.stat(path)).isFile;
  } catch {
    return false;
  }
}

/** Fast clients' p99 per slow share, each against its mode's baseline. */
function isolationHeadline(r: IsolationResult): unknown {
  const rows = r.rows.map((row) => ({
    mode: row.mode,
    slow_percent: row.slow_percent,
    fast_p99_ms: row.fast_p99_ms,
    fast_p99_runs_ms: row.fast_p99_runs_ms,
    fast_p99_vs_baseline: row.fast_p99_vs_baseline === null
      ? null
      : round(row.fast_p99_vs_baseline, 3),
    fast_delivery_ratio: row.fast_delivery_ratio,
  }));
  for (const row of rows) {
    console.log(
      `isolation ${row.mode}, ${row.slow_percent} % slow: fast p99 ${row.fast_p99_ms} ms ` +
        `(runs ${
          row.fast_p99_runs_ms.join(" / ")
        }), ${row.fast_p99_vs_baseline}× baseline, ` +
        `delivered ${row.fast_delivery_ratio}`,
    );
  }
  return rows;
}

/** The scale figures as one line per point, and the ratios to the peers. */
function headline(r: ScaleResult): unknown {
  for (const row of r.rows) {
    for (const p of row.results) console.log(describe(p));
    for (const [server, figures] of Object.entries(row.spread)) {
      const runs = figures.cpu_us_per_delivery?.runs.length ?? 0;
      if (runs < 2) continue;
      console.log(
        `  ${server} at ${row.clients} × ${row.rate} Hz, medians [min–max] of ${runs} runs: ` +
          Object.entries(figures).map(([k, v]) =>
            `${k} ${v.median} [${v.min}–${v.max}]`
          ).join(", "),
      );
    }
    for (const [peer, ratio] of Object.entries(row.ratios)) {
      console.log(
        `  ${
          peer.includes("÷") ? peer : `fanout ÷ ${peer}`
        } at ${row.clients} × ${row.rate} Hz: ` +
          Object.entries(ratio).map(([k, v]) => `${k} ${v}`).join(", "),
      );
    }
  }
  if (r.marginal_rss_kb) {
    console.log(
      "  marginal RSS per idle connection (2,000 → 5,000 at 1 Hz), KiB: " +
        Object.entries(r.marginal_rss_kb).map(([k, v]) => `${k} ${v}`).join(
          ", ",
        ),
    );
  }
  return r.rows.map((row) => ({
    clients: row.clients,
    rate: row.rate,
    servers: Object.fromEntries(row.results.map((p) => [p.server, {
      deliveries_per_s: p.deliveries_per_s,
      nominal: p.nominal_deliveries_per_s,
      delivery_ratio: p.groups.fast?.delivery_ratio,
      p50_ms: p.groups.fast?.latency_ms.p50,
      p99_ms: p.groups.fast?.latency_ms.p99,
      cpu_us_per_delivery: p.server_cpu_us_per_delivery,
      server_cores: p.server_cpu_cores,
      generator_cores: p.generator_cpu_cores,
      rss_per_connection_kb: p.rss_per_connection_kb,
    }])),
    ratios: row.ratios,
    spread: row.spread,
  }));
}

/** Machine and versions, recorded with every result. */
async function environment(
  paths: BenchPaths,
): Promise<Record<string, unknown>> {
  const run = async (cmd: string, args: string[], cwd?: string) => {
    try {
      const o = await new Deno.Command(cmd, {
        args,
        ...(cwd ? { cwd } : {}),
        stdout: "piped",
        stderr: "null",
      }).output();
      return new TextDecoder().decode(o.stdout).trim();
    } catch {
      return "";
    }
  };
  const cpuinfo = await Deno.readTextFile("/proc/cpuinfo").catch(() => "");
  return {
    cpu: /model name\s*:\s*(.+)/.exec(cpuinfo)?.[1] ?? "unknown CPU",
    cores: navigator.hardwareConcurrency,
    kernel: Deno.osRelease(),
    clock_ticks: clockTicks,
    deno: Deno.version.deno,
    node: (await run(paths.node ?? "node", ["--version"])).replace(/^v/, ""),
    bun: paths.bun ? await run(paths.bun, ["--version"]) : null,
    fanout_commit:
      await run("git", ["rev-parse", "--short", "HEAD"], paths.fanoutDir) ||
      "unknown (not a git checkout)",
    fanout_dirty: (await run(
      "git",
      ["status", "--porcelain", "--", "lib", "server"],
      paths.fanoutDir,
    )) !== "",
  };
}

if (import.meta.main) {
  try {
    Deno.exit(await main(Deno.args));
  } catch (err) {
    console.error(`bench: ${err instanceof Error ? err.message : String(err)}`);
    Deno.exit(err instanceof TypeError || err instanceof RangeError ? 2 : 1);
  }
}
