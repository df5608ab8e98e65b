/**
 * A replay budget per node (`--replay-budget`): resuming clients share a
 * rate of replayed messages per second, so a reconnect storm cannot starve
 * live delivery. A token bucket that may go into debt: a replay is let in
 * when the bucket holds enough for it (or is full, for one larger than the
 * whole burst) and is charged in full; the next ones wait until the debt is
 * paid, each told how long (a 503 with a retry hint).
 *
 * @module
 */

import {
  TokenBucket,
  type TokenBucketOptions,
} from "../../lib/token_bucket.ts";

/** Options of {@link ReplayBudget}: replayed messages per second shared by every resuming client (0 or less: no limit), burst, clock. */
export type ReplayBudgetOptions = TokenBucketOptions;

/** A replay let in, or how long to wait before asking again. */
export type ReplayVerdict =
  | { readonly ok: true }
  | { readonly ok: false; readonly waitMs: number };

/**
 * The node's replay budget.
 *
 * @example
 * ```ts
 * import { ReplayBudget } from "./replay_budget.ts";
 * let t = 0;
 * const budget = new ReplayBudget({ perSec: 100, now: () => t });
 * if (!budget.take(80).ok) throw new Error("within the burst");
 * const wait = budget.take(50);
 * if (wait.ok || wait.waitMs !== 300) throw new Error(JSON.stringify(wait));
 * t = 300;
 * if (!budget.take(50).ok) throw new Error("paid back");
 * ```
 */
export class ReplayBudget {
  readonly #bucket: TokenBucket;

  /** @param options the rate, burst and clock */
  constructor(options: ReplayBudgetOptions) {
    this.#bucket = new TokenBucket(options);
  }

  /**
   * Asks to replay `messages` messages now.
   * @returns ok (charged), or how long until the budget holds enough, ms
   */
  take(messages: number): ReplayVerdict {
    if (messages <= 0) return { ok: true };
    const need = Math.min(messages, this.#bucket.burst);
    if (this.#bucket.tryTake(messages, need)) return { ok: true };
    return { ok: false, waitMs: this.#bucket.waitMs(need) };
  }
}

/**
 * How many messages a `?since=` resume replays: from after `since` up to
 * the channel's last seq, when it resumes in the channel's epoch (another
 * epoch gets `reset`, which replays nothing).
 */
export function replayCost(
  position: { readonly epoch: string; readonly seq: number },
  since: number | undefined,
  epoch: string | undefined,
): number {
  if (since === undefined) return 0;
  if (epoch !== undefined && epoch !== position.epoch) return 0;
  return Math.max(0, position.seq - since);
}
