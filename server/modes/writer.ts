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
/**
 * …and fewer frames than this: with small frames 64 KiB would let hundreds
 * of them wait in Deno's buffer behind the bounded queue, out of the policy's
 * reach, so what waits per client is bounded in messages too.
 */
export const SOCKET_HIGH_WATER_FRAMES = 64;
/** The frame bound never gates below this many bytes (tiny frames batch up in the kernel anyway). */
const SOCKET_MIN_GATE_BYTES = 16 * 1024;

/**
 * The socket gate for frames of `frameBytes`: at most
 * {@link SOCKET_HIGH_WATER_FRAMES} such frames, never more than
 * {@link QUEUE_HIGH_WATER_BYTES}.
 */
export function socketGate(frameBytes: number): number {
  return Math.min(
    QUEUE_HIGH_WATER_BYTES,
    Math.max(SOCKET_MIN_GATE_BYTES, SOCKET_HIGH_WATER_FRAMES * frameBytes),
  );
}

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

/** What the queue mode's tick decides about one client. */
export interface Assessment {
  /** Drops not charged to the client (the server's overload): shed. */
  readonly shed: number;
  /** A cut decided now (an overflow under `--policy disconnect`). */
  readonly verdict: Verdict | undefined;
}

const NOTHING: Assessment = Object.freeze({ shed: 0, verdict: undefined });

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
   * Whether the last assessment found this client behind by its own
   * slowness: its drops are then charged at once. Otherwise they wait for
   * the next assessment, which charges them — unless the server itself was
   * behind and the client kept up with its peers: then they are shed.
   */
  lagging = false;
  /** Bytes offered to this client (sent, queued or dropped), for the assessment. */
  offeredBytes = 0;
  /** Drops not charged yet (the client was not known to be lagging): settled by the next assessment. */
  unjudgedDrops = 0;
  /** An overflow under `--policy disconnect` not judged yet. */
  #unjudgedOverflow = false;
  /** The gate of the last frame sent, bytes. */
  #gate = QUEUE_HIGH_WATER_BYTES;
  /** Which drain wait is current (an older one's wake-up is ignored). */
  #waitToken = 0;
  /** `offeredBytes` and drained bytes at the last {@link deliveredShare}. */
  #markOffered = 0;
  #markDrained = 0;

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
        for (
          let f = this.#queue.peek();
          f && (f.seq <= after || b.stale?.(f));
          f = this.#queue.peek()
        ) this.#queue.shift();
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
    this.offeredBytes += frame.bytes;
    if (
      !this.#batch && !this.#held && !this.#waiting &&
      this.#queue.length === 0 && !this.#hasPriority() &&
      session.sink.bufferedAmount < socketGate(frame.bytes)
    ) {
      session.writeNow(frame);
      this.#slow.fullSince = undefined;
      return undefined;
    }
    const { dropped, overflow, conflated } = this.#queue.push(frame);
    if (conflated) session.stats.conflated += conflated;
    const charged = this.lagging;
    if (overflow) {
      session.stats.drops++;
      if (charged) {
        return {
          reason: "slow_overflow",
          detail:
            `slow client: queue full (${this.#queue.length} msgs, ${this.#queue.bytes} B) under --policy disconnect`,
        };
      }
      // Refused for now; the next assessment cuts the client, unless the
      // queue was full because the server was behind, not the client.
      this.unjudgedDrops++;
      this.#unjudgedOverflow = true;
      if (session.control) this.#unannounced++;
      return undefined;
    }
    if (dropped > 0) {
      session.stats.drops += dropped;
      if (charged) recordDrop(this.#slow, now, dropped);
      else this.unjudgedDrops += dropped;
      if (session.control) this.#unannounced += dropped;
    }
    noteFull(this.#slow, this.#queue.isFull, now);
    if (this.#waiting && session.sink.bufferedAmount < this.#gate) {
      // The socket drained before the poller looked: go on now (a busy
      // channel wakes its writers sooner than the poller's slow beat).
      this.#waitToken++;
      this.#ctx.watcher.cancel(session.sink);
      this.#waiting = false;
    }
    if (this.#batch) {
      if (!this.scheduled && this.idle) this.#ctx.schedule(this);
    } else if (this.idle) this.flush(now);
    return charged && (this.#slow.fullSince !== undefined || dropped > 0)
      ? this.judge(now)
      : undefined;
  }

  /**
   * The queue mode's assessment of this client for the tick that just
   * ended. `lagging` says it fell behind by its own slowness; `charge` says
   * its drops since the last assessment are its own: always while the
   * server keeps up, and while the server is overloaded only when it lags
   * behind its peers. Charged drops count against `--drop-limit`, and a
   * full queue runs the `--full-timeout` clock; drops not charged are shed,
   * and the clock stops.
   */
  assess(lagging: boolean, charge: boolean, now: number): Assessment {
    this.lagging = lagging;
    const drops = this.unjudgedDrops;
    const overflowed = this.#unjudgedOverflow;
    this.unjudgedDrops = 0;
    this.#unjudgedOverflow = false;
    if (!charge) {
      this.#slow.fullSince = undefined;
      return drops === 0 ? NOTHING : { shed: drops, verdict: undefined };
    }
    if (drops > 0) recordDrop(this.#slow, now, drops);
    noteFull(this.#slow, this.#queue.isFull, now);
    if (!overflowed) return NOTHING;
    return {
      shed: 0,
      verdict: {
        reason: "slow_overflow",
        detail:
          `slow client: queue full (${this.#queue.length} msgs, ${this.#queue.bytes} B) under --policy disconnect`,
      },
    };
  }

  /** The latest {@link deliveredShare}, kept for the mode's tick. */
  share = 1;
  /** Where this writer sits in its channel's list (the mode's). */
  index = -1;

  /**
   * How much of what was offered to this client since the last call has left
   * the server for it (handed to the socket and written out), 0..1; 1 when
   * nothing was offered. A client that keeps up drains everything it is
   * offered, however late its writer got to run.
   */
  deliveredShare(): number {
    const { session } = this;
    const drained = session.stats.bytesSent - session.sink.bufferedAmount;
    const offered = this.offeredBytes - this.#markOffered;
    const out = drained - this.#markDrained;
    this.#markOffered = this.offeredBytes;
    this.#markDrained = drained;
    return offered > 0 ? Math.min(1, Math.max(0, out) / offered) : 1;
  }

  /** Whether anything waits for this client (queued, or a socket too full to take more). */
  get behind(): boolean {
    return this.#waiting || this.#queue.length > 0 || this.unjudgedDrops > 0;
  }

  /** Queues a control frame ahead of the data (control clients only), and sends it when it can. */
  notice(text: string): void {
    if (!this.session.control) return;
    (this.#notices ??= []).push(text);
    if (this.idle) this.flush(this.#ctx.now());
  }

  /**
   * The slow-client policy's verdict now (drop limit, full timeout, max lag).
   * @param chargeLag false while the server is overloaded and this client
   *   keeps pace with its peers: its lag is the server's, not its own
   */
  judge(now: number, chargeLag = true): Verdict | undefined {
    return judgeSlow(this.#slow, this.#ctx.limits, now) ??
      (chargeLag ? judgeLag(this.lagMs(now), this.#ctx.limits) : undefined);
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
      const next = priority ? 0 : this.#queue.peek()!.bytes;
      if (sink.bufferedAmount >= (next > 0 ? socketGate(next) : this.#gate)) {
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
    const wait = ++this.#waitToken;
    const next = this.#queue.peek()?.bytes;
    if (next !== undefined) this.#gate = socketGate(next);
    this.#ctx.watcher.waitBelow(this.session.sink, this.#gate - 1)
      .then((drained) => {
        if (wait !== this.#waitToken) return; // given up for a newer one
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
