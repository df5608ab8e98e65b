/**
 * What a source reports about itself, the same for every source (synthetic,
 * stdin, http): written only by the source, read by the summary, `/metrics`,
 * `/healthz`, `/readyz` and the dashboard.
 *
 * @module
 */
import { Histogram } from "../../lib/histogram.ts";

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
  /** Messages per second scheduled (the synthetic source's `--rate`; 0 for the others). */
  rate = 0;
  /** When the current schedule began, monotonic ms (it starts over after a pause). */
  scheduledFrom = Number.NaN;
  /** `published` when the current schedule began. */
  scheduledBase = 0;
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
}

/** A scheduled source's lag at one instant. */
export interface SourceLag {
  /** How long the next message has been due, ms (0 when on time). */
  readonly lagMs: number;
  /** Messages due by now that have not been published. */
  readonly behind: number;
}

/**
 * How far a scheduled source is behind its `rate`, right now: the `n`-th
 * message of the current schedule is due at `scheduledFrom + (n - 1) / rate`. Read from the schedule rather than
 * from the last message sent, so a source stuck in a naive broadcast shows
 * its lag while it is stuck, not after.
 *
 * @param stats the source's live statistics
 * @param now monotonic ms, the clock the source uses
 * @returns zeros for unscheduled sources and before the source has started
 * @example
 * ```ts
 * import { sourceLag, SourceStats } from "./source_stats.ts";
 * const stats = Object.assign(new SourceStats("synthetic"), { scheduledFrom: 0, rate: 10, published: 5 });
 * const lag = sourceLag(stats, 1000); // 11 due by 1 s, 5 sent, #6 due at 500 ms
 * if (lag.behind !== 6 || lag.lagMs !== 500) throw new Error(JSON.stringify(lag));
 * ```
 */
export function sourceLag(stats: SourceStats, now: number): SourceLag {
  if (
    !Number.isFinite(stats.scheduledFrom) || !(stats.rate > 0) ||
    stats.state !== "running"
  ) {
    return { lagMs: 0, behind: 0 };
  }
  const elapsed = now - stats.scheduledFrom;
  const sent = stats.published - stats.scheduledBase;
  const nextDue = sent * 1000 / stats.rate;
  const due = Math.floor(elapsed * stats.rate / 1000) + 1;
  return {
    lagMs: Math.max(0, elapsed - nextDue),
    behind: Math.max(0, due - sent),
  };
}
