/**
 * `fanout demo` options. The defaults are chosen so that, on loopback, the
 * naive stall and the queue-mode drops and disconnect really happen inside
 * the run (DESIGN.md, trap 3); {@link demoChoiceExplained} says why.
 *
 * @module
 */
import { checkNumber, parseFlags } from "../lib/cli_args.ts";

/** What the demo runs, per mode. */
export interface DemoOptions {
  /** Seconds per mode. @default 15 */
  readonly durationSec: number;
  /** Fast clients. @default 3 */
  readonly fast: number;
  /** The slow client's processing time per message, ms. @default 200 */
  readonly slowMs: number;
  /** When the slow client joins, seconds into each run. @default 2 */
  readonly slowJoinSec: number;
  /** Publish rate, msgs/s. @default 50 */
  readonly rate: number;
  /** Payload bytes per message. @default 16384 */
  readonly payloadBytes: number;
  /** Print one JSON document instead of the table (progress goes to stderr). @default false */
  readonly json: boolean;
}

/** The defaults. */
export const DEMO_DEFAULTS: DemoOptions = Object.freeze({
  durationSec: 15,
  fast: 3,
  slowMs: 200,
  slowJoinSec: 2,
  rate: 50,
  payloadBytes: 16384,
  json: false,
});

/** Result of parsing `fanout demo` arguments. */
export type DemoArgs = { help: true } | { help: false; options: DemoOptions };

/**
 * Parses `fanout demo` arguments.
 * @throws {UsageError} for unknown flags or out-of-range values
 */
export function parseDemoArgs(args: readonly string[]): DemoArgs {
  const v = parseFlags("demo", args, {
    duration: { type: "string" },
    fast: { type: "string" },
    "slow-ms": { type: "string" },
    rate: { type: "string" },
    "payload-bytes": { type: "string" },
    json: { type: "boolean" },
    help: { type: "boolean", short: "h" },
  });
  if (v.help) return { help: true };
  const d = DEMO_DEFAULTS;
  const durationSec = checkNumber(
    "--duration",
    v.duration ?? d.durationSec,
    3,
    3600,
  );
  return {
    help: false,
    options: Object.freeze({
      durationSec,
      fast: checkNumber("--fast", v.fast ?? d.fast, 1, 1000, { integer: true }),
      slowMs: checkNumber("--slow-ms", v["slow-ms"] ?? d.slowMs, 1, 60_000),
      slowJoinSec: Math.min(d.slowJoinSec, durationSec / 4),
      rate: checkNumber("--rate", v.rate ?? d.rate, 1, 10_000),
      payloadBytes: checkNumber(
        "--payload-bytes",
        v["payload-bytes"] ?? d.payloadBytes,
        0,
        1 << 20,
        {
          integer: true,
        },
      ),
      json: v.json === true,
    }),
  };
}

/** Loopback socket buffers measured to absorb about this much before backpressure reaches the server. */
export const KERNEL_BUFFER_BYTES = 4.3e6;

/** Approximate bytes of one frame: base64 payload plus the JSON around it. */
export function frameBytes(payloadBytes: number): number {
  return Math.ceil(payloadBytes / 3) * 4 + 60;
}

/**
 * One paragraph saying which load the demo picked and why, with the
 * arithmetic for the options actually in force.
 */
export function demoChoiceExplained(o: DemoOptions): string {
  const bytesPerSec = frameBytes(o.payloadBytes) * o.rate;
  const slowRate = 1000 / o.slowMs;
  const surplus = Math.max(
    0,
    bytesPerSec - frameBytes(o.payloadBytes) * slowRate,
  );
  const fillSec = surplus > 0 ? KERNEL_BUFFER_BYTES / surplus : Infinity;
  return [
    `Load: ${o.rate} msg/s of ${o.payloadBytes}-byte payloads (${
      (bytesPerSec / 1e6).toFixed(2)
    } MB/s per client), ` +
    `${o.fast} fast clients, one slow client (${o.slowMs} ms per message, so ~${
      slowRate.toFixed(1)
    } msg/s) joining at ${o.slowJoinSec} s, ` +
    `${o.durationSec} s per mode.`,
    `Why: loopback socket buffers hide a slow client until ~${
      (KERNEL_BUFFER_BYTES / 1e6).toFixed(1)
    } MB pile up for it; ` +
    (Number.isFinite(fillSec)
      ? `at this load that takes ~${
        fillSec.toFixed(1)
      } s, so the stall and the drops happen inside the run ` +
        `(at the seed's 64-byte payloads it would take minutes).`
      : `at this load the slow client keeps up, so expect no stall.`),
  ].join("\n");
}

/** `fanout demo --help`. */
export function demoHelp(): string {
  const d = DEMO_DEFAULTS;
  return `Usage: fanout demo [flags]

Runs the fanout server in naive mode, then in queue mode, then in queue mode
on the ladder (--policy ladder), each in-process on a free loopback port with
fast clients and one slow client that joins after a couple of seconds, and
prints a side-by-side comparison with a verdict computed from the numbers.

Flags:
  --duration SECONDS     seconds per mode, 3..3600 (default ${d.durationSec})
  --fast N               fast clients, 1..1000 (default ${d.fast})
  --slow-ms MS           the slow client's processing time per message (default ${d.slowMs})
  --rate N               messages per second, 1..10000 (default ${d.rate})
  --payload-bytes N      payload bytes per message, 0..1048576 (default ${d.payloadBytes})
  --json                 print one JSON document on stdout; progress goes to stderr
  -h, --help             show this help

Exit codes: 0 success, 1 runtime failure, 2 bad usage.`;
}
