/**
 * One client's writer in queue mode: its bounded queue under the slow-client
 * policy, the notices and replay that go ahead of live data, and the only
 * code that writes to that client's socket. It never closes the session:
 * {@link QueueWriter.offer} and {@link QueueWriter.judge} return a verdict
 * and the caller (the hub, through the mode) closes.
 *
 * @module
 */
import { encodeControl } from "../../lib/protocol.ts";
import type { ReplayCursor } from "../core/broker.ts";
import type { OutFrame } from "../core/frame.ts";
import type { Backlog, Outlet, Verdict } from "../core/mode.ts";
import type { Session } from "../core/session.ts";
import type { BatchJoiner } from "./batch_joiner.ts";
import {
  type ClientQueue,
  createClientQueue,
  type QueueLimits,
} from "./client_queue.ts";
import type { DrainWatcher } from "./drain_watcher.ts";
import {
  judgeLag,
  judgeSlow,
  newSlowState,
  noteFull,
  recordDrop,
  type SlowLimits,
  type SlowState,
} from "./slow_policy.ts";

/**
 * The writer hands frames to the socket only while the socket buffers fewer
 * bytes than this. Without this gate Deno buffers without limit and the
 * bounded queue bounds nothing. Server memory per client is at most this
 * plus one frame, plus the queue's shared frame references.
 */
export const QUEUE_HIGH_WATER_BYTES = 64 * 1024;

/** A batching client's frame holds at most this many messages (`?batch=1`). */
export const BATCH_MAX_MESSAGES = 256;
/** A batching client's frame stops growing once it holds this many bytes (`?batch=1`). */
export const BATCH_MAX_BYTES = 1024 * 1024;

/** An ACK's lag counts toward `--max-lag` for this long after it arrived, ms. */
export const ACK_LAG_FRESH_MS = 2000;

/** Scratch array of the frames going into one batch (batches are built synchronously). */
const TAKEN: OutFrame[] = [];

/** What every writer of one mode shares. */
export interface WriterContext {
  /** Queue bounds and policy. */
  readonly queue: QueueLimits;
  /** Slow-client limits. */
  readonly limits: SlowLimits;
  /** The shared drain poller. */
  readonly watcher: DrainWatcher;
  /** Monotonic clock, ms. */
  readonly now: () => number;
  /** This tick's shared batch texts. */
  readonly joiner: BatchJoiner;
  /** Puts a batching writer on the next batch tick. */
  readonly schedule: (writer: QueueWriter) => void;
}

/** One client's queue and writer. */
export class QueueWriter implements Outlet {
  /** The session written to. */
  readonly session: Session;
  readonly #ctx: WriterContext;
  readonly #queue: ClientQueue;
  readonly #slow: SlowState = newSlowState();
  /** Control frames to send before anything else (undefined when none: most clients). */
  #notices: string[] | undefined;
  /** History still to replay before live frames. */
  #replay: ReplayCursor | undefined;
  /** True while the backlog is being read: live frames queue, nothing is sent. */
  #held: boolean;
  /** Drops not yet announced to a client that asked for control frames. */
  #unannounced = 0;
  /** True while the writer waits for the socket to drain. */
  #waiting = false;
  /** True for a `?batch=1` client: live frames leave on the batch tick. */
  readonly #batch: boolean;
  /** True while this writer is on the next batch tick. */
  scheduled = false;

  /**
   * @param session the client
   * @param backlog what it receives first; a promise holds live frames until it settles
   * @param ctx what the mode's writers share
   */
  constructor(
    session: Session,
    backlog: Backlog | Promise<Backlog> | undefined,
    ctx: WriterContext,
  ) {
    this.session = session;
    this.#ctx = ctx;
    this.#queue = createClientQueue(ctx.queue);
    this.#batch = session.batch;
    this.#held = backlog instanceof Promise;
    if (backlog instanceof Promise) {
      backlog.then((b) => {
        this.#held = false;
        this.#setBacklog(b);
        // Live frames handed over while the backlog was read and covered by it.
        const after = b.after ?? 0;
        while ((this.#queue.peek()?.seq ?? Infinity) <= after) {
          this.#queue.shift();
        }
        this.flush(this.#ctx.now());
      });
    } else if (backlog) this.#setBacklog(backlog);
  }

  /** Messages waiting in the queue. */
  get queued(): number {
    return this.#queue.length;
  }

  /** True while the socket is over the high-water mark and the writer waits for it to drain. */
  get blocked(): boolean {
    return this.#waiting;
  }

  /** Whether the writer may send now (not held, not blocked, session open). */
  get idle(): boolean {
    return !this.#held && !this.#waiting;
  }

  /**
   * Offers a live frame: sent at once when nothing waits ahead of it and the
   * socket has room, otherwise queued under the policy.
   * @returns a verdict when the client must be disconnected, else undefined
   */
  offer(frame: OutFrame, now: number): Verdict | undefined {
    const session = this.session;
    if (
      !this.#batch && !this.#held && !this.#waiting &&
      this.#queue.length === 0 && !this.#hasPriority() &&
      session.sink.bufferedAmount < QUEUE_HIGH_WATER_BYTES
    ) {
      session.write(frame, now);
      this.#slow.fullSince = undefined;
      return undefined;
    }
    const { dropped, overflow, conflated } = this.#queue.push(frame);
    if (conflated) session.stats.conflated += conflated;
    if (overflow) {
      session.stats.drops++;
      return {
        reason: "slow_overflow",
        detail:
          `slow client: queue full (${this.#queue.length} msgs, ${this.#queue.bytes} B) under --policy disconnect`,
      };
    }
    if (dropped > 0) {
      session.stats.drops += dropped;
      recordDrop(this.#slow, now, dropped);
      if (session.control) this.#unannounced += dropped;
    }
    noteFull(this.#slow, this.#queue.isFull, now);
    if (this.#batch) {
      if (!this.scheduled && this.idle) this.#ctx.schedule(this);
    } else if (this.idle) this.flush(now);
    return this.#slow.fullSince !== undefined || dropped > 0
      ? this.judge(now)
      : undefined;
  }

  /** Queues a control frame ahead of the data (control clients only), and sends it when it can. */
  notice(text: string): void {
    if (!this.session.control) return;
    (this.#notices ??= []).push(text);
    if (this.idle) this.flush(this.#ctx.now());
  }

  /** The slow-client policy's verdict now (drop limit, full timeout, max lag). */
  judge(now: number): Verdict | undefined {
    return judgeSlow(this.#slow, this.#ctx.limits, now) ??
      judgeLag(this.lagMs(now), this.#ctx.limits);
  }

  /**
   * How far behind the client is, ms: the age of the oldest message still
   * queued for it, or, when it ACKs, how old the message it last ACKed was
   * (what waits in socket buffers shows there).
   */
  lagMs(now: number): number {
    const head = this.#queue.peek();
    const queued = head === undefined ? 0 : now - head.enqueuedAt;
    const stats = this.session.stats;
    const acked = now - stats.ackAt <= ACK_LAG_FRESH_MS ? stats.ackLagMs : 0;
    return Math.max(queued, acked);
  }

  /**
   * Sends as much as the socket's high-water mark allows: notices and replay
   * first, one frame each, then the live queue (one frame per message, or for
   * a batching client one array frame per batch). When the socket is full it
   * waits on the drain watcher and goes on by itself.
   */
  flush(now: number): void {
    const { session } = this;
    const sink = session.sink;
    while (!session.closed && !this.#held) {
      const priority = this.#hasPriority();
      if (!priority && this.#queue.length === 0) return;
      if (sink.bufferedAmount >= QUEUE_HIGH_WATER_BYTES) {
        this.#wait();
        return;
      }
      if (priority) {
        const text = this.#nextPriority();
        if (text !== undefined) session.writeRaw(text);
      } else if (this.#batch) this.#sendBatch(now);
      else session.write(this.#queue.shift()!, now);
      noteFull(this.#slow, this.#queue.isFull, now);
    }
  }

  /** Empties the queue and releases the drain wait. @returns messages discarded */
  detach(): number {
    const discarded = this.#queue.length;
    this.#queue.clear();
    this.#replay = undefined;
    this.#ctx.watcher.cancel(this.session.sink);
    return discarded;
  }

  #setBacklog(backlog: Backlog): void {
    this.#notices = backlog.notices.length > 0
      ? [...backlog.notices]
      : undefined;
    this.#replay = backlog.replay;
  }

  #wait(): void {
    this.#waiting = true;
    this.#ctx.watcher.waitBelow(this.session.sink, QUEUE_HIGH_WATER_BYTES - 1)
      .then((drained) => {
        this.#waiting = false;
        if (drained) this.flush(this.#ctx.now());
      });
  }

  /** True when notices or replayed history wait ahead of the live queue. */
  #hasPriority(): boolean {
    return this.#notices !== undefined || this.#unannounced > 0 ||
      this.#replay !== undefined;
  }

  /** The next notice or replayed frame, in priority order. */
  #nextPriority(): string | undefined {
    const notices = this.#notices;
    if (notices !== undefined) {
      const text = notices.shift()!;
      if (notices.length === 0) this.#notices = undefined;
      return text;
    }
    if (this.#unannounced > 0) {
      const count = this.#unannounced;
      this.#unannounced = 0;
      return encodeControl({
        type: "dropped",
        channel: this.session.channel,
        count,
      });
    }
    // Replayed history is sent as is: its enqueue time is not this client's.
    const text = this.#replay?.next();
    if (text === undefined) this.#replay = undefined;
    return text;
  }

  /** Sends up to the batch caps of the queue as one JSON array frame. */
  #sendBatch(now: number): void {
    const taken = TAKEN;
    const queue = this.#queue;
    let bytes = 0;
    while (
      taken.length < BATCH_MAX_MESSAGES && bytes < BATCH_MAX_BYTES &&
      queue.length > 0
    ) {
      const frame = queue.shift()!;
      taken.push(frame);
      bytes += frame.bytes;
    }
    const first = taken[0]!;
    const last = taken[taken.length - 1]!;
    const shareable = this.#ctx.queue.policy !== "conflate" &&
      last.seq - first.seq + 1 === taken.length;
    this.session.writeBatch(
      taken,
      this.#ctx.joiner.join(taken, shareable),
      now,
    );
    taken.length = 0;
  }
}
