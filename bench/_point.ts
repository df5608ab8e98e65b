/**
 * One measurement point: start a server, run the load generator against it,
 * and read both processes' CPU time and RSS from `/proc` at the exact start
 * and end of the generator's measurement window.
 *
 * @module
 */
import { Child } from "./_child.ts";
import { type ProcSample, sampleProc } from "./_proc.ts";
import {
  type BenchPaths,
  filePath,
  pinned,
  serverLabel,
  type ServerSpec,
  startServer,
} from "./_servers.ts";

/** A group of identical clients of the load generator. */
export interface GroupSpec {
  /** Group name in results (`fast`, `slow`, `stalled`, …). */
  readonly name: string;
  /** Clients in the group. */
  readonly count: number;
  /** Processing time per message before reading the next, ms. */
  readonly periodMs?: number;
  /** Every this many ms, stop reading for `stallForMs`. */
  readonly stallEveryMs?: number;
  /** See `stallEveryMs`. */
  readonly stallForMs?: number;
  /** Never read after the handshake. */
  readonly stalled?: boolean;
}

/** The load of one point. */
export interface LoadSpec {
  readonly groups: readonly GroupSpec[];
  /** After everyone connected, before the window, ms. */
  readonly warmupMs: number;
  /** The measurement window, ms. */
  readonly measureMs: number;
  /** After the window, still counting late messages due in it, ms. @default 1000 */
  readonly graceMs?: number;
  /** ACK every message, as the seed's clients do. @default false */
  readonly ack?: boolean;
  /** Request path (e.g. a query that opts in to coalescing). @default "/" */
  readonly path?: string;
  /** Keep an RSS timeline sampled this often, ms (0: none). @default 0 */
  readonly timelineMs?: number;
  /** Run the generator pinned to these CPUs (`taskset -c`). @default unpinned */
  readonly cpus?: string;
  /**
   * The clients: `lean` (raw sockets, no parse) or `ws` (Node's `ws`
   * package, JSON.parse of every frame, as an application reads).
   * @default "lean"
   */
  readonly reader?: "lean" | "ws";
}

/** Latency percentiles from the generator's log-scale histogram, ms. */
export interface LatencySummary {
  count: number;
  mean: number | null;
  p50: number | null;
  p90: number | null;
  p99: number | null;
  p999: number | null;
  max: number | null;
}

/** Per-group figures from the load generator. */
export interface GroupResult {
  clients: number;
  open_at_end: number;
  received_in_window: number;
  deliveries_per_s: number;
  delivery_ratio: number | null;
  min_client_delivery_ratio: number | null;
  gap_drop_fraction: number;
  /**
   * Latency of the messages due in the window; one that never arrived counts
   * at its age when the run ended (no coordinated omission).
   */
  latency_ms: LatencySummary;
  /** Latency of the messages received in the window (drops not counted). */
  latency_received_ms: LatencySummary;
  closes: Record<string, number>;
}

/** Everything measured at one point. */
export interface PointResult {
  server: string;
  label: string;
  rate: number;
  payload_bytes: number;
  fanout_flags: readonly string[];
  clients: number;
  connected: number;
  connect_ms: number;
  window_s: number;
  /** Server CPU time (user+system, all threads) in the window, µs. */
  server_cpu_us: number;
  /** … as a share of one core. */
  server_cpu_cores: number;
  /** Share of the server's CPU time spent in the kernel (syscalls, loopback TCP). */
  server_sys_share: number | null;
  /** Server CPU µs per message delivered in the window (the headline). */
  server_cpu_us_per_delivery: number | null;
  /** The generator's own CPU in the window, as a share of one core. */
  generator_cpu_cores: number;
  /** Generator CPU µs per delivery (it shares the 2 cores with the server). */
  generator_cpu_us_per_delivery: number | null;
  /** Messages received by all clients in the window, per second. */
  deliveries_per_s: number;
  /** Clients that read × rate. */
  nominal_deliveries_per_s: number;
  rss_idle_kb: number;
  rss_window_start_kb: number;
  rss_window_end_kb: number;
  rss_max_kb: number;
  /** (RSS at window end − idle RSS) / clients, KiB. */
  rss_per_connection_kb: number | null;
  generator_rss_kb: number;
  groups: Record<string, GroupResult>;
  /** Server RSS (KiB) every `timelineMs` from the first connection, if asked. */
  timeline?: { t_s: number; rss_kb: number; cpu_cores: number }[];
  /** The server's own last summary (fanout) or final line (peers). */
  server_final?: Record<string, unknown> | undefined;
}

const LOADGEN = filePath(new URL("./loadgen.mjs", import.meta.url));
const SAMPLE_MS = 250;

/** The processes one measurement reads. */
export interface Target {
  /** Where the clients connect. */
  readonly port: number;
  /** Messages per second the servers publish. */
  readonly rate: number;
  /** The server processes: their CPU and RSS add up (several nodes on one port). */
  readonly pids: readonly number[];
  /** Other processes whose CPU is reported apart (e.g. Redis), by name. */
  readonly others?: Readonly<Record<string, number>>;
}

/** What one window measured, before it is labelled. */
export interface Measured {
  readonly clients: number;
  readonly connected: number;
  readonly connectMs: number;
  readonly windowS: number;
  readonly serverCpuUs: number;
  readonly serverSysUs: number;
  readonly genCpuUs: number;
  /** CPU of each of `target.others` in the window, µs. */
  readonly othersCpuUs: Record<string, number>;
  /** Messages received by all clients in the window. */
  readonly received: number;
  /** The generator's own window, seconds (the servers' may differ by a few ms). */
  readonly genWindowS: number;
  /** Clients that read (not stalled). */
  readonly reading: number;
  readonly rssIdleKb: number;
  readonly rssStartKb: number;
  readonly rssEndKb: number;
  readonly rssMaxKb: number;
  readonly generatorRssKb: number;
  readonly groups: Record<string, GroupResult>;
  readonly timeline: { t_s: number; rss_kb: number; cpu_cores: number }[];
}

/** Sums the samples of several processes (CPU and RSS add up). */
async function sampleAll(pids: readonly number[]): Promise<ProcSample> {
  const samples = await Promise.all(pids.map(mustSample));
  return samples.reduce((a, b) => ({
    at: Math.max(a.at, b.at),
    cpuUs: a.cpuUs + b.cpuUs,
    sysUs: a.sysUs + b.sysUs,
    rssKb: a.rssKb + b.rssKb,
  }));
}

/**
 * Runs `load` against servers already listening on `target.port`, reading
 * their CPU and RSS (summed) and the generator's at the exact start and end
 * of the generator's measurement window.
 */
export async function measureLoad(
  target: Target,
  load: LoadSpec,
  paths: BenchPaths,
): Promise<Measured> {
  if (!paths.node) throw new Error("node is not on PATH");
  // Let the runtime settle (JIT, lazy init) before the idle reading.
  await new Promise((r) => setTimeout(r, 300));
  const idle = await sampleAll(target.pids);
  const others = Object.entries(target.others ?? {});
  const clients = load.groups.reduce((n, g) => n + g.count, 0);
  const gen = new Child(
    "loadgen",
    ...pinned(load.cpus, paths.node, [
      LOADGEN,
      JSON.stringify({
        port: target.port,
        path: load.path ?? "/",
        rate: target.rate,
        groups: load.groups,
        ack: load.ack ?? false,
        warmupMs: load.warmupMs,
        measureMs: load.measureMs,
        graceMs: load.graceMs ?? 1000,
        reader: load.reader ?? "lean",
      }),
    ]),
  );
  await using _gen = gen;
  let rssMax = idle.rssKb;
  const timeline: { t_s: number; rss_kb: number; cpu_cores: number }[] = [];
  let last = idle;
  const firstAt = performance.now();
  const sampler = setInterval(async () => {
    const s = await sampleAll(target.pids).catch(() => undefined);
    if (!s) return;
    rssMax = Math.max(rssMax, s.rssKb);
    if (load.timelineMs) {
      timeline.push({
        t_s: round((s.at - firstAt) / 1000, 2),
        rss_kb: s.rssKb,
        cpu_cores: round((s.cpuUs - last.cpuUs) / 1000 / (s.at - last.at), 3),
      });
    }
    last = s;
  }, load.timelineMs || SAMPLE_MS);
  try {
    type Mark = {
      server?: ProcSample;
      gen?: ProcSample;
      others?: ProcSample[];
    };
    const marks: Mark[] = [];
    gen.onLine((line) => {
      if (line.event === "window_start" || line.event === "window_end") {
        // Sampled as soon as the line arrives: a few ms late at most.
        const mark: Mark = {};
        marks.push(mark);
        sampleAll(target.pids).then((s) => mark.server = s, () => {});
        sampleProc(gen.pid).then((s) => s && (mark.gen = s));
        Promise.all(others.map(([, pid]) => mustSample(pid))).then(
          (s) => mark.others = s,
          () => {},
        );
      }
    });
    const connected = await gen.waitFor(
      (l) => l.event === "connected",
      120_000,
    );
    const windowMs = load.measureMs + load.warmupMs + (load.graceMs ?? 1000);
    const result = await gen.waitFor(
      (l) => l.event === "result" || l.event === "error",
      windowMs + 30_000,
    );
    if (result.event === "error") {
      throw new Error(`loadgen failed: ${result.message}\n${gen.stderr}`);
    }
    const [start, end] = marks;
    if (
      !start?.server || !end?.server || !start.gen || !end.gen ||
      !start.others || !end.others
    ) {
      throw new Error("a server or the generator exited during the window");
    }
    const groups = result.groups as Record<string, GroupResult>;
    let received = 0;
    let reading = 0;
    for (const [name, g] of Object.entries(groups)) {
      received += g.received_in_window;
      const spec = load.groups.find((x) => x.name === name);
      if (!spec?.stalled) reading += g.clients;
    }
    return {
      clients,
      connected: connected.connected as number,
      connectMs: connected.ms as number,
      windowS: (end.server.at - start.server.at) / 1000,
      serverCpuUs: end.server.cpuUs - start.server.cpuUs,
      serverSysUs: end.server.sysUs - start.server.sysUs,
      genCpuUs: end.gen.cpuUs - start.gen.cpuUs,
      othersCpuUs: Object.fromEntries(
        others.map(([name], i) => [
          name,
          end.others![i]!.cpuUs - start.others![i]!.cpuUs,
        ]),
      ),
      received,
      genWindowS: result.window_s as number,
      reading,
      rssIdleKb: idle.rssKb,
      rssStartKb: start.server.rssKb,
      rssEndKb: end.server.rssKb,
      rssMaxKb: rssMax,
      generatorRssKb: end.gen.rssKb,
      groups,
      timeline,
    };
  } finally {
    clearInterval(sampler);
  }
}

/** Server CPU µs per delivery of a measurement (null when nothing arrived). */
export function cpuPerDelivery(
  m: Measured,
  cpuUs = m.serverCpuUs,
): number | null {
  return m.received > 0
    ? round(cpuUs / (m.received * m.windowS / m.genWindowS), 3)
    : null;
}

/** Runs `load` against a fresh server `spec`. */
export async function runPoint(
  spec: ServerSpec,
  load: LoadSpec,
  paths: BenchPaths,
): Promise<PointResult> {
  await using server = await startServer(spec, paths);
  const m = await measureLoad(
    { port: server.port, rate: spec.rate, pids: [server.child.pid] },
    load,
    paths,
  );
  const final = await server.stop();
  const flags = spec.kind.startsWith("fanout") ? spec.fanoutFlags ?? [] : [];
  return {
    server: spec.kind,
    // The extra flags are part of what was measured: "fanout (queue) --policy ladder".
    label: [serverLabel(spec.kind), ...flags].join(" "),
    rate: spec.rate,
    payload_bytes: spec.payloadBytes,
    fanout_flags: flags,
    clients: m.clients,
    connected: m.connected,
    connect_ms: m.connectMs,
    window_s: round(m.windowS, 3),
    server_cpu_us: Math.round(m.serverCpuUs),
    server_cpu_cores: round(m.serverCpuUs / 1e6 / m.windowS, 3),
    server_sys_share: m.serverCpuUs > 0
      ? round(m.serverSysUs / m.serverCpuUs, 3)
      : null,
    server_cpu_us_per_delivery: cpuPerDelivery(m),
    generator_cpu_cores: round(m.genCpuUs / 1e6 / m.windowS, 3),
    generator_cpu_us_per_delivery: cpuPerDelivery(m, m.genCpuUs),
    deliveries_per_s: Math.round(m.received / m.genWindowS),
    nominal_deliveries_per_s: m.reading * spec.rate,
    rss_idle_kb: m.rssIdleKb,
    rss_window_start_kb: m.rssStartKb,
    rss_window_end_kb: m.rssEndKb,
    rss_max_kb: m.rssMaxKb,
    rss_per_connection_kb: m.clients > 0
      ? round((m.rssEndKb - m.rssIdleKb) / m.clients, 2)
      : null,
    generator_rss_kb: m.generatorRssKb,
    groups: m.groups,
    ...(load.timelineMs ? { timeline: m.timeline } : {}),
    server_final: final,
  };
}

async function mustSample(pid: number): Promise<ProcSample> {
  const s = await sampleProc(pid);
  if (!s) throw new Error(`cannot read /proc/${pid}`);
  return s;
}

/** Median and range of one figure over a point's repeats. */
export interface Spread {
  readonly median: number | null;
  readonly min: number | null;
  readonly max: number | null;
  readonly runs: (number | null)[];
}

/** Median (lower middle for an even count), min and max of `values`, nulls ignored. */
export function spreadOfValues(values: readonly (number | null)[]): Spread {
  const known = values.filter((v): v is number => v !== null).sort((a, b) =>
    a - b
  );
  return {
    median: known.length ? known[Math.floor((known.length - 1) / 2)]! : null,
    min: known[0] ?? null,
    max: known.at(-1) ?? null,
    runs: [...values],
  };
}

/** Rounds to `digits` decimals. */
export function round(x: number, digits: number): number {
  const f = 10 ** digits;
  return Math.round(x * f) / f;
}
