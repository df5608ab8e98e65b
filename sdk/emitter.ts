/**
 * A small typed event emitter: one listener list per event name. A listener
 * that throws does not stop the others or the emitter's caller; its error is
 * reported as an uncaught error.
 *
 * @module
 */

/** Removes the listener it was returned for. */
export type Unsubscribe = () => void;

/**
 * Listeners by event name, for an event map `Events` (name → payload).
 *
 * @example
 * ```ts
 * import { Emitter } from "./emitter.ts";
 * const e = new Emitter<{ tick: number }>();
 * let sum = 0;
 * const off = e.on("tick", (n) => sum += n);
 * e.emit("tick", 2);
 * off();
 * e.emit("tick", 3);
 * if (sum !== 2) throw new Error(String(sum));
 * ```
 */
export class Emitter<Events extends object> {
  readonly #listeners = new Map<keyof Events, Set<(e: never) => void>>();

  /**
   * Adds `listener` for `type`.
   * @returns a function that removes it
   */
  on<K extends keyof Events>(
    type: K,
    listener: (event: Events[K]) => void,
  ): Unsubscribe {
    let set = this.#listeners.get(type);
    if (!set) this.#listeners.set(type, set = new Set());
    set.add(listener as (e: never) => void);
    return () => this.off(type, listener);
  }

  /** Removes `listener` for `type` (nothing happens when it was not added). */
  off<K extends keyof Events>(
    type: K,
    listener: (event: Events[K]) => void,
  ): void {
    this.#listeners.get(type)?.delete(listener as (e: never) => void);
  }

  /** Calls every listener of `type` with `event`, in the order they were added. */
  emit<K extends keyof Events>(type: K, event: Events[K]): void {
    const set = this.#listeners.get(type);
    if (!set) return;
    for (const listener of [...set]) {
      try {
        (listener as (e: Events[K]) => void)(event);
      } catch (err) {
        report(err);
      }
    }
  }
}

/** Reports a listener's error as uncaught, without unwinding the emitter. */
function report(err: unknown): void {
  const g = globalThis as { reportError?: (e: unknown) => void };
  if (typeof g.reportError === "function") g.reportError(err);
  else {queueMicrotask(() => {
      throw err;
    });}
}
