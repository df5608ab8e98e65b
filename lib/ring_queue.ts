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

/** Slots a queue gets at its first push; it doubles on demand up to its limit. */
const INITIAL_CAPACITY = 16;
/** The backing array of every queue that never held anything (never written: push grows first). */
const NO_SLOTS: readonly undefined[] = Object.freeze([]);

/**
 * Bounded FIFO. `push` never holds more than `limit` items: when it already
 * holds `limit` the oldest is evicted and returned, so the caller can count
 * the drop. Indexing uses a mask over a power-of-two backing array, and each
 * popped slot is cleared so the queue never pins a dropped message in memory.
 * The backing array is made at the first push, with 16 slots, and doubles
 * only when a backlog needs it, so thousands of idle clients cost little.
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
  #slots: (T | undefined)[];
  #mask: number;
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
    this.#slots = NO_SLOTS as (T | undefined)[];
    this.#mask = 0;
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
    else if (this.#size === this.#slots.length) this.#grow();
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

  /**
   * The item `i` places after the oldest (0 is the oldest), without removing it.
   * @returns undefined when `i` is outside 0..length-1
   */
  at(i: number): T | undefined {
    if (!(i >= 0 && i < this.#size)) return undefined;
    return this.#slots[(this.#head + i) & this.#mask];
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

  /** Doubles the backing array (or makes the first), oldest item first at index 0. */
  #grow(): void {
    const length = this.#slots.length;
    const slots = new Array<T | undefined>(
      length === 0
        ? Math.min(nextPowerOfTwo(this.#limit), INITIAL_CAPACITY)
        : length * 2,
    );
    for (let i = 0; i < this.#size; i++) {
      slots[i] = this.#slots[(this.#head + i) & this.#mask];
    }
    this.#slots = slots;
    this.#mask = slots.length - 1;
    this.#head = 0;
  }

  /** Removes every item. */
  clear(): void {
    while (this.#size > 0) this.shift();
  }
}
