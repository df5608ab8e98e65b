/**
 * Wakes waiters when a sink's buffered bytes fall to a threshold.
 *
 * Deno gives no drain event, only `bufferedAmount`, so somebody must poll.
 * One watcher polls every waiting sink on one timer, and only while anyone
 * waits: the cost is per waiting sink per tick, never per client per message,
 * and there is no timer at all when nobody is blocked.
 *
 * @module
 */
import type { Sink } from "./sink.ts";

/** How often waiting sinks are checked, ms. */
export const DRAIN_POLL_MS = 2;

interface Waiter {
  sink: Sink;
  threshold: number;
  resolve: (drained: boolean) => void;
}

/**
 * Shared poller for sinks blocked on backpressure.
 *
 * @example
 * ```ts
 * import { DrainWatcher } from "./drain_watcher.ts";
 * const watcher = new DrainWatcher();
 * const sink = { bufferedAmount: 0, send() {}, close() {} };
 * const drained = await watcher.waitBelow(sink, 1024);
 * if (!drained) throw new Error("an empty sink is drained");
 * ```
 */
export class DrainWatcher {
  readonly #waiters = new Set<Waiter>();
  #timer: ReturnType<typeof setTimeout> | undefined;

  /** Number of sinks currently waited on. */
  get waiting(): number {
    return this.#waiters.size;
  }

  /**
   * Resolves once `sink.bufferedAmount <= threshold`.
   * @returns true when drained, false when {@link cancel} or
   *   {@link cancelAll} released the wait first
   */
  waitBelow(sink: Sink, threshold: number): Promise<boolean> {
    if (sink.bufferedAmount <= threshold) return Promise.resolve(true);
    return new Promise((resolve) => {
      this.#waiters.add({ sink, threshold, resolve });
      this.#schedule();
    });
  }

  /** Releases every wait on `sink` with `false` (the session is closing). */
  cancel(sink: Sink): void {
    for (const w of this.#waiters) {
      if (w.sink === sink) {
        this.#waiters.delete(w);
        w.resolve(false);
      }
    }
  }

  /** Releases every wait with `false` and stops the timer. */
  cancelAll(): void {
    for (const w of this.#waiters) w.resolve(false);
    this.#waiters.clear();
    if (this.#timer !== undefined) clearTimeout(this.#timer);
    this.#timer = undefined;
  }

  #schedule(): void {
    if (this.#timer !== undefined || this.#waiters.size === 0) return;
    this.#timer = setTimeout(() => this.#poll(), DRAIN_POLL_MS);
  }

  #poll(): void {
    this.#timer = undefined;
    for (const w of this.#waiters) {
      if (w.sink.bufferedAmount <= w.threshold) {
        this.#waiters.delete(w);
        w.resolve(true);
      }
    }
    this.#schedule();
  }
}
