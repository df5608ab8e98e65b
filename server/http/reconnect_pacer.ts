/**
 * Server-paced reconnects: every close that invites a reconnect carries a
 * `retry_in_ms` hint, and the hints a node gives are spread so that the
 * clients it closes come back at most `ratePerSec` per second, not all at
 * once. Each hint takes the next free slot on a timeline (one slot per
 * `1000 / ratePerSec` ms) plus a random part of a slot; when the timeline
 * runs further ahead than `maxMs`, hints are spread uniformly up to `maxMs`
 * instead (a client is never told to wait longer).
 *
 * @module
 */
import { CLOSE_CODES } from "../../lib/close_codes.ts";
import { withRetryHint } from "../../lib/retry_hint.ts";

/** Reconnects per second the hints aim for when nothing else is configured. */
export const DEFAULT_RECONNECT_RATE = 200;
/** Shortest hint, ms. */
export const MIN_RETRY_HINT_MS = 250;
/** Longest hint, ms. */
export const MAX_RETRY_HINT_MS = 30_000;

/** The close codes (besides 1012, a drain's) whose reason gets a hint: the table's "reconnect" rows the server sends. */
const HINTED = new Set<number>([
  1012,
  ...Object.values(CLOSE_CODES)
    .filter((row) => row.reconnect && row.code !== 1006)
    .map((row) => row.code),
]);

/** Options of {@link ReconnectPacer}. */
export interface ReconnectPacerOptions {
  /** Reconnects per second to spread the hints over. @default {@link DEFAULT_RECONNECT_RATE} */
  readonly ratePerSec?: number;
  /** Shortest hint, ms. @default {@link MIN_RETRY_HINT_MS} */
  readonly minMs?: number;
  /** Longest hint, ms. @default {@link MAX_RETRY_HINT_MS} */
  readonly maxMs?: number;
  /** Clock, ms. @default performance.now */
  readonly now?: () => number;
  /** Random source in [0, 1). @default Math.random */
  readonly random?: () => number;
}

/**
 * Hands out spread retry hints.
 *
 * @example
 * ```ts
 * import { ReconnectPacer } from "./reconnect_pacer.ts";
 * const pacer = new ReconnectPacer({ ratePerSec: 100, now: () => 0, random: () => 0 });
 * const hints = [pacer.next(), pacer.next(), pacer.next()];
 * if (hints.join() !== "250,260,270") throw new Error(hints.join());
 * ```
 */
export class ReconnectPacer {
  readonly #slotMs: number;
  readonly #minMs: number;
  readonly #maxMs: number;
  readonly #now: () => number;
  readonly #random: () => number;
  #nextSlot = -Infinity;

  /**
   * @param options rate, bounds, clock and random source
   * @throws {RangeError} when the rate is not positive or `maxMs < minMs`
   */
  constructor(options: ReconnectPacerOptions = {}) {
    const rate = options.ratePerSec ?? DEFAULT_RECONNECT_RATE;
    this.#minMs = options.minMs ?? MIN_RETRY_HINT_MS;
    this.#maxMs = options.maxMs ?? MAX_RETRY_HINT_MS;
    if (!(rate > 0) || !(this.#maxMs >= this.#minMs) || !(this.#minMs >= 0)) {
      throw new RangeError(
        "pacer needs ratePerSec > 0 and 0 <= minMs <= maxMs",
      );
    }
    this.#slotMs = 1000 / rate;
    this.#now = options.now ?? (() => performance.now());
    this.#random = options.random ?? Math.random;
  }

  /** @returns the next client's hint, ms: the next free slot, spread within it */
  next(): number {
    const now = this.#now();
    const slot = Math.max(this.#nextSlot, now + this.#minMs);
    const hint = slot - now + this.#random() * this.#slotMs;
    if (hint > this.#maxMs) {
      return Math.round(
        this.#minMs + this.#random() * (this.#maxMs - this.#minMs),
      );
    }
    this.#nextSlot = slot + this.#slotMs;
    return Math.round(hint);
  }

  /**
   * The close reason to send with `code`: with a spread hint for the codes
   * that invite a reconnect (1001, 1012, 4000–4099 rows), unchanged otherwise.
   */
  reasonFor(code: number, reason: string): string {
    const hint = this.hintFor(code);
    return hint === undefined ? reason : withRetryHint(reason, hint);
  }

  /**
   * @returns a spread hint for a close with `code` when it invites a
   *   reconnect (see {@link reasonFor}), else undefined
   */
  hintFor(code: number): number | undefined {
    return HINTED.has(code) ? this.next() : undefined;
  }
}
