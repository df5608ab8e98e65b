/**
 * The swarm's live status line: elapsed of total, clients connected,
 * messages per second since the previous line, p99 latency so far, drops
 * and closes. Reads the clients' snapshots; never touches a socket.
 *
 * @module
 */
import { Histogram } from "../lib/histogram.ts";
import { nowMs } from "./_abortable.ts";
import type { SimClient } from "./sim_client.ts";

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
