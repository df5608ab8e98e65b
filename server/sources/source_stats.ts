/**
 * What a source reports about itself, the same for every source (synthetic,
 * stdin, http): written only by the source, read by the summary, `/metrics`,
 * `/healthz`, `/readyz` and the dashboard.
 *
 * @module
 */
import { Histogram } from "../../lib/histogram.ts";
import type { Schedule, SourceLag } from "./schedule.ts";

export type { SourceLag } from "./schedule.ts";

/** Where published messages come from. */
export type SourceKind = "synthetic" | "stdin" | "http";

/**
 * What a source is doing: `running`; `paused` while the broker cannot take
 * messages (it retries by itself); `ended` once its input ended (stdin EOF:
 * the server still serves and replays); `stopped` after shutdown.
 */
export type SourceState = "running" | "paused" | "ended" | "stopped";

/** A source's live statistics. */
export class SourceStats {
  /** Which source. */
  readonly kind: SourceKind;
  /** When the source started, monotonic ms (NaN before). */
  startedAt = Number.NaN;
  /** The synthetic source's schedule (none for the others). */
  schedule: Schedule | undefined;
  /** Messages published. */
  published = 0;
  /** Messages refused (too big, or the broker was unavailable). */
  refused = 0;
  /** Messages skipped because the source fell too far behind its schedule (overload). */
  shed = 0;
  /** What the source is doing now. */
  state: SourceState = "running";
  /** Why it is paused, when it is. */
  pausedReason = "";
  /** How late each message went out against its schedule, ms (synthetic source; cumulative). */
  readonly lag = new Histogram();

  /** @param kind which source these statistics belong to */
  constructor(kind: SourceKind) {
    this.kind = kind;
  }

  /** Messages per second scheduled (the synthetic source's `--rate`; 0 for the others). */
  get rate(): number {
    return this.schedule?.rate ?? 0;
  }
}

/**
 * How far a scheduled source is behind its schedule right now
 * ({@link Schedule.lag}).
 *
 * @param stats the source's live statistics
 * @param now monotonic ms, the clock the source uses
 * @returns zeros for unscheduled sources and sources not running
 * @example
 * ```ts
 * import { Schedule } from "./schedule.ts";
 * import { sourceLag, SourceStats } from "./source_stats.ts";
 * const stats = new SourceStats("synthetic");
 * stats.schedule = new Schedule(10, 0);
 * stats.published = 5;
 * const lag = sourceLag(stats, 1000); // 11 due by 1 s, 5 sent, #6 due at 500 ms
 * if (lag.behind !== 6 || lag.lagMs !== 500) throw new Error(JSON.stringify(lag));
 * ```
 */
export function sourceLag(stats: SourceStats, now: number): SourceLag {
  if (!stats.schedule || stats.state !== "running") {
    return { lagMs: 0, behind: 0 };
  }
  return stats.schedule.lag(stats.published, now);
}
