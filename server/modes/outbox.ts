/**
 * What waits for one client, by loss class (protocol 3): droppable messages
 * in the policy's bounded queue (dropped, conflated, expired as the policy
 * and their deadlines say), critical ones in a queue of their own that is
 * never thinned; the two leave merged in seq order, so every message keeps
 * its place. A deadline (time to live) is checked when a message's turn
 * comes: one past it is not sent, and counted.
 *
 * @module
 */
import { RingQueue } from "../../lib/ring_queue.ts";
import type { OutFrame } from "../core/frame.ts";
import {
  type ClientQueue,
  createClientQueue,
  type PushOutcome,
  type QueueLimits,
} from "./client_queue.ts";

/** A critical message that does not fit: the client must go (as `--policy disconnect`). */
export const CRITICAL_OVERFLOW: PushOutcome = Object.freeze({
  dropped: 0,
  overflow: true,
});
const KEPT: PushOutcome = Object.freeze({ dropped: 0, overflow: false });

/** One client's droppable and critical queues, and its deadlines. */
export class Outbox {
  readonly #queue: ClientQueue;
  readonly #limits: QueueLimits;
  /** Critical messages (made on the first one: most clients never see one). */
  #critical: RingQueue<OutFrame> | undefined;
  /** The channel's default time to live, ms (`--channel-ttl`), if any. */
  readonly #ttlMs: number | undefined;
  /** Messages not sent because their deadline passed, not yet taken by {@link takeExpired}. */
  #expired = 0;
  /** Messages expired in all, for the client's statistics. */
  expiredTotal = 0;

  /**
   * @param limits the droppable queue's bounds and policy (the critical
   *   queue holds as many messages as `limits.maxsize`)
   * @param ttlMs the channel's default time to live, ms
   */
  constructor(limits: QueueLimits, ttlMs?: number) {
    this.#limits = limits;
    this.#queue = createClientQueue(limits);
    this.#ttlMs = ttlMs;
  }

  /** Messages waiting, both classes. */
  get length(): number {
    const critical = this.#critical;
    return critical === undefined
      ? this.#queue.length
      : this.#queue.length + critical.length;
  }

  /** Bytes of droppable messages waiting. */
  get bytes(): number {
    return this.#queue.bytes;
  }

  /** True when the droppable queue cannot take the next message without a drop. */
  get isFull(): boolean {
    return this.#queue.isFull;
  }

  /**
   * Queues `frame`: a critical one in its own queue (a full one is an
   * overflow: the client cannot take what may not be lost), any other under
   * the policy.
   */
  push(frame: OutFrame): PushOutcome {
    if (!frame.critical) return this.#queue.push(frame);
    const critical = this.#critical ??= new RingQueue<OutFrame>(
      this.#limits.maxsize,
    );
    if (critical.isFull) return CRITICAL_OVERFLOW;
    critical.push(frame);
    return KEPT;
  }

  /** The next message to leave, oldest seq first (expired ones may still be at the head). */
  peek(): OutFrame | undefined {
    const a = this.#queue.peek();
    const b = this.#critical?.peek();
    if (b === undefined) return a;
    if (a === undefined) return b;
    return b.seq < a.seq ? b : a;
  }

  /**
   * Takes the next message to send at `now`, oldest seq first, skipping
   * (and counting) droppable ones whose deadline passed.
   */
  shift(now: number): OutFrame | undefined {
    while (true) {
      const next = this.peek();
      if (next === undefined) return undefined;
      if (next.critical) return this.#critical!.shift();
      this.#queue.shift();
      const expiresAt = next.expiresAt ??
        (this.#ttlMs === undefined ? Infinity : next.enqueuedAt + this.#ttlMs);
      if (now <= expiresAt) return next;
      this.#expired++;
      this.expiredTotal++;
    }
  }

  /** Expired messages since the last call (for the client's `expired` notice). */
  takeExpired(): number {
    const n = this.#expired;
    this.#expired = 0;
    return n;
  }

  /** Turns conflation on or off (`--policy ladder`). @returns values superseded */
  setConflating(on: boolean): number {
    return this.#queue.setConflating?.(on) ?? 0;
  }

  /** Empties both queues. */
  clear(): void {
    this.#queue.clear();
    this.#critical?.clear();
  }
}
