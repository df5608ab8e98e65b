/**
 * One client's writer in queue mode: its bounded queue under the slow-client
 * policy, the notices and replay that go ahead of live data, and the only
 * code that writes to that client's socket. It owns its counters (drops,
 * conflated, what it was offered) and writes no one else's. It never closes
 * the session: {@link QueueWriter.offer} and {@link QueueWriter.judge} return
 * a verdict and the caller (the hub, through the mode) closes.
 *
 * @module
 */
import { encodeControl } from "../../lib/protocol.ts";
import type { OutFrame } from "../core/frame.ts";
import type { Backlog, Outlet, Verdict } from "../core/mode.ts";
import type { Session } from "../core/session.ts";
import type { BatchJoiner } from "./batch_joiner.ts";
import type { QueueLimits } from "./client_queue.ts";
import { AckPacer } from "./ack_pacer.ts";
import { CRITICAL_OVERFLOW, Outbox } from "./outbox.ts";
import { PriorityLane } from "./priority_lane.ts";
import type { DrainWatcher } from "./drain_watcher.ts";
import {
  BATCH_MAX_BYTES,
  BATCH_MAX_MESSAGES,
  COALESCE_MAX_BYTES,
  QUEUE_HIGH_WATER_BYTES,
  socketGate,
} from "./socket_gate.ts";
import {
  charges,
  conflates,
  type LadderLimits,
  type LadderState,
  newLadderState,
  stepLadder,
  type Tier,
  type TierChange,
} from "./ladder.ts";
import {
  judgeLag,
  judgeSlow,
  newSlowState,
  noteFull,
  recordDrop,
  type SlowLimits,
  type SlowState,
} from "./slow_policy.ts";

/** An ACK's lag counts toward `--max-lag` for this long after it arrived, ms. */
export const ACK_LAG_FRESH_MS = 2000;

/** Lag marks of a client that has had no `lag` frame yet (nothing allocated per client up front). */
const NO_MARKS: readonly number[] = Object.freeze([0, 0, 0]);

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
  /** Puts a coalescing writer on the flush at the end of this turn of the event loop. */
  readonly scheduleSoon: (writer: QueueWriter) => void;
  /** The ladder's thresholds (`--policy ladder` only). */
  readonly ladder?: LadderLimits;
  /** Whether the server itself is behind now (the mode's latest tick). */
  readonly overloaded: () => boolean;
  /** Default time to live per channel, ms (`--channel-ttl`). */
  readonly channelTtlMs?: ReadonlyMap<string, number>;
  /** Every how many ms a control client gets a `lag` frame; 0 for never (`--lag-interval`). */
  readonly lagIntervalMs?: number;
  /** Counts messages not sent because their deadline passed. */
  readonly expired: (count: number) => void;
  /** Called after a client changed tier (the mode counts and logs it). */
  readonly tierChanged?: (writer: QueueWriter, change: TierChange) => void;
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
  readonly #queue: Outbox;
  readonly #slow: SlowState = newSlowState();
  /** Notices, the `dropped` notice, the `lag` frame and replay: ahead of the live queue. */
  readonly #lane = new PriorityLane();
  /** True while the backlog is being read: live frames queue, nothing is sent. */
  #held: boolean;
  /** When the next `lag` frame is due, ms. */
  #lagAt = 0;
  /** Drops, expired and superseded together at the ladder's previous look. */
  #lostAtClimb = 0;
  /** Drops, expired and superseded counts at the previous `lag` frame. */
  #lagMarks: readonly number[] | undefined;
  /** True while the writer waits for the socket to drain. */
  #waiting = false;
  /** Since when it waits, ms (read by the ladder). */
  #waitingSince = 0;
  /** True for a `?batch=1` client: live frames leave on the batch tick. */
  readonly #batch: boolean;
  /** True for a client that accepts batch frames without a timer (`?batch=auto`, or any batch client on the ladder). */
  readonly #accepts: boolean;
  /** This client's place on the ladder (`--policy ladder` only). */
  readonly #ladder: LadderState | undefined;
  /** Its ACK pacing: data frames in flight, once it ACKs (`--policy ladder` with an ACK window). */
  readonly #pacer: AckPacer | undefined;
  /** True while this writer is on the next batch tick or flush (the mode clears it when it flushes). */
  scheduled = false;
  /** Messages dropped for this client (its queue was full). */
  #drops = 0;
  /** Messages replaced in its queue by a newer one with the same key (not drops). */
  #conflated = 0;
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
    this.#queue = new Outbox(
      ctx.queue,
      ctx.channelTtlMs?.get(session.channel),
    );
    this.#ladder = ctx.ladder ? newLadderState(ctx.now()) : undefined;
    const window = ctx.ladder?.ackWindow;
    if (window && window.frames > 0) {
      const pacer = new AckPacer(window);
      this.#pacer = pacer;
      session.onAck = (seq) => {
        const now = ctx.now();
        if (pacer.acked(seq, now)) this.#resume(now);
      };
    }
    // On the ladder a batch client is coalesced when behind, never timed.
    this.#batch = session.batch && !this.#ladder;
    this.#accepts = session.coalesce || (session.batch && !this.#batch);
    this.#held = backlog instanceof Promise;
    if (backlog instanceof Promise) {
      backlog.then((b) => {
        this.#held = false;
        this.#lane.setBacklog(b);
        // Live frames handed over while the backlog was read and covered by it.
        const after = b.after ?? 0;
        for (
          let f = this.#queue.peek();
          f && (f.seq <= after || b.stale?.(f));
          f = this.#queue.peek()
        ) this.#queue.shift(Infinity);
        this.#queue.takeExpired();
        this.flush(this.#ctx.now());
      });
    } else if (backlog) this.#lane.setBacklog(backlog);
  }

  /** The client's tier on the ladder (undefined off the ladder). */
  get tier(): Tier | undefined {
    return this.#ladder?.tier;
  }

  /** Messages waiting in the queue. */
  get queued(): number {
    return this.#queue.length;
  }

  /** Messages dropped for this client. */
  get drops(): number {
    return this.#drops;
  }

  /** Messages replaced in its queue by a newer one with the same key (not drops). */
  get conflated(): number {
    return this.#conflated;
  }

  /** True while the socket is over the high-water mark and the writer waits for it to drain. */
  get blocked(): boolean {
    return this.#waiting;
  }

  /** Whether the writer may send now (not held, not blocked, not waiting for an ACK). */
  get idle(): boolean {
    return !this.#held && !this.#waiting && !this.#pacer?.waiting;
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
      !this.#batch && !this.#accepts && this.idle &&
      this.#queue.length === 0 && !this.#hasPriority() &&
      session.sink.bufferedAmount < socketGate(frame.bytes) &&
      !this.#pacer?.full(now)
    ) {
      session.writeNow(frame);
      this.#pacer?.sent(frame.seq, frame.bytes);
      this.#slow.fullSince = undefined;
      return undefined;
    }
    const outcome = this.#queue.push(frame);
    if (outcome === CRITICAL_OVERFLOW) {
      return {
        reason: "slow_overflow",
        detail:
          `slow client: ${this.#queue.length} critical messages waiting, the queue's bound (--maxsize)`,
      };
    }
    const { dropped, overflow, conflated } = outcome;
    if (conflated) this.#conflated += conflated;
    const ladder = this.#ladder;
    if (
      ladder !== undefined && ladder.tier !== "dropping" &&
      (this.#queue.isFull || this.#queue.length >= this.#ctx.ladder!.downMsgs)
    ) this.climb(now);
    const charged = this.#charged();
    if (overflow) {
      this.#drops++;
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
      if (session.control) this.#lane.announceDrops(1);
      return undefined;
    }
    if (dropped > 0) {
      this.#drops += dropped;
      if (charged) recordDrop(this.#slow, now, dropped);
      else if (!ladder || this.#ctx.overloaded()) {
        // Judged by the next assessment; on the ladder (whose tier says
        // whether drops count) only the overload's, which are shed.
        this.unjudgedDrops += dropped;
      }
      if (session.control) this.#lane.announceDrops(dropped);
    }
    this.#noteFull(now);
    if (this.#waiting && session.sink.bufferedAmount < this.#gate) {
      // The socket drained before the poller looked: go on now (a busy
      // channel wakes its writers sooner than the poller's slow beat).
      this.#waitToken++;
      this.#ctx.watcher.cancel(session.sink);
      this.#waiting = false;
    }
    if (this.#batch) {
      if (!this.scheduled && this.idle) this.#ctx.schedule(this);
    } else if (this.#accepts) {
      // Everything offered in this turn of the event loop leaves as one
      // frame: no timer, so no latency while the server keeps up, and one
      // write per client per turn when it does not (a busy server's turns
      // grow, and so do its frames: it clocks itself).
      if (!this.scheduled && this.idle) this.#ctx.scheduleSoon(this);
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
    if (this.#ladder) {
      // The tier says whether drops count; the overload says they do not:
      // what it dropped then is shed.
      this.lagging = false;
      if (!this.#charged()) this.#slow.fullSince = undefined;
      const shed = this.unjudgedDrops;
      this.unjudgedDrops = 0;
      return shed === 0 ? NOTHING : { shed, verdict: undefined };
    }
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
    this.#lane.notice(text);
    if (this.idle) this.flush(this.#ctx.now());
  }

  /**
   * The slow-client policy's verdict now (drop limit, full timeout, max lag).
   * @param chargeLag false while the server is overloaded and this client
   *   keeps pace with its peers: its lag is the server's, not its own
   */
  judge(now: number, chargeLag = true): Verdict | undefined {
    if (this.#ladder && !this.#charged()) return undefined;
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
      if (!priority && this.#pacer?.full(now)) {
        this.#pacer.hold(); // the client's next ACK flushes
        return;
      }
      if (priority) this.#sendPriority();
      else if (this.#batch || this.#accepts) this.#sendBatch(now);
      else {
        const frame = this.#queue.shift(now);
        this.#announceExpired();
        if (frame) {
          session.write(frame, now);
          this.#pacer?.sent(frame.seq, frame.bytes);
        }
      }
      this.#noteFull(now);
    }
  }

  /**
   * One look of the ladder at this client (`--policy ladder`): moves it a
   * step when it fell behind or kept up long enough, tells it (control
   * clients) and the mode. A no-op off the ladder.
   */
  climb(now: number): void {
    const ladder = this.#ladder;
    if (!ladder) return;
    const queue = this.#queue;
    const lost = this.#drops + this.#conflated + queue.expiredTotal;
    const lossy = lost !== this.#lostAtClimb;
    this.#lostAtClimb = lost;
    const queued = queue.length;
    const lagMs = Math.max(
      this.lagMs(now),
      this.#waiting ? now - this.#waitingSince : 0,
    );
    const change = stepLadder(
      ladder,
      {
        queued,
        full: queue.isFull,
        lagMs,
        batch: this.#accepts,
        overloaded: this.#ctx.overloaded(),
        lossy,
      },
      this.#ctx.ladder!,
      now,
    );
    if (!change) return;
    const superseded = queue.setConflating(conflates(change.to));
    this.#conflated += superseded;
    if (!charges(change.to)) this.#slow.fullSince = undefined;
    this.#ctx.tierChanged?.(this, change);
    this.notice(encodeControl({
      type: "tier",
      channel: this.session.channel,
      tier: change.to,
      from: change.from,
      reason: change.reason,
      // What the ladder saw, before the new tier changed the queue.
      queued,
      lag_ms: Math.round(lagMs),
    }));
  }

  /** Runs the `--full-timeout` clock while the queue is full (on the ladder only in a tier that charges). */
  #noteFull(now: number): void {
    const full = this.#queue.isFull && (!this.#ladder || this.#charged());
    noteFull(this.#slow, full, now);
  }

  /** Whether this client's drops and full queue count toward its cut now. */
  #charged(): boolean {
    const ladder = this.#ladder;
    if (!ladder) return this.lagging && !this.#ctx.overloaded();
    return charges(ladder.tier) && !this.#ctx.overloaded();
  }

  /** Empties the queue and releases the drain wait. @returns messages discarded */
  detach(): number {
    const discarded = this.#queue.length;
    this.#queue.clear();
    this.#lane.dropReplay();
    this.#ctx.watcher.cancel(this.session.sink);
    return discarded;
  }

  /**
   * The mode's tick: a client whose ACKs stopped while its writer waited for
   * one is no longer paced, and what waits goes out under the socket's
   * backpressure.
   */
  paceTick(now: number): void {
    if (this.#pacer?.tick(now)) this.#resume(now);
  }

  /** Goes on after waiting for an ACK. */
  #resume(now: number): void {
    if (this.idle && !this.scheduled) this.flush(now);
  }

  #wait(): void {
    if (!this.#waiting) this.#waitingSince = this.#ctx.now();
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
    return this.#lane.pending;
  }

  /** Sends the next notice, `lag` frame or replayed frame, in priority order. */
  #sendPriority(): void {
    this.#lane.sendNext(this.session, () => this.#lagFrame(this.#ctx.now()));
  }

  /**
   * Marks a `lag` frame due when `--lag-interval` has passed since the last
   * (control clients only; at most one waits), and sends it when it can.
   */
  lagTick(now: number): void {
    const every = this.#ctx.lagIntervalMs ?? 0;
    if (!this.session.control || every <= 0 || now < this.#lagAt) return;
    this.#lagAt = now + every;
    this.#lane.lagDue();
    if (this.idle) this.flush(now);
  }

  #lagFrame(now: number): string {
    const marks = this.#lagMarks ?? NO_MARKS;
    const totals = [this.#drops, this.#queue.expiredTotal, this.#conflated];
    const frame = encodeControl({
      type: "lag",
      channel: this.session.channel,
      queued: this.#queue.length,
      lag_ms: Math.round(this.lagMs(now)),
      tier: this.#ladder?.tier ?? "full",
      dropped: totals[0]! - marks[0]!,
      expired: totals[1]! - marks[1]!,
      superseded: totals[2]! - marks[2]!,
    });
    this.#lagMarks = totals;
    return frame;
  }

  /** Sends the `expired` notice for messages just skipped (control clients), ahead of the next data. */
  #announceExpired(): void {
    const count = this.#queue.takeExpired();
    if (count === 0) return;
    this.#ctx.expired(count);
    if (!this.session.control) return;
    this.session.writeRaw(encodeControl({
      type: "expired",
      channel: this.session.channel,
      count,
    }));
  }

  /** Sends up to the batch caps of the queue as one JSON array frame. */
  #sendBatch(now: number): void {
    const taken = TAKEN;
    const queue = this.#queue;
    let bytes = 0;
    const maxBytes = this.#batch ? BATCH_MAX_BYTES : COALESCE_MAX_BYTES;
    while (taken.length < BATCH_MAX_MESSAGES && bytes < maxBytes) {
      const frame = queue.shift(now);
      if (frame === undefined) break;
      taken.push(frame);
      bytes += frame.bytes;
    }
    this.#announceExpired();
    if (taken.length === 0) return;
    if (taken.length === 1 && !this.#batch) {
      // One message to a client that accepts arrays: as a single object.
      this.session.write(taken[0]!, now);
      this.#pacer?.sent(taken[0]!.seq, bytes);
      taken.length = 0;
      return;
    }
    const first = taken[0]!;
    const last = taken[taken.length - 1]!;
    const shareable = this.#ctx.queue.policy !== "conflate" &&
      !(this.#ladder && conflates(this.#ladder.tier)) &&
      last.seq - first.seq + 1 === taken.length;
    this.session.writeBatch(
      taken,
      this.#ctx.joiner.join(taken, shareable),
      now,
    );
    this.#pacer?.sent(last.seq, bytes);
    taken.length = 0;
  }
}
