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

/** Options of {@link ReplayBudget}. */
export interface ReplayBudgetOptions {
  /** Replayed messages per second shared by every resuming client; 0 or less: no limit. */
  readonly perSec: number;
  /** Most messages saved up. @default perSec (one second's worth) */
  readonly burst?: number;
  /** Clock, ms. @default performance.now */
  readonly now?: () => number;
}

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
  readonly #perMs: number;
  readonly #burst: number;
  readonly #now: () => number;
  #tokens: number;
  #at: number;

  /** @param options the rate, burst and clock */
  constructor(options: ReplayBudgetOptions) {
    this.#perMs = options.perSec > 0 ? options.perSec / 1000 : Infinity;
    this.#burst = options.burst ?? Math.max(1, options.perSec);
    this.#now = options.now ?? (() => performance.now());
    this.#tokens = this.#burst;
    this.#at = this.#now();
  }

  /**
   * Asks to replay `messages` messages now.
   * @returns ok (charged), or how long until the budget holds enough, ms
   */
  take(messages: number): ReplayVerdict {
    if (this.#perMs === Infinity || messages <= 0) return { ok: true };
    const now = this.#now();
    this.#tokens = Math.min(
      this.#burst,
      this.#tokens + (now - this.#at) * this.#perMs,
    );
    this.#at = now;
    const need = Math.min(messages, this.#burst);
    if (this.#tokens >= need) {
      this.#tokens -= messages;
      return { ok: true };
    }
    return {
      ok: false,
      waitMs: Math.ceil((need - this.#tokens) / this.#perMs),
    };
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
