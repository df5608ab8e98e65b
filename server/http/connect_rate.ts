/**
 * Admission control (`--max-connect-rate`): a token bucket of new
 * subscriber connections per second, with a burst of one second's worth.
 * A connection beyond it is refused with 503, `Retry-After` and a retry
 * hint no shorter than the bucket's wait for its next token.
 *
 * @module
 */

/** Options of {@link ConnectRate}. */
export interface ConnectRateOptions {
  /** Connections per second; 0 or less: no limit. */
  readonly perSec: number;
  /** Most tokens held (the burst). @default perSec, at least 1 */
  readonly burst?: number;
  /** Clock, ms. @default performance.now */
  readonly now?: () => number;
}

/**
 * A token bucket.
 *
 * @example
 * ```ts
 * import { ConnectRate } from "./connect_rate.ts";
 * let t = 0;
 * const bucket = new ConnectRate({ perSec: 2, now: () => t });
 * if (!bucket.take() || !bucket.take() || bucket.take()) throw new Error();
 * if (bucket.waitMs() !== 500) throw new Error(String(bucket.waitMs()));
 * t = 500;
 * if (!bucket.take()) throw new Error("a token came back");
 * ```
 */
export class ConnectRate {
  readonly #perMs: number;
  readonly #burst: number;
  readonly #now: () => number;
  #tokens: number;
  #at: number;

  /** @param options the rate, burst and clock */
  constructor(options: ConnectRateOptions) {
    this.#perMs = options.perSec > 0 ? options.perSec / 1000 : Infinity;
    this.#burst = options.burst ?? Math.max(1, options.perSec);
    this.#now = options.now ?? (() => performance.now());
    this.#tokens = this.#burst;
    this.#at = this.#now();
  }

  /** Whether a limit is set at all. */
  get limited(): boolean {
    return this.#perMs !== Infinity;
  }

  /** @returns true when a connection may go ahead now (a token was taken) */
  take(): boolean {
    if (!this.limited) return true;
    this.#refill();
    if (this.#tokens < 1) return false;
    this.#tokens -= 1;
    return true;
  }

  /** @returns how long until the next token, ms (0 when one is there) */
  waitMs(): number {
    if (!this.limited) return 0;
    this.#refill();
    return this.#tokens >= 1 ? 0 : Math.ceil((1 - this.#tokens) / this.#perMs);
  }

  #refill(): void {
    const now = this.#now();
    this.#tokens = Math.min(
      this.#burst,
      this.#tokens + (now - this.#at) * this.#perMs,
    );
    this.#at = now;
  }
}
