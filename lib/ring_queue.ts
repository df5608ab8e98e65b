/**
 * A bounded FIFO queue on a power-of-two ring buffer that drops its oldest
 * item when full. This is the per-client queue of queue mode.
 *
 * @module
 */

/** Smallest power of two that is at least `n` (and at least 1). */
function nextPowerOfTwo(n: number): number {
  let p = 1;
  while (p < n) p *= 2;
  return p;
}

/**
 * Fixed-capacity FIFO. `push` never grows the queue: when it already holds
 * `limit` items the oldest is evicted and returned, so the caller can count
 * the drop. Indexing uses a mask over a power-of-two backing array, and each
 * popped slot is cleared so the queue never pins a dropped message in memory.
 *
 * @example
 * ```ts
 * import { RingQueue } from "./ring_queue.ts";
 * const q = new RingQueue<number>(2);
 * q.push(1);
 * q.push(2);
 * const dropped = q.push(3); // the queue was full: 1 is evicted
 * if (dropped !== 1 || q.shift() !== 2) throw new Error("not drop-oldest");
 * ```
 */
export class RingQueue<T> {
  readonly #slots: (T | undefined)[];
  readonly #mask: number;
  readonly #limit: number;
  #head = 0;
  #size = 0;

  /**
   * @param limit maximum number of items held at once (a positive integer)
   * @throws {RangeError} when `limit` is not a positive integer
   */
  constructor(limit: number) {
    if (!Number.isInteger(limit) || limit < 1) {
      throw new RangeError(
        `Cannot create queue: limit must be a positive integer, got ${limit}`,
      );
    }
    const capacity = nextPowerOfTwo(limit);
    this.#slots = new Array<T | undefined>(capacity);
    this.#mask = capacity - 1;
    this.#limit = limit;
  }

  /** Number of items queued. */
  get length(): number {
    return this.#size;
  }

  /** Maximum number of items the queue holds. */
  get limit(): number {
    return this.#limit;
  }

  /** True when the next `push` will evict the oldest item. */
  get isFull(): boolean {
    return this.#size === this.#limit;
  }

  /**
   * Appends `item`. When the queue is full the oldest item is evicted first.
   *
   * @returns the evicted item, or `undefined` when nothing was dropped
   */
  push(item: T): T | undefined {
    let dropped: T | undefined;
    if (this.#size === this.#limit) dropped = this.shift();
    this.#slots[(this.#head + this.#size) & this.#mask] = item;
    this.#size++;
    return dropped;
  }

  /** Removes and returns the oldest item, or `undefined` when empty. */
  shift(): T | undefined {
    if (this.#size === 0) return undefined;
    const item = this.#slots[this.#head];
    this.#slots[this.#head] = undefined;
    this.#head = (this.#head + 1) & this.#mask;
    this.#size--;
    return item;
  }

  /** Returns the oldest item without removing it. */
  peek(): T | undefined {
    return this.#size === 0 ? undefined : this.#slots[this.#head];
  }

  /** The items, oldest first, without removing them. */
  *[Symbol.iterator](): IterableIterator<T> {
    for (let i = 0; i < this.#size; i++) {
      yield this.#slots[(this.#head + i) & this.#mask]!;
    }
  }

  /** Removes every item. */
  clear(): void {
    while (this.#size > 0) this.shift();
  }
}
