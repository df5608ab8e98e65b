/**
 * How far the publisher is behind its `--rate` schedule, right now. Read from
 * the schedule rather than from the last message sent, so a publisher stuck
 * in a naive broadcast shows its lag while it is stuck, not after.
 *
 * @module
 */
import type { PublisherStats } from "./publisher.ts";

/** The publisher's lag at one instant. */
export interface PublisherLag {
  /** How long the next message has been due, ms (0 when on time). */
  readonly lagMs: number;
  /** Messages due by now that have not been published. */
  readonly behind: number;
}

/**
 * Measures `stats` against its schedule: message `n` is due at
 * `startedAt + (n - 1) / rate`.
 *
 * @param stats the publisher's live statistics
 * @param now monotonic ms, the clock the publisher uses
 * @returns zeros before the publisher has started
 * @example
 * ```ts
 * import { publisherLag } from "./publisher_lag.ts";
 * import { PublisherStats } from "./publisher.ts";
 * const stats = Object.assign(new PublisherStats(), { startedAt: 0, rate: 10, published: 5 });
 * const lag = publisherLag(stats, 1000); // 11 due by 1 s, 5 sent, #6 due at 500 ms
 * if (lag.behind !== 6 || lag.lagMs !== 500) throw new Error(JSON.stringify(lag));
 * ```
 */
export function publisherLag(stats: PublisherStats, now: number): PublisherLag {
  if (!Number.isFinite(stats.startedAt) || !(stats.rate > 0)) {
    return { lagMs: 0, behind: 0 };
  }
  const elapsed = now - stats.startedAt;
  const nextDue = stats.published * 1000 / stats.rate;
  const due = Math.floor(elapsed * stats.rate / 1000) + 1;
  return {
    lagMs: Math.max(0, elapsed - nextDue),
    behind: Math.max(0, due - stats.published),
  };
}
