/**
 * The server's periodic work: the hub's tick (slow-client policy, stall
 * check, expired credentials, overload signals) every {@link HOUSEKEEPING_MS},
 * and the summary line every `--summary-interval`.
 *
 * @module
 */
import type { Hub } from "./core/hub.ts";
import type { Logger } from "./core/logger.ts";
import { SummaryReporter } from "./observe/summary.ts";
import { sourceLag, type SourceStats } from "./sources/source_stats.ts";

/** How often the slow-client policy and stall check run, ms. */
export const HOUSEKEEPING_MS = 250;

/** The running timers; {@link Housekeeping.stop} ends them. */
export interface Housekeeping {
  /** Stops the tick and the summaries. Idempotent. */
  stop(): void;
  /** Logs the final summary (once the clients are closed). */
  reportFinal(): void;
}

/**
 * Starts the hub's tick and the summary. The tick measures how late its own
 * timer runs (the event loop's lag) and how far the source is behind its
 * schedule: the hub's overload signals.
 */
export function startHousekeeping(
  hub: Hub,
  source: SourceStats,
  logger: Logger,
  summaryIntervalMs: number,
): Housekeeping {
  const summary = new SummaryReporter(hub, source, logger);
  let lastTick = performance.now();
  const ticks = setInterval(() => {
    const now = performance.now();
    const loopLagMs = Math.max(0, now - lastTick - HOUSEKEEPING_MS);
    lastTick = now;
    hub.tick({ loopLagMs, sourceLagMs: sourceLag(source, now).lagMs });
  }, HOUSEKEEPING_MS);
  const summaries = setInterval(() => summary.report(), summaryIntervalMs);
  return {
    stop() {
      clearInterval(ticks);
      clearInterval(summaries);
    },
    reportFinal: () => summary.reportFinal(),
  };
}
