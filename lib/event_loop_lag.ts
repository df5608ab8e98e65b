/**
 * Event-loop lag: one interval timer that notes how late it fires. A timer
 * due every `intervalMs` that fires `intervalMs + x` after the previous one
 * waited `x` ms for the loop to be free.
 *
 * @module
 */

/** How often {@link EventLoopLag} samples, ms. */
export const EVENT_LOOP_SAMPLE_MS = 500;

/** Options of {@link EventLoopLag}. */
export interface EventLoopLagOptions {
  /** Sampling interval, ms. @default {EVENT_LOOP_SAMPLE_MS} */
  readonly intervalMs?: number;
  /** Monotonic clock, ms. @default performance.now */
  readonly now?: () => number;
}

/**
 * Samples the event loop's lag until disposed.
 *
 * @example
 * ```ts
 * import { EventLoopLag } from "./event_loop_lag.ts";
 * using lag = new EventLoopLag({ intervalMs: 10 });
 * if (lag.lagMs !== 0) throw new Error("no sample yet");
 * ```
 */
export class EventLoopLag implements Disposable {
  readonly #timer: ReturnType<typeof setInterval>;
  #last: number;
  /** Lag at the latest sample, ms (0 before the first). */
  lagMs = 0;
  /** Worst lag seen, ms. */
  maxMs = 0;
  /** Samples taken. */
  samples = 0;
  #windowMax = 0;

  /** @param options interval and clock */
  constructor(options: EventLoopLagOptions = {}) {
    const interval = options.intervalMs ?? EVENT_LOOP_SAMPLE_MS;
    const now = options.now ?? (() => performance.now());
    this.#last = now();
    this.#timer = setInterval(() => {
      const t = now();
      this.lagMs = Math.max(0, t - this.#last - interval);
      if (this.lagMs > this.maxMs) this.maxMs = this.lagMs;
      if (this.lagMs > this.#windowMax) this.#windowMax = this.lagMs;
      this.samples++;
      this.#last = t;
    }, interval);
  }

  /**
   * The worst lag since the previous call (or since sampling began), ms,
   * and starts a new window: what a scrape reports, so a stall between two
   * scrapes is not lost to a later, quiet sample.
   */
  takeWindowMaxMs(): number {
    const max = this.#windowMax;
    this.#windowMax = 0;
    return max;
  }

  /** Stops sampling. */
  [Symbol.dispose](): void {
    clearInterval(this.#timer);
  }
}
