/**
 * Inbound rate limit for one client: frames over the rate are throttled
 * (ignored), and a client that keeps flooding is closed. Plain state and a
 * clock passed in, testable without a socket.
 *
 * @module
 */

/** What to do with one inbound frame. */
export type InboundVerdict = "accept" | "throttle" | "close";

/**
 * Two token buckets of one second each: the first admits `rate` frames/s;
 * frames beyond it are throttled and drain the second; when both are empty
 * the client has sent about twice the rate for a second and is closed.
 *
 * @example
 * ```ts
 * import { InboundLimit } from "./inbound_limit.ts";
 * const limit = new InboundLimit(2, 0);
 * const verdicts = [0, 0, 0, 0, 0].map(() => limit.admit(0));
 * // 2 accepted, 2 throttled, then closed
 * if (verdicts.join() !== "accept,accept,throttle,throttle,close") throw new Error();
 * ```
 */
export class InboundLimit {
  readonly #rate: number;
  #admitted: number;
  #grace: number;
  #at: number;

  /**
   * @param rate frames per second allowed; `Infinity` disables the limit
   * @param now monotonic time, ms
   */
  constructor(rate: number, now: number) {
    this.#rate = rate;
    this.#admitted = rate;
    this.#grace = rate;
    this.#at = now;
  }

  /** Decides on one frame arriving at `now` (monotonic ms). */
  admit(now: number): InboundVerdict {
    if (this.#rate === Infinity) return "accept";
    const refill = ((now - this.#at) / 1000) * this.#rate;
    this.#at = now;
    this.#admitted = Math.min(this.#rate, this.#admitted + refill);
    this.#grace = Math.min(this.#rate, this.#grace + refill);
    if (this.#admitted >= 1) {
      this.#admitted--;
      return "accept";
    }
    if (this.#grace >= 1) {
      this.#grace--;
      return "throttle";
    }
    return "close";
  }
}
