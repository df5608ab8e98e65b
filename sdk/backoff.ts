/**
 * Reconnect delays: exponential backoff with an optional random spread, the
 * one policy the SDK and clientsim share.
 *
 * @module
 */

/** First reconnect delay, ms; doubles after every failed attempt. */
export const INITIAL_BACKOFF_MS = 250;
/** Longest reconnect delay, ms. */
export const MAX_BACKOFF_MS = 5_000;

/** Options of {@link Backoff}. */
export interface BackoffOptions {
  /** First delay, ms. @default {@link INITIAL_BACKOFF_MS} */
  readonly initialMs?: number;
  /** Longest delay, ms. @default {@link MAX_BACKOFF_MS} */
  readonly maxMs?: number;
  /** Growth per attempt. @default 2 */
  readonly factor?: number;
  /**
   * Fraction of each delay taken off at random, 0..1, so that many clients
   * cut at once do not come back at once. @default 0
   */
  readonly jitter?: number;
  /** Random source in [0, 1). @default Math.random */
  readonly random?: () => number;
}

/**
 * Exponential backoff: `next()` returns the delay before the next attempt
 * and grows it; `reset()` after a connection that opened.
 *
 * @example
 * ```ts
 * import { Backoff } from "./backoff.ts";
 * const b = new Backoff({ initialMs: 100, maxMs: 350 });
 * const delays = [b.next(), b.next(), b.next(), b.next()];
 * if (delays.join() !== "100,200,350,350") throw new Error(delays.join());
 * b.reset();
 * if (b.next() !== 100) throw new Error("reset starts over");
 * ```
 */
export class Backoff {
  readonly #initial: number;
  readonly #max: number;
  readonly #factor: number;
  readonly #jitter: number;
  readonly #random: () => number;
  #current: number;

  /**
   * @param options first and longest delay, growth, random spread
   * @throws {RangeError} when a value is negative, `maxMs` is below
   *   `initialMs`, `factor` is below 1 or `jitter` is outside 0..1
   */
  constructor(options: BackoffOptions = {}) {
    this.#initial = options.initialMs ?? INITIAL_BACKOFF_MS;
    this.#max = options.maxMs ?? Math.max(MAX_BACKOFF_MS, this.#initial);
    this.#factor = options.factor ?? 2;
    this.#jitter = options.jitter ?? 0;
    this.#random = options.random ?? Math.random;
    if (
      !(this.#initial >= 0) || !(this.#max >= this.#initial) ||
      !(this.#factor >= 1) || !(this.#jitter >= 0 && this.#jitter <= 1)
    ) {
      throw new RangeError(
        "backoff needs 0 <= initialMs <= maxMs, factor >= 1 and jitter in 0..1",
      );
    }
    this.#current = this.#initial;
  }

  /** @returns the delay before the next attempt, ms; the one after grows */
  next(): number {
    const base = this.#current;
    this.#current = Math.min(this.#current * this.#factor, this.#max);
    if (this.#jitter === 0) return base;
    return Math.round(base * (1 - this.#jitter * this.#random()));
  }

  /** Starts over from the first delay (after a connection that opened). */
  reset(): void {
    this.#current = this.#initial;
  }
}
