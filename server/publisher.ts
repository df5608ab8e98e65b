/**
 * The synthetic source: random payloads at `--rate`, scheduled against
 * absolute time so the rate holds over minutes (DESIGN.md, trap 6).
 *
 * @module
 */
import { setTimeout as sleep } from "node:timers/promises";
import { epochSeconds } from "../lib/protocol.ts";
import type { PublishBody } from "./hub.ts";

/** Messages published back to back before yielding to I/O while catching up. */
const CATCH_UP_BURST = 64;

/** Options of {@link runPublisher}. */
export interface PublisherOptions {
  /** Messages per second. */
  readonly rate: number;
  /** Random payload bytes per message. */
  readonly payloadBytes: number;
  /** Stops the publisher. */
  readonly signal: AbortSignal;
  /** Monotonic clock, ms. @default performance.now */
  readonly now?: () => number;
}

/** What the publisher reports about itself; read by the summary. */
export class PublisherStats {
  /** When message 1 was due, monotonic ms; message `n` is due `(n - 1) / rate` s later. */
  startedAt = Number.NaN;
  /** Messages per second scheduled. */
  rate = 0;
  /** Messages published. */
  published = 0;
  /** How late the last message went out against its schedule, ms. */
  lagMs = 0;
  /** Worst lag since the last summary, ms. */
  maxLagMs = 0;
}

/** `n` random bytes as base64. */
export function randomPayloadB64(n: number): string {
  const bytes = new Uint8Array(n);
  for (let i = 0; i < n; i += 65536) {
    crypto.getRandomValues(bytes.subarray(i, Math.min(n, i + 65536)));
  }
  return bytes.toBase64();
}

/**
 * Publishes until `signal` aborts. Message `n` is due at `start + n / rate`;
 * `ts_send` is its due time, so a publisher held back (by naive mode, or an
 * overloaded machine) shows as latency instead of hiding it. When late it
 * catches up, yielding every {@link CATCH_UP_BURST} messages.
 *
 * @param publish hands one message to the hub; naive mode returns a promise
 * @returns the publisher's live statistics, complete when `done` resolves
 */
export function runPublisher(
  publish: (body: PublishBody) => void | Promise<void>,
  options: PublisherOptions,
): { stats: PublisherStats; done: Promise<void> } {
  const stats = new PublisherStats();
  const now = options.now ?? (() => performance.now());
  const intervalMs = 1000 / options.rate;
  const done = (async () => {
    const startMs = now();
    stats.startedAt = startMs;
    stats.rate = options.rate;
    const startEpoch = epochSeconds();
    let burst = 0;
    while (!options.signal.aborted) {
      const dueMs = startMs + stats.published * intervalMs;
      const t = now();
      if (t < dueMs) {
        burst = 0;
        try {
          await sleep(dueMs - t, undefined, { signal: options.signal });
        } catch {
          break; // aborted
        }
        continue;
      }
      stats.lagMs = t - dueMs;
      if (stats.lagMs > stats.maxLagMs) stats.maxLagMs = stats.lagMs;
      const pending = publish({
        tsSend: startEpoch + (dueMs - startMs) / 1000,
        payloadB64: randomPayloadB64(options.payloadBytes),
      });
      if (pending) await pending;
      stats.published++;
      if (++burst >= CATCH_UP_BURST) {
        burst = 0;
        await sleep(0);
      }
    }
  })();
  return { stats, done };
}
