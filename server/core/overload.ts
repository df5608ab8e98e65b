/**
 * Whether the server itself is behind: its event loop runs its timers late,
 * its source cannot keep its schedule, or most of its clients are behind at
 * once. While it is, slow clients are told
 * apart from the server's own slowness by comparing them with their peers,
 * and what cannot be sent is shed evenly instead of cutting anybody.
 *
 * @module
 */

/** Overloaded when the housekeeping timer fires this late, ms. */
export const OVERLOAD_LOOP_LAG_MS = 100;
/** …or when the source is this far behind its schedule, ms. */
export const OVERLOAD_SOURCE_LAG_MS = 250;
/**
 * …or when more than this share of the clients are behind at once (their
 * oldest waiting message at least {@link OVERLOAD_CLIENT_LAG_MS} old): one
 * slow reader is its own problem, most of them together are the server's —
 * its writes, or a reader shared by them all, cannot keep up.
 */
export const OVERLOAD_BEHIND_SHARE = 0.5;
/** A client counts as behind for {@link OVERLOAD_BEHIND_SHARE} at this lag, ms. */
export const OVERLOAD_CLIENT_LAG_MS = 250;
/** …and only when at least this many are behind (two slow clients of three are two slow clients). */
export const OVERLOAD_MIN_BEHIND = 10;
/** Calm again once every signal stayed under half its threshold this long, ms. */
export const OVERLOAD_CALM_MS = 1000;

/** What the monitor reads each housekeeping tick. */
export interface OverloadSignals {
  /** How late the housekeeping timer fired, ms. */
  readonly loopLagMs: number;
  /** How far the source is behind its schedule, ms (0 for unscheduled sources). */
  readonly sourceLagMs: number;
  /**
   * Share of the clients behind at once, 0..1 (0 when fewer than
   * {@link OVERLOAD_MIN_BEHIND} are): the mode's reading. @default 0
   */
  readonly behindShare?: number;
}

/**
 * The overload state, with hysteresis: it enters at once and leaves only
 * after {@link OVERLOAD_CALM_MS} of calm, so it does not flap.
 *
 * @example
 * ```ts
 * import { OverloadMonitor } from "./overload.ts";
 * const m = new OverloadMonitor();
 * m.update({ loopLagMs: 300, sourceLagMs: 0 }, 0);
 * if (!m.overloaded || m.episodes !== 1) throw new Error("entered");
 * m.update({ loopLagMs: 0, sourceLagMs: 0 }, 500);
 * if (!m.overloaded) throw new Error("not calm long enough yet");
 * m.update({ loopLagMs: 0, sourceLagMs: 0 }, 1600);
 * if (m.overloaded || m.overloadedMs !== 1600) throw new Error("calm");
 * ```
 */
export class OverloadMonitor {
  /** Whether the server is behind now. */
  overloaded = false;
  /** Times it became overloaded. */
  episodes = 0;
  /** Time spent overloaded so far, ms. */
  overloadedMs = 0;
  #since = 0;
  #calmSince: number | undefined;
  #last: number | undefined;

  /**
   * Takes one reading at `now` (monotonic ms).
   * @returns whether the server is overloaded now
   */
  update(signals: OverloadSignals, now: number): boolean {
    if (this.overloaded && this.#last !== undefined) {
      this.overloadedMs += now - this.#last;
    }
    this.#last = now;
    const behind = signals.behindShare ?? 0;
    const hot = signals.loopLagMs > OVERLOAD_LOOP_LAG_MS ||
      signals.sourceLagMs > OVERLOAD_SOURCE_LAG_MS ||
      behind > OVERLOAD_BEHIND_SHARE;
    const calm = signals.loopLagMs < OVERLOAD_LOOP_LAG_MS / 2 &&
      signals.sourceLagMs < OVERLOAD_SOURCE_LAG_MS / 2 &&
      behind < OVERLOAD_BEHIND_SHARE / 2;
    if (hot) {
      this.#calmSince = undefined;
      if (!this.overloaded) {
        this.overloaded = true;
        this.episodes++;
        this.#since = now;
      }
    } else if (this.overloaded && calm) {
      this.#calmSince ??= now;
      if (now - this.#calmSince >= OVERLOAD_CALM_MS) {
        this.overloaded = false;
        this.#calmSince = undefined;
      }
    } else this.#calmSince = undefined;
    return this.overloaded;
  }

  /** How long the current episode has lasted, ms (0 when calm). */
  currentMs(now: number): number {
    return this.overloaded ? now - this.#since : 0;
  }
}
