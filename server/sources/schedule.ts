/**
 * The synthetic source's schedule, the one place it lives: at `rate`
 * messages per second, the message after `n` published is due at
 * `from + n / rate` (absolute time, so the rate holds over minutes). The
 * source publishes by it, {@link Schedule.lag} says how far behind it is
 * (overload signal, `/metrics`, health, dashboard), and the demo reads from
 * it when each message was due.
 *
 * @module
 */

/** A scheduled source's lag at one instant. */
export interface SourceLag {
  /** How long the next message has been due, ms (0 when on time). */
  readonly lagMs: number;
  /** Messages due by now that have not been published. */
  readonly behind: number;
}

/**
 * Message times at a fixed rate. A run of the schedule starts at `from` with
 * `count` messages already published; it starts over after a pause, and
 * messages skipped to catch up count as done.
 *
 * @example
 * ```ts
 * import { Schedule } from "./schedule.ts";
 * const s = new Schedule(10, 0); // 10/s from t = 0 ms
 * if (s.dueAt(5) !== 500) throw new Error(); // the 6th message
 * const lag = s.lag(5, 1000); // 11 due by 1 s, 5 sent, #6 due at 500 ms
 * if (lag.behind !== 6 || lag.lagMs !== 500) throw new Error(JSON.stringify(lag));
 * ```
 */
export class Schedule {
  /** Messages per second. */
  readonly rate: number;
  /** Time between two messages, ms. */
  readonly intervalMs: number;
  #from: number;
  /** `count` at `from`, less what was skipped since. */
  #base: number;

  /**
   * @param rate messages per second
   * @param from when the first run starts, monotonic ms
   * @param count messages published before it
   */
  constructor(rate: number, from: number, count = 0) {
    this.rate = rate;
    this.intervalMs = 1000 / rate;
    this.#from = from;
    this.#base = count;
  }

  /** When the current run began, monotonic ms. */
  get from(): number {
    return this.#from;
  }

  /** Starts a new run at `from`, `count` messages published (after a pause: what was due meanwhile is not owed). */
  restart(from: number, count: number): void {
    this.#from = from;
    this.#base = count;
  }

  /** Counts `n` messages as done without publishing them (skipped to catch up). */
  skip(n: number): void {
    this.#base -= n;
  }

  /** When the message after `count` published is due, monotonic ms. */
  dueAt(count: number): number {
    return this.#from + (count - this.#base) * this.intervalMs;
  }

  /** How many messages are due by `now` (published count they reach). */
  dueBy(now: number): number {
    return this.#base + Math.floor((now - this.#from) * this.rate / 1000) + 1;
  }

  /**
   * How far behind the schedule a source that published `count` is at
   * `now`. Read from the schedule rather than from the last message sent,
   * so a source stuck in a naive broadcast shows its lag while it is stuck.
   */
  lag(count: number, now: number): SourceLag {
    return {
      lagMs: Math.max(0, now - this.dueAt(count)),
      behind: Math.max(0, this.dueBy(now) - count),
    };
  }
}
