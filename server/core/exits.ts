/**
 * When the hub settles the sessions it closed: at once when it is idle,
 * after its own sweep when it is sweeping (tick, shutdown), and in a
 * microtask after the broker's delivery returns when the close was decided
 * inside that delivery, so the broker is never re-entered from its own
 * publish.
 *
 * @module
 */

/** The sessions ended and not yet settled, and when to settle them. */
export class Exits<T> {
  readonly #pending: T[] = [];
  readonly #settle: (item: T) => void;
  /** How deep the hub is inside a delivery or a sweep. */
  #busy = 0;
  #queued = false;

  /** @param settle the bookkeeping of one ended session */
  constructor(settle: (item: T) => void) {
    this.#settle = settle;
  }

  /** One ended session: settled now when nothing is under way. */
  push(item: T): void {
    this.#pending.push(item);
    if (this.#busy === 0) this.#drain();
  }

  /** A delivery or sweep begins: what ends meanwhile waits for {@link leave}. */
  enter(): void {
    this.#busy++;
  }

  /**
   * It ended. After the hub's own sweep, what ended is settled now; after
   * the broker's delivery (`later`), in a microtask once the broker's call
   * has returned.
   */
  leave(later: boolean): void {
    this.#busy--;
    if (later) this.#later();
    else if (this.#busy === 0) this.#drain();
  }

  #later(): void {
    if (this.#pending.length === 0 || this.#queued) return;
    this.#queued = true;
    queueMicrotask(() => {
      this.#queued = false;
      if (this.#busy === 0) this.#drain();
      else this.#later();
    });
  }

  #drain(): void {
    const pending = this.#pending;
    // What settling ends joins the end of the list.
    for (let i = 0; i < pending.length; i++) this.#settle(pending[i]!);
    pending.length = 0;
  }
}
