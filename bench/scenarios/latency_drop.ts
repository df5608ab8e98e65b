/**
 * Scenario 2 — the latency–drop curve: for a slow client, sweep `--maxsize`
 * and plot its latency against the fraction of messages it lost. The
 * trade-off users choose when they size the queue.
 *
 * Two slow clients per run, on the same server: "steady" reads at a fifth
 * of the publish rate (it must lose four in five whatever the queue: a
 * bigger queue only buys it latency), and "bursty" reads at full speed but
 * stops for 3 s every 4 s (a big enough queue lets it lose nothing, at the
 * price of latency). Two fast clients are the control. The slow-client
 * disconnect policy is off (`--drop-limit` 10^9, `--full-timeout` one day) so
 * the queue, not the policy, decides. Payloads are 64 KiB so that the ~4 MB
 * a loopback socket absorbs is ~50 messages, small against the queue sizes
 * swept; the warm-up grows with the queue so the steady client's backlog
 * has filled before the window opens.
 *
 * @module
 */
import { type BenchOptions, progress } from "../_options.ts";
import { type PointResult, runPoint } from "../_point.ts";
import type { BenchPaths } from "../_servers.ts";

/** The latency–drop scenario's output. */
export interface LatencyDropResult {
  readonly scenario: "latency-drop";
  readonly rate: number;
  readonly payload_bytes: number;
  readonly policy: string;
  readonly rows: {
    maxsize: number;
    client: string;
    drop_fraction: number;
    p50_ms: number | null;
    p99_ms: number | null;
    point: PointResult;
  }[];
}

/** The policy flags that leave the queue alone to decide. */
const POLICY_OFF = ["--drop-limit", "1000000000", "--full-timeout", "86400"];

/**
 * Long enough for the steady client (a fifth of `rate`) to fill ~60 frames
 * of socket buffers plus its queue, with a second to spare.
 */
function warmupFor(maxsize: number, rate: number): number {
  const deficit = rate * 0.8;
  return Math.max(4000, Math.ceil(((60 + maxsize) / deficit + 1) * 1000));
}

/** Runs the latency–drop scenario. */
export async function runLatencyDrop(
  options: BenchOptions,
  paths: BenchPaths,
): Promise<LatencyDropResult> {
  const rate = 50;
  const payloadBytes = 64 * 1024;
  const sizes = options.quick ? [10, 100] : [5, 20, 50, 100, 200];
  const rows: LatencyDropResult["rows"] = [];
  for (const maxsize of sizes) {
    progress(`latency-drop: --maxsize ${maxsize}`);
    const point = await runPoint(
      {
        kind: "fanout",
        rate,
        payloadBytes,
        fanoutFlags: [
          "--maxsize",
          String(maxsize),
          ...POLICY_OFF,
          ...options.fanoutFlags,
        ],
      },
      {
        groups: [
          { name: "fast", count: 2 },
          { name: "steady", count: 1, periodMs: 5000 / rate },
          { name: "bursty", count: 1, stallEveryMs: 1000, stallForMs: 3000 },
        ],
        warmupMs: options.quick ? 2000 : warmupFor(maxsize, rate),
        measureMs: options.quick ? 2000 : 8000,
        graceMs: 500,
        ack: options.ack,
        path: options.clientPath,
      },
      paths,
    );
    for (const client of ["steady", "bursty", "fast"]) {
      const g = point.groups[client];
      if (!g) continue;
      rows.push({
        maxsize,
        client,
        drop_fraction: g.gap_drop_fraction,
        p50_ms: g.latency_received_ms.p50,
        p99_ms: g.latency_received_ms.p99,
        point,
      });
      progress(
        `  ${client}: dropped ${
          (g.gap_drop_fraction * 100).toFixed(1)
        } %, p50/p99 ${g.latency_received_ms.p50}/${g.latency_received_ms.p99} ms`,
      );
    }
  }
  return {
    scenario: "latency-drop",
    rate,
    payload_bytes: payloadBytes,
    policy: `drop-oldest; disconnect policy off (${POLICY_OFF.join(" ")})`,
    rows,
  };
}
