/**
 * The cluster scenario: what a shared engine costs and what a second node
 * buys. N clients at 100 Hz × 64 B against, in one run, interleaved:
 *
 * - `memory`: one node on the memory broker (the single-node baseline);
 * - `redis-1`: one node on Redis (the engine's cost on one node);
 * - `redis-2`: two nodes on Redis sharing one port (`--reuse-port`, the
 *   kernel spreads the clients); node 1 publishes, node 2 only serves.
 *
 * Per point: deliveries/s, p99, server CPU µs per delivery (all nodes
 * summed), the publish round trip through the engine, and Redis's CPU per
 * published message. On this 2-core machine the generator and every node
 * share the cores: read the generator's CPU beside every figure.
 *
 * @module
 */
import { RedisServer } from "../_redis.ts";
import { type BenchOptions, progress } from "../_options.ts";
import {
  cpuPerDelivery,
  type GroupResult,
  measureLoad,
  round,
} from "../_point.ts";
import { type BenchPaths, startServer } from "../_servers.ts";

/** Which deployment a point runs. */
export type ClusterSetup = "memory" | "redis-1" | "redis-2";

/** One setup at one client count. */
export interface ClusterPoint {
  readonly setup: ClusterSetup;
  readonly clients: number;
  readonly rate: number;
  readonly nodes: number;
  /** Clients each node had accepted (kernel spread under `--reuse-port`). */
  readonly clients_per_node: number[];
  readonly deliveries_per_s: number;
  readonly nominal_deliveries_per_s: number;
  readonly p50_ms: number | null;
  readonly p99_ms: number | null;
  /** All nodes' CPU µs per delivery. */
  readonly server_cpu_us_per_delivery: number | null;
  readonly server_cpu_cores: number;
  readonly generator_cpu_cores: number;
  /** Publish round trip to the engine (node 1's source), ms. */
  readonly publish_p50_ms: number | null;
  readonly publish_p99_ms: number | null;
  /** Redis's CPU per published message, µs. */
  readonly redis_cpu_us_per_message: number | null;
  readonly redis_cpu_cores: number | null;
  readonly fast: GroupResult | undefined;
}

/** The cluster scenario's output. */
export interface ClusterResult {
  readonly scenario: "cluster";
  readonly payload_bytes: number;
  readonly points: ClusterPoint[];
}

const SETUPS: readonly ClusterSetup[] = ["memory", "redis-1", "redis-2"];

/** Runs the cluster scenario. */
export async function runCluster(
  options: BenchOptions,
  paths: BenchPaths,
): Promise<ClusterResult> {
  const payloadBytes = 64;
  const rate = options.clusterRate;
  const counts = options.clusterClients;
  const points: ClusterPoint[] = [];
  for (const clients of counts) {
    for (const setup of SETUPS) {
      progress(`cluster: ${setup}, ${clients} clients × ${rate} Hz`);
      const p = await runSetup(
        setup,
        clients,
        rate,
        payloadBytes,
        options,
        paths,
      );
      progress(`  ${describeCluster(p)}`);
      points.push(p);
    }
  }
  return { scenario: "cluster", payload_bytes: payloadBytes, points };
}

async function runSetup(
  setup: ClusterSetup,
  clients: number,
  rate: number,
  payloadBytes: number,
  options: BenchOptions,
  paths: BenchPaths,
): Promise<ClusterPoint> {
  await using redis = setup === "memory"
    ? undefined
    : await RedisServer.start();
  const engine = redis ? ["--broker", redis.url] : [];
  const nodes = setup === "redis-2" ? 2 : 1;
  const shared = nodes > 1 ? ["--reuse-port"] : [];
  const spec = (flags: string[]) => ({
    kind: "fanout" as const,
    rate,
    payloadBytes,
    fanoutFlags: [...options.fanoutFlags, ...engine, ...shared, ...flags],
  });
  await using first = await startServer(spec([]), paths);
  await using second = nodes > 1
    ? await startServer(
      spec([
        "--source",
        "http",
        "--publish-token",
        "bench",
        "--port",
        String(first.port),
      ]),
      paths,
    )
    : undefined;
  const redisPid = redis?.pid;
  const m = await measureLoad(
    {
      port: first.port,
      rate,
      pids: second ? [first.child.pid, second.child.pid] : [first.child.pid],
      ...(redisPid ? { others: { redis: redisPid } } : {}),
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
  const finals = [await first.stop(), await second?.stop()];
  const publish = finals[0]?.broker_publish_latency_ms as
    | { p50: number; p99: number }
    | undefined;
  const redisCpu = m.othersCpuUs.redis;
  const published = rate * m.windowS;
  const fast = m.groups.fast;
  return {
    setup,
    clients,
    rate,
    nodes,
    clients_per_node: finals.filter((f) => f !== undefined).map((f) =>
      Number(f!.connects_total ?? 0)
    ),
    deliveries_per_s: Math.round(m.received / m.genWindowS),
    nominal_deliveries_per_s: m.reading * rate,
    p50_ms: fast?.latency_ms.p50 ?? null,
    p99_ms: fast?.latency_ms.p99 ?? null,
    server_cpu_us_per_delivery: cpuPerDelivery(m),
    server_cpu_cores: round(m.serverCpuUs / 1e6 / m.windowS, 3),
    generator_cpu_cores: round(m.genCpuUs / 1e6 / m.windowS, 3),
    publish_p50_ms: redis && publish ? publish.p50 : null,
    publish_p99_ms: redis && publish ? publish.p99 : null,
    redis_cpu_us_per_message: redisCpu === undefined
      ? null
      : round(redisCpu / published, 2),
    redis_cpu_cores: redisCpu === undefined
      ? null
      : round(redisCpu / 1e6 / m.windowS, 3),
    fast,
  };
}

/** One line per point for the progress log. */
export function describeCluster(p: ClusterPoint): string {
  return `${p.setup} (${p.nodes} node${p.nodes > 1 ? "s" : ""}, clients ${
    p.clients_per_node.join("+")
  }): ${p.deliveries_per_s}/s of ${p.nominal_deliveries_per_s}, p50/p99 ${p.p50_ms}/${p.p99_ms} ms, ` +
    `servers ${p.server_cpu_us_per_delivery} µs/delivery (${p.server_cpu_cores} cores), ` +
    `gen ${p.generator_cpu_cores} cores` +
    (p.publish_p50_ms === null
      ? ""
      : `, publish p50/p99 ${p.publish_p50_ms}/${p.publish_p99_ms} ms, Redis ${p.redis_cpu_us_per_message} µs/msg (${p.redis_cpu_cores} cores)`);
}
