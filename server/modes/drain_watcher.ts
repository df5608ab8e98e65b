/**
 * Wakes waiters when a sink's buffered bytes fall to a threshold.
 *
 * Deno gives no drain event, only `bufferedAmount`, so somebody must poll.
 * One watcher polls every waiting sink on one timer, and only while anyone
 * waits: the cost is per waiting sink per tick, never per client per message,
 * and there is no timer at all when nobody is blocked. A sink blocked for
 * longer than {@link LONG_WAIT_MS} is a slow reader: it is checked only every
 * {@link LONG_POLL_MS}, all such sinks on one shared beat, so slow clients
 * that stay blocked do not keep the event loop waking every 2 ms.
 *
 * @module
 */
import {
  REAL_SCHEDULER,
  type Scheduler,
  type TimerHandle,
} from "../../lib/scheduler.ts";
import type { Sink } from "../core/sink.ts";

/** How often sinks that just blocked are checked, ms. */
export const DRAIN_POLL_MS = 2;
/** A sink still blocked after this long is polled on the slow beat, ms. */
export const LONG_WAIT_MS = 20;
/** The slow beat: how often long-blocked sinks are checked, ms. */
export const LONG_POLL_MS = 16;

interface Waiter {
  sink: Sink;
  threshold: number;
  resolve: (drained: boolean) => void;
  /** When the wait began, ms on the scheduler's clock. */
  since: number;
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
  readonly #scheduler: Scheduler;
  #timer: TimerHandle | undefined;
  /** When long-blocked sinks were last checked. */
  #lastLongPoll = -Infinity;

  /** @param scheduler clock and timers @default REAL_SCHEDULER */
  constructor(scheduler: Scheduler = REAL_SCHEDULER) {
    this.#scheduler = scheduler;
  }

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
      this.#waiters.add({
        sink,
        threshold,
        resolve,
        since: this.#scheduler.now(),
      });
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
    if (this.#waiters.size === 0) this.#stopTimer();
  }

  /** Releases every wait with `false` and stops the timer. */
  cancelAll(): void {
    for (const w of this.#waiters) w.resolve(false);
    this.#waiters.clear();
    this.#stopTimer();
  }

  #stopTimer(): void {
    if (this.#timer !== undefined) this.#scheduler.clear(this.#timer);
    this.#timer = undefined;
  }

  #schedule(): void {
    if (this.#timer !== undefined || this.#waiters.size === 0) return;
    const now = this.#scheduler.now();
    let delay = Math.max(1, this.#lastLongPoll + LONG_POLL_MS - now);
    for (const w of this.#waiters) {
      if (now - w.since < LONG_WAIT_MS) {
        delay = DRAIN_POLL_MS;
        break;
      }
    }
    this.#timer = this.#scheduler.set(() => this.#poll(), delay);
  }

  #poll(): void {
    this.#timer = undefined;
    const now = this.#scheduler.now();
    const longBeat = now - this.#lastLongPoll >= LONG_POLL_MS - 1;
    if (longBeat) this.#lastLongPoll = now;
    for (const w of this.#waiters) {
      if (!longBeat && now - w.since >= LONG_WAIT_MS) continue;
      if (w.sink.bufferedAmount <= w.threshold) {
        this.#waiters.delete(w);
        w.resolve(true);
      }
    }
    this.#schedule();
  }
}
