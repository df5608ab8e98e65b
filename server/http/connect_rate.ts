/**
 * Admission control (`--max-connect-rate`): a token bucket of new
 * subscriber connections per second, with a burst of one second's worth.
 * A connection beyond it is refused with 503, `Retry-After` and a retry
 * hint no shorter than the bucket's wait for its next token.
 *
 * @module
 */

import {
  TokenBucket,
  type TokenBucketOptions,
} from "../../lib/token_bucket.ts";

/** Options of {@link ConnectRate}: connections per second (0 or less: no limit), burst, clock. */
export type ConnectRateOptions = TokenBucketOptions;

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
  readonly #bucket: TokenBucket;

  /** @param options the rate, burst and clock */
  constructor(options: ConnectRateOptions) {
    this.#bucket = new TokenBucket(options);
  }

  /** Whether a limit is set at all. */
  get limited(): boolean {
    return this.#bucket.limited;
  }

  /** @returns true when a connection may go ahead now (a token was taken) */
  take(): boolean {
    return this.#bucket.tryTake(1);
  }

  /** @returns how long until the next token, ms (0 when one is there) */
  waitMs(): number {
    return this.#bucket.waitMs(1);
  }
}
