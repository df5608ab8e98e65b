/**
 * A clock and one-shot timers, injectable: production code uses the real
 * ones; tests pass a manual scheduler and move time by hand instead of
 * sleeping.
 *
 * @module
 */
import { clearImmediate, setImmediate } from "node:timers";

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

/** A 0-ms timer of {@link REAL_SCHEDULER}: an immediate, told apart from a timeout by its class. */
class Immediate {
  constructor(readonly handle: ReturnType<typeof setImmediate>) {}
}

/**
 * `performance.now()` and the platform's timers. A 0-ms timer runs as an
 * immediate (after this turn of the event loop and its I/O callbacks, in
 * tens of microseconds), not a 0-ms `setTimeout`, which Deno runs a
 * millisecond or two later: "at the end of this turn" must not cost latency.
 */
export const REAL_SCHEDULER: Scheduler = Object.freeze({
  now: () => performance.now(),
  set: (fn: () => void, ms: number): TimerHandle =>
    ms <= 0 ? new Immediate(setImmediate(fn)) : setTimeout(fn, ms),
  clear: (handle: TimerHandle) => {
    if (handle instanceof Immediate) clearImmediate(handle.handle);
    else clearTimeout(handle as ReturnType<typeof setTimeout>);
  },
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
