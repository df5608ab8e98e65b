/**
 * The synthetic source: random payloads at `--rate`, scheduled against
 * absolute time so the rate holds over minutes.
 *
 * @module
 */
import { setTimeout as sleep } from "node:timers/promises";
import { epochSeconds } from "../../lib/protocol.ts";
import type { Published } from "../core/broker.ts";
import type { PublishBody } from "../core/frame.ts";
import { asPause } from "./publish_failure.ts";
import { Schedule } from "./schedule.ts";
import { SourceStats } from "./source_stats.ts";

/** Messages published back to back before yielding to I/O while catching up. */
const CATCH_UP_BURST = 64;
/**
 * A source this far behind its schedule skips what is due instead of
 * catching up (and counts it as shed): an overloaded server does not make
 * itself later by publishing a backlog nobody can be sent in time, ms.
 */
export const SOURCE_SHED_LAG_MS = 500;

/** Options of {@link runSyntheticSource}. */
export interface SyntheticSourceOptions {
  /** Messages per second. */
  readonly rate: number;
  /** Random payload bytes per message. */
  readonly payloadBytes: number;
  /** Stops the source. */
  readonly signal: AbortSignal;
  /** Monotonic clock, ms. @default performance.now */
  readonly now?: () => number;
  /**
   * Publishes that may be in flight at once. 1 waits for each (naive mode's
   * backpressure reaches the source); a shared engine wants a window, or its
   * round trip caps the rate. @default 1
   */
  readonly maxInFlight?: number;
  /**
   * Skip ahead (and count the shed) when this far behind, ms; `Infinity`
   * always catches up (naive mode: the wait is what it shows).
   * @default SOURCE_SHED_LAG_MS
   */
  readonly shedLagMs?: number;
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
 * `ts_send` is its due time, so a source held back (by naive mode, or an
 * overloaded machine) shows as latency instead of hiding it. When late it
 * catches up, yielding every {@link CATCH_UP_BURST} messages; more than
 * {@link SOURCE_SHED_LAG_MS} late, it skips ahead and counts what it shed. When the broker
 * cannot take a message it pauses, retries when told to, and starts a new
 * schedule from then: messages due during an outage are not sent late. Up to
 * `maxInFlight` publishes overlap; the broker keeps them in order.
 *
 * @param publish hands one message to the broker; naive mode resolves once
 *   every client has it
 * @returns the source's live statistics, complete when `done` resolves
 */
export function runSyntheticSource(
  publish: (body: PublishBody) => Promise<Published>,
  options: SyntheticSourceOptions,
): { stats: SourceStats; done: Promise<void> } {
  const stats = new SourceStats("synthetic");
  const now = options.now ?? (() => performance.now());
  const { signal } = options;
  const window = options.maxInFlight ?? 1;
  const shedLagMs = options.shedLagMs ?? SOURCE_SHED_LAG_MS;
  const done = (async () => {
    stats.startedAt = now();
    const schedule = stats.schedule = new Schedule(
      options.rate,
      stats.startedAt,
    );
    let startEpoch = epochSeconds();
    let burst = 0;
    /** Messages handed to the broker (published, or in flight). */
    let issued = 0;
    const inFlight: Promise<void>[] = [];
    let failure: unknown;
    while (!signal.aborted) {
      const dueMs = schedule.dueAt(issued);
      const t = now();
      if (t < dueMs) {
        burst = 0;
        if (!await pause(dueMs - t, signal)) break;
        continue;
      }
      stats.lag.record(t - dueMs);
      if (t - dueMs > shedLagMs) {
        const skipped = Math.floor((t - dueMs) / schedule.intervalMs);
        stats.shed += skipped;
        schedule.skip(skipped); // the skipped count as done
        continue;
      }
      inFlight.push(
        publish({
          tsSend: startEpoch + (dueMs - schedule.from) / 1000,
          payloadB64: randomPayloadB64(options.payloadBytes),
        }).then(() => void stats.published++, (err) => {
          stats.refused++;
          failure ??= err;
        }),
      );
      issued++;
      if (inFlight.length >= window) await inFlight.shift();
      if (failure !== undefined) {
        await Promise.all(inFlight.splice(0));
        // Whatever failed, the source pauses and retries: it never ends
        // the process.
        const err = asPause(failure);
        failure = undefined;
        stats.state = "paused";
        stats.pausedReason = err.message;
        if (!await pause(err.retryAfterMs, signal)) break;
        stats.state = "running";
        stats.pausedReason = "";
        issued = stats.published;
        schedule.restart(now(), issued);
        startEpoch = epochSeconds();
        continue;
      }
      if (++burst >= CATCH_UP_BURST) {
        burst = 0;
        await sleep(0);
      }
    }
    await Promise.all(inFlight);
    stats.state = "stopped";
  })();
  return { stats, done };
}

/** Waits `ms` unless `signal` aborts first. @returns false when aborted */
async function pause(ms: number, signal: AbortSignal): Promise<boolean> {
  try {
    await sleep(ms, undefined, { signal });
    return true;
  } catch {
    return false;
  }
}
