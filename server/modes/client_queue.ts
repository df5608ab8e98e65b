/**
 * A client's outgoing queue under a slow-client policy: what happens when a
 * message arrives and the queue is at its count (`--maxsize`) or byte
 * (`--max-queue-bytes`) bound.
 *
 * @module
 */
import { RingQueue } from "../../lib/ring_queue.ts";
import type { OutFrame } from "../core/frame.ts";

/** What to do with a message that does not fit a client's queue. */
export type SlowPolicy =
  | "drop-oldest"
  | "drop-newest"
  | "disconnect"
  | "conflate"
  | "ladder";

/** Every policy, for validation and help. */
export const SLOW_POLICIES: readonly SlowPolicy[] = [
  "drop-oldest",
  "drop-newest",
  "disconnect",
  "conflate",
  "ladder",
];

/** Bounds and policy of one client's queue. */
export interface QueueLimits {
  /** Messages queued at most. */
  readonly maxsize: number;
  /** Bytes queued at most; `Infinity` for no byte bound. A lone oversized message is still queued. */
  readonly maxBytes: number;
  /** What to do when a message does not fit. */
  readonly policy: SlowPolicy;
}

/** The outcome of {@link ClientQueue.push}. */
export interface PushOutcome {
  /** Messages lost by this push (evicted, or refused). */
  readonly dropped: number;
  /** Messages replaced in place by this newer one with the same key (conflation: not a loss). @default 0 */
  readonly conflated?: number;
  /** True under `disconnect` when the message did not fit: the client must go. */
  readonly overflow: boolean;
}

/** A client's bounded outgoing queue. */
export interface ClientQueue {
  /** Messages queued. */
  readonly length: number;
  /** Bytes queued. */
  readonly bytes: number;
  /** True when the next message would not fit without a drop. */
  readonly isFull: boolean;
  /** Offers `frame` to the queue under its policy. */
  push(frame: OutFrame): PushOutcome;
  /** Takes the oldest message. */
  shift(): OutFrame | undefined;
  /** The oldest message, left in the queue. */
  peek(): OutFrame | undefined;
  /** Empties the queue. */
  clear(): void;
  /**
   * Turns conflation on or off (`--policy ladder` only: its `conflated` and
   * tier conflates, the others do not). Absent on other queues.
   * @returns the queued values superseded by a newer one of their key, now
   *   removed (turning it on keeps only the newest value per key)
   */
  setConflating?(on: boolean): number;
}

const KEPT: PushOutcome = Object.freeze({ dropped: 0, overflow: false });
const ONE_DROPPED: PushOutcome = Object.freeze({ dropped: 1, overflow: false });
const OVERFLOW: PushOutcome = Object.freeze({ dropped: 1, overflow: true });
const CONFLATED: PushOutcome = Object.freeze({
  dropped: 0,
  conflated: 1,
  overflow: false,
});

/** What both queues share: a ring of entries bounded by count and by bytes. */
abstract class BoundedRing<T> {
  protected readonly ring: RingQueue<T>;
  protected readonly limits: QueueLimits;
  /** Bytes queued. */
  protected queued = 0;

  constructor(limits: QueueLimits) {
    this.limits = limits;
    this.ring = new RingQueue<T>(limits.maxsize);
  }

  get length(): number {
    return this.ring.length;
  }

  get bytes(): number {
    return this.queued;
  }

  get isFull(): boolean {
    return this.ring.isFull || this.queued >= this.limits.maxBytes;
  }

  /** Whether a message of `bytes` fits without a drop (a lone message always does). */
  protected fits(bytes: number): boolean {
    return this.ring.length === 0 ||
      (!this.ring.isFull && this.queued + bytes <= this.limits.maxBytes);
  }
}

/** drop-oldest, drop-newest and disconnect, over a ring buffer of shared frames. */
class BoundedQueue extends BoundedRing<OutFrame> implements ClientQueue {
  push(frame: OutFrame): PushOutcome {
    if (!this.fits(frame.bytes)) {
      if (this.limits.policy === "drop-newest") return ONE_DROPPED;
      if (this.limits.policy === "disconnect") return OVERFLOW;
    }
    let dropped = 0;
    while (!this.fits(frame.bytes)) {
      this.queued -= this.ring.shift()!.bytes;
      dropped++;
    }
    this.ring.push(frame);
    this.queued += frame.bytes;
    return dropped === 0
      ? KEPT
      : dropped === 1
      ? ONE_DROPPED
      : { dropped, overflow: false };
  }

  shift(): OutFrame | undefined {
    const frame = this.ring.shift();
    if (frame) this.queued -= frame.bytes;
    return frame;
  }

  peek(): OutFrame | undefined {
    return this.ring.peek();
  }

  clear(): void {
    this.ring.clear();
    this.queued = 0;
  }
}

interface Slot {
  frame: OutFrame;
  readonly key: string | undefined;
}

/**
 * conflate: a message whose key is already queued replaces the queued one in
 * place (its position is kept, so every key keeps its turn); other messages
 * queue as drop-oldest. Market-data feeds do this for slow consumers. A
 * replaced value is superseded, not lost: it is counted as conflated, not
 * as a drop.
 */
class ConflatingQueue extends BoundedRing<Slot> implements ClientQueue {
  readonly #byKey = new Map<string, Slot>();
  /** Whether a push replaces a queued value of the same key. */
  #conflating: boolean;
  /** The key of a message without one (the ladder conflates those per channel). */
  readonly #keyless: string | undefined;

  constructor(limits: QueueLimits, conflating: boolean, keyless?: string) {
    super(limits);
    this.#conflating = conflating;
    this.#keyless = keyless;
  }

  setConflating(on: boolean): number {
    if (on === this.#conflating) return 0;
    this.#conflating = on;
    this.#byKey.clear();
    if (!on) return 0;
    // Keep the newest value of each key, in its place; it is the one a
    // later push replaces.
    const slots: Slot[] = [];
    for (let slot = this.ring.shift(); slot; slot = this.ring.shift()) {
      slots.push(slot);
      if (slot.key !== undefined) this.#byKey.set(slot.key, slot);
    }
    let superseded = 0;
    for (const slot of slots) {
      if (slot.key !== undefined && this.#byKey.get(slot.key) !== slot) {
        this.queued -= slot.frame.bytes;
        superseded++;
      } else this.ring.push(slot);
    }
    return superseded;
  }

  push(frame: OutFrame): PushOutcome {
    const key = frame.key ?? this.#keyless;
    const queued = key === undefined || !this.#conflating
      ? undefined
      : this.#byKey.get(key);
    if (queued) {
      this.queued += frame.bytes - queued.frame.bytes;
      queued.frame = frame;
      return CONFLATED;
    }
    let dropped = 0;
    while (!this.fits(frame.bytes)) {
      this.#evict(this.ring.shift()!);
      dropped++;
    }
    const slot: Slot = { frame, key };
    this.ring.push(slot);
    if (key !== undefined && this.#conflating) this.#byKey.set(key, slot);
    this.queued += frame.bytes;
    return dropped === 0 ? KEPT : { dropped, overflow: false };
  }

  shift(): OutFrame | undefined {
    const slot = this.ring.shift();
    if (!slot) return undefined;
    this.#evict(slot);
    return slot.frame;
  }

  peek(): OutFrame | undefined {
    return this.ring.peek()?.frame;
  }

  clear(): void {
    this.ring.clear();
    this.#byKey.clear();
    this.queued = 0;
  }

  #evict(slot: Slot): void {
    this.queued -= slot.frame.bytes;
    // Not conflating, the map is empty: no lookup per message.
    if (
      this.#conflating && slot.key !== undefined &&
      this.#byKey.get(slot.key) === slot
    ) {
      this.#byKey.delete(slot.key);
    }
  }
}

/**
 * A queue for one client under `limits`.
 *
 * @example
 * ```ts
 * import { createClientQueue } from "./client_queue.ts";
 * const q = createClientQueue({ maxsize: 2, maxBytes: Infinity, policy: "drop-newest" });
 * const f = (seq: number) => ({ seq, text: "{}", bytes: 2, enqueuedAt: 0 });
 * q.push(f(1));
 * q.push(f(2));
 * const outcome = q.push(f(3)); // full: the newest message is refused
 * if (outcome.dropped !== 1 || q.shift()?.seq !== 1) throw new Error();
 * ```
 */
export function createClientQueue(limits: QueueLimits): ClientQueue {
  if (limits.policy === "conflate") return new ConflatingQueue(limits, true);
  // The ladder conflates keyless messages per channel: one shared key.
  if (limits.policy === "ladder") return new ConflatingQueue(limits, false, "");
  return new BoundedQueue(limits);
}
