/**
 * One token bucket: a rate per second, a burst, a clock. Admission control
 * (`--max-connect-rate`) and the replay budget (`--replay-budget`) are both
 * this bucket with their own rules on top.
 *
 * @module
 */

/** Options of {@link TokenBucket}. */
export interface TokenBucketOptions {
  /** Tokens per second; 0 or less: no limit. */
  readonly perSec: number;
  /** Most tokens held (the burst). @default perSec, at least 1 */
  readonly burst?: number;
  /** Clock, ms. @default performance.now */
  readonly now?: () => number;
}

/**
 * A token bucket that may go into debt: {@link tryTake} lets a cost through
 * once `need` tokens are there and charges the whole cost.
 *
 * @example
 * ```ts
 * import { TokenBucket } from "./token_bucket.ts";
 * let t = 0;
 * const b = new TokenBucket({ perSec: 10, now: () => t });
 * if (!b.tryTake(10) || b.tryTake(1)) throw new Error("burst of 10");
 * if (b.waitMs(1) !== 100) throw new Error(String(b.waitMs(1)));
 * t = 100;
 * if (!b.tryTake(1)) throw new Error("a token came back");
 * ```
 */
export class TokenBucket {
  readonly #perMs: number;
  /** Most tokens held. */
  readonly burst: number;
  readonly #now: () => number;
  #tokens: number;
  #at: number;

  /** @param options the rate, burst and clock */
  constructor(options: TokenBucketOptions) {
    this.#perMs = options.perSec > 0 ? options.perSec / 1000 : Infinity;
    this.burst = options.burst ?? Math.max(1, options.perSec);
    this.#now = options.now ?? (() => performance.now());
    this.#tokens = this.burst;
    this.#at = this.#now();
  }

  /** Whether a limit is set at all. */
  get limited(): boolean {
    return this.#perMs !== Infinity;
  }

  /**
   * Takes `cost` tokens when at least `need` are there (the balance may go
   * below zero: the debt is paid before the next one passes).
   * @returns whether it was let through
   */
  tryTake(cost: number, need: number = cost): boolean {
    if (!this.limited) return true;
    this.#refill();
    if (this.#tokens < need) return false;
    this.#tokens -= cost;
    return true;
  }

  /** @returns how long until `need` tokens are there, ms (0 when they are) */
  waitMs(need: number): number {
    if (!this.limited) return 0;
    this.#refill();
    return this.#tokens >= need
      ? 0
      : Math.ceil((need - this.#tokens) / this.#perMs);
  }

  #refill(): void {
    const now = this.#now();
    this.#tokens = Math.min(
      this.burst,
      this.#tokens + (now - this.#at) * this.#perMs,
    );
    this.#at = now;
  }
}
