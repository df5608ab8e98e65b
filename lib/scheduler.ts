/**
 * A clock and one-shot timers, injectable: production code uses the real
 * ones; tests pass a manual scheduler and move time by hand instead of
 * sleeping.
 *
 * @module
 */

/** A timer, as {@link Scheduler.set} returns it: opaque to its users. */
export type TimerHandle = unknown;

/** A monotonic clock and one-shot timers. */
export interface Scheduler {
  /** Monotonic time, ms. */
  now(): number;
  /** Runs `fn` once after `ms`; returns a handle for {@link clear}. */
  set(fn: () => void, ms: number): TimerHandle;
  /** Cancels a timer that has not run yet. */
  clear(handle: TimerHandle): void;
}

/** `performance.now()` and the platform's `setTimeout`. */
export const REAL_SCHEDULER: Scheduler = Object.freeze({
  now: () => performance.now(),
  set: (fn: () => void, ms: number): TimerHandle => setTimeout(fn, ms),
  clear: (handle: TimerHandle) =>
    clearTimeout(handle as ReturnType<typeof setTimeout>),
});

/**
 * A scheduler whose time moves only when told: timers due by the new time
 * run, in due order, inside {@link ManualScheduler.advance}.
 *
 * @example
 * ```ts
 * import { ManualScheduler } from "./scheduler.ts";
 * const s = new ManualScheduler(0);
 * const fired: number[] = [];
 * s.set(() => fired.push(s.now()), 10);
 * s.advance(9);
 * if (fired.join() !== "") throw new Error("too early");
 * s.advance(1);
 * if (fired.join() !== "10") throw new Error("not fired at 10 ms");
 * ```
 */
export class ManualScheduler implements Scheduler {
  #t: number;
  #next = 1;
  readonly #timers = new Map<number, { at: number; fn: () => void }>();

  /** @param start the clock's starting value, ms */
  constructor(start = 1_000_000) {
    this.#t = start;
  }

  /** The current time, ms; a bound function, so it can be passed as a clock. */
  readonly now = (): number => this.#t;

  /** @inheritdoc */
  set(fn: () => void, ms: number): TimerHandle {
    const handle = this.#next++;
    this.#timers.set(handle, { at: this.#t + Math.max(0, ms), fn });
    return handle;
  }

  /** @inheritdoc */
  clear(handle: TimerHandle): void {
    this.#timers.delete(handle as number);
  }

  /** Timers not yet run. */
  get pending(): number {
    return this.#timers.size;
  }

  /** Moves time forward by `ms`, running every timer that falls due, in order. */
  advance(ms: number): void {
    const end = this.#t + ms;
    while (true) {
      let due: [number, { at: number; fn: () => void }] | undefined;
      for (const entry of this.#timers) {
        if (entry[1].at <= end && (!due || entry[1].at < due[1].at)) {
          due = entry;
        }
      }
      if (!due) break;
      this.#timers.delete(due[0]);
      this.#t = Math.max(this.#t, due[1].at);
      due[1].fn();
    }
    this.#t = end;
  }
}
