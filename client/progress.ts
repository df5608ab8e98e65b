/**
 * Progress while clientsim runs: the per-client progress line (the seed's
 * format), and the swarm's live status line (elapsed of total, clients
 * connected, messages per second since the previous line, p99 latency so
 * far, drops and closes). Reads the clients' snapshots; never touches a
 * socket.
 *
 * @module
 */
import { Histogram } from "../lib/histogram.ts";
import { nowMs } from "./_abortable.ts";
import type { SimClient, SimClientSnapshot } from "./sim_client.ts";

/** How often clientsim redraws its status line on a terminal, ms. */
export const PROGRESS_TTY_MS = 500;
/** How often clientsim prints its status as a plain line otherwise, ms. */
export const PROGRESS_PLAIN_MS = 5000;

/** Aggregates the clients of one run into a status line. */
export class SwarmProgress {
  readonly #clients: SimClient[] = [];
  readonly #durationSec: number;
  readonly #now: () => number;
  readonly #startedAt: number;
  #lastAt: number;
  #lastMessages = 0;

  /**
   * @param durationSec the run's length, for "elapsed/total"
   * @param now wall clock, epoch ms
   */
  constructor(durationSec: number, now: () => number = nowMs) {
    this.#durationSec = durationSec;
    this.#now = now;
    this.#startedAt = this.#lastAt = now();
  }

  /** Follows `client` from now on. */
  add(client: SimClient): void {
    this.#clients.push(client);
  }

  /**
   * The status now, e.g.
   * `[clientsim 12.0/30 s] 5/5 connected, 498.2 msg/s, p99 3.1 ms, 0 drops, 0 closes`.
   * The rate covers the time since the previous call.
   */
  line(): string {
    const now = this.#now();
    let connected = 0;
    let messages = 0;
    let drops = 0;
    let closes = 0;
    const latency = new Histogram();
    for (const c of this.#clients) {
      const s = c.snapshot();
      if (s.connected) connected++;
      messages += s.messages;
      drops += s.drops;
      closes += s.closes.length;
      c.mergeLatencyInto(latency);
    }
    const rate = (messages - this.#lastMessages) /
      Math.max(1e-3, (now - this.#lastAt) / 1000);
    this.#lastMessages = messages;
    this.#lastAt = now;
    const elapsed = Math.min(this.#durationSec, (now - this.#startedAt) / 1000);
    const p99 = latency.count ? `${latency.percentile(99).toFixed(1)} ms` : "-";
    return `[clientsim ${
      elapsed.toFixed(1)
    }/${this.#durationSec} s] ${connected}/${this.#clients.length} connected, ${
      rate.toFixed(1)
    } msg/s, p99 ${p99}, ${drops} drops, ${closes} closes`;
  }
}

/**
 * One progress line in the seed's format, e.g.
 * `[cli-0] Count:    100 | Rate:   49.8/s | Latency min/avg/p95/p99:   0.3/  0.8/  1.2/  2.0ms | Drops: 0`.
 *
 * @param snap the client's current statistics
 * @param nowMs the current time, epoch ms (for the rate)
 * @example
 * ```ts
 * import { formatProgressLine } from "./progress.ts";
 * const line = formatProgressLine({
 *   id: "cli-0", messages: 100, connects: 1, drops: 0, acksSent: 100,
 *   badFrames: 0, closes: [], connected: true, errors: 0, startedAt: 0,
 *   firstMessageAt: 0, lastMessageAt: 2000, lastSeq: 100, epoch: null, repeats: 0, recovered: 0,
 *   notices: { dropped: 0, missed: 0, resets: 0, expired: 0, tierChanges: 0 },
 *   latency: { count: 100, min: 0.3, avg: 0.8, p50: 0.7, p95: 1.2, p99: 2, max: 2 },
 * }, 2000);
 * if (!line.startsWith("[cli-0] Count:    100 | Rate:   50.0/s")) throw new Error(line);
 * ```
 */
export function formatProgressLine(
  snap: SimClientSnapshot,
  nowMs: number,
): string {
  const l = snap.latency;
  const lat = [l.min, l.avg, l.p95, l.p99].map((v) => fixed(v, 5)).join("/");
  const rate = snap.firstMessageAt === null
    ? 0
    : snap.messages / (Math.max(nowMs - snap.firstMessageAt, 1) / 1000);
  return `[${snap.id}] Count: ${String(snap.messages).padStart(6)} | Rate: ${
    fixed(rate, 6)
  }/s | Latency min/avg/p95/p99: ${lat}ms | Drops: ${snap.drops}`;
}

function fixed(value: number, width: number): string {
  return value.toFixed(1).padStart(width);
}
