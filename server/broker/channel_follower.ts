/**
 * How one node follows one channel of a shared engine: messages arrive over
 * pub/sub, which may lose some (a dropped connection) and may repeat what a
 * repair already read. The follower hands the hub every message exactly
 * once, in seq order: it drops duplicates, holds messages that arrive ahead
 * of a hole, repairs the hole from the engine's stream before going on, and
 * says `reset` when the stream started over (a new epoch) and `gap` when a
 * hole cannot be repaired (the stream no longer holds it). Epochs are
 * ordered (their generation): the follower never moves to an older one;
 * anything of an older epoch (a late message, a stale reply) is discarded
 * and counted.
 *
 * No network here: the engine is behind {@link FollowerIo}, so the rules are
 * tested with plain calls.
 *
 * @module
 */
import { isOlderEpoch } from "../../lib/protocol.ts";
import type { OutFrame } from "../core/frame.ts";
import { ChannelHistory, gapNotice, resetNotice } from "./history.ts";

/** A range read from the engine's stream, with the epoch it belongs to. */
export interface StreamRead {
  /** The channel's epoch in the engine now. */
  readonly epoch: string;
  /** The channel's last seq in the engine now. */
  readonly top: number;
  /** The entries found, in seq order (some may be missing: trimmed). */
  readonly frames: readonly OutFrame[];
}

/** What the follower needs from the node. */
export interface FollowerIo {
  /** Hands one message to the hub; a promise (naive mode) is awaited before the next. */
  deliver(frame: OutFrame): void | Promise<void>;
  /** A control notice for the channel's control clients; a `reset` names the new epoch. */
  notice(text: string, epoch?: string): void;
  /** Reads seqs `from..to` from the engine's stream. */
  read(from: number, to: number): Promise<StreamRead>;
  /**
   * Counts a repaired hole, a `gap` that could not be repaired, a `reset`,
   * and a message or reply of an older epoch discarded (`stale`).
   */
  count(event: "repair" | "gap" | "reset" | "stale"): void;
  /** Told each epoch this follower moves to (the node keeps the highest generation seen). */
  adopted?(epoch: string): void;
}

/**
 * Where a follower stands after a resync with the engine: `stale` when
 * the engine answered with an older epoch than the one followed (ignored).
 */
export type ResyncOutcome =
  | "same"
  | "behind"
  | "new-epoch"
  | "regressed"
  | "stale";

/** Marks kept per follower (outages in a row before the engine answered). */
const MAX_MARKS = 4;

/** One channel, followed in order. */
export class ChannelFollower {
  /** The channel. */
  readonly channel: string;
  /** The recent messages delivered here, for `?since=` replay without asking the engine. */
  readonly ring: ChannelHistory;
  readonly #io: FollowerIo;
  #epoch = "";
  #delivered = 0;
  /** Messages ahead of a hole, by seq. */
  readonly #ahead = new Map<number, OutFrame>();
  #repairing = false;
  /** The highest seq a repair must reach (a resync may ask for more while one runs). */
  #repairTo = 0;
  /** Repairs asked for while one runs: a read that fails after one was asked is retried. */
  #asked = 0;
  /** {@link #asked} when the engine last went away: asks before it were the old engine's. */
  #askedBeforeOutage = 0;
  /** Epochs this follower left behind: late messages of theirs are ignored. */
  readonly #retired = new Set<string>();
  /** Messages handed over but not yet taken (naive mode awaits each). */
  readonly #outbox: OutFrame[] = [];
  #draining: Promise<void> | undefined;
  readonly #catchUp: number;
  /** The last message handed over in this epoch. */
  #last: OutFrame | undefined;
  /** Messages handed over before the engine went away, not yet checked against it. */
  #marks: OutFrame[] = [];

  /**
   * @param channel the channel's name
   * @param historySize messages kept in the local ring
   * @param io delivery, notices and stream reads
   * @param catchUp the most messages one repair hands over at once (a
   *   client queue's size): a longer hole — an engine back after an outage
   *   — is announced as an exact `gap` for the rest, so the catch-up never
   *   overflows a healthy client's queue
   */
  constructor(
    channel: string,
    historySize: number,
    io: FollowerIo,
    catchUp = Infinity,
  ) {
    this.channel = channel;
    this.ring = new ChannelHistory(historySize);
    this.#io = io;
    this.#catchUp = Math.max(1, catchUp);
  }

  /** The epoch followed ("" before {@link start}). */
  get epoch(): string {
    return this.#epoch;
  }

  /** The last seq handed to the hub. */
  get delivered(): number {
    return this.#delivered;
  }

  /**
   * The highest seq this follower knows the engine assigned in its epoch:
   * delivered, or held ahead of a hole. An engine whose top is below it
   * lost data (a failover to a replica that missed the tail).
   */
  get seen(): number {
    let seen = this.#delivered;
    for (const seq of this.#ahead.keys()) seen = Math.max(seen, seq);
    return seen;
  }

  /** The last message handed over in this epoch, if any. */
  get last(): OutFrame | undefined {
    return this.#last;
  }

  /**
   * The messages to check against the engine's stream (see
   * {@link suspect}): each was handed over in this epoch before the engine
   * went away.
   */
  get marks(): readonly OutFrame[] {
    return this.#marks;
  }

  /**
   * The engine went away (a dropped connection, a failover, a restart): it
   * may come back without the last messages this follower handed over, and
   * a peer may then publish other messages at their seqs — the same
   * `(epoch, top)` as here, so positions alone cannot tell. The last
   * message handed over is kept as a mark until the engine's stream is
   * compared with it ({@link verified}); a few outages' worth at most.
   * Messages held ahead of a hole are dropped: they came from the engine
   * that went away, and the repair after its return reads what the engine
   * that answers holds.
   */
  suspect(): void {
    this.#ahead.clear();
    // How far to repair was the old engine's word too.
    this.#repairTo = 0;
    this.#askedBeforeOutage = this.#asked;
    const last = this.#last;
    if (!last || this.#marks.at(-1) === last) return;
    this.#marks.push(last);
    if (this.#marks.length > MAX_MARKS) this.#marks.shift();
  }

  /** The engine's stream agreed with `marks` (or no longer holds them): forget them. */
  verified(marks: readonly OutFrame[]): void {
    this.#marks = this.#marks.filter((m) => !marks.includes(m));
  }

  /** Begins at the engine's `(epoch, seq)`: the live stream continues after `seq`. */
  start(epoch: string, seq: number): void {
    this.#epoch = epoch;
    this.#delivered = seq;
    this.#io.adopted?.(epoch);
  }

  /** Whether `epoch` is behind this follower: one it left, or of an older generation. */
  #stale(epoch: string): boolean {
    if (this.#retired.has(epoch) || isOlderEpoch(epoch, this.#epoch)) {
      this.#io.count("stale");
      return true;
    }
    return false;
  }

  /** One message from pub/sub. */
  receive(epoch: string, frame: OutFrame): void {
    if (epoch !== this.#epoch) {
      if (this.#stale(epoch)) return; // late news of a stream left behind
      this.#newEpoch(epoch);
    }
    const seq = frame.seq;
    if (seq <= this.#delivered || this.#ahead.has(seq)) return; // a duplicate
    if (seq === this.#delivered + 1 && this.#ahead.size === 0) {
      this.#hand(frame);
      return;
    }
    this.#ahead.set(seq, frame);
    this.#flushAhead();
    if (this.#ahead.size > 0) void this.#repair();
  }

  /**
   * Compares with the engine's `(epoch, top)` after a reconnect: repairs
   * what was published while this node was away, or resets when the stream
   * started over. `asOf` is what this follower had seen (delivered or held)
   * when it sent the question: the engine is compared with that, never with what pub/sub
   * delivered while the answer was on its way. A same-epoch engine behind
   * it (`regressed`: the engine lost data) is the caller's to renumber; the
   * follower waits for the new epoch. An older epoch is ignored (`stale`).
   */
  resync(epoch: string, top: number, asOf = this.seen): ResyncOutcome {
    if (epoch !== this.#epoch) {
      if (this.#epoch !== "" && this.#stale(epoch)) return "stale";
      this.#newEpoch(epoch);
      if (top > 0) void this.#repair(top);
      return "new-epoch";
    }
    if (top < asOf) return "regressed";
    if (top <= this.#delivered) return "same";
    void this.#repair(top);
    return "behind";
  }

  /** The stream started over: tell the control clients, follow the new one from its start. */
  #newEpoch(epoch: string): void {
    if (this.#epoch !== "") this.#retired.add(this.#epoch);
    this.#epoch = epoch;
    this.#delivered = 0;
    this.#ahead.clear();
    // A repair running to the old epoch's top must not read the new one
    // that far: it would announce a false `gap`, then look ahead of an
    // engine that lost nothing (a false regression: everyone reset).
    this.#repairTo = 0;
    this.#last = undefined;
    this.#marks = [];
    this.ring.clear();
    this.#io.adopted?.(epoch);
    this.#io.count("reset");
    this.#io.notice(resetNotice(this.channel, epoch, 0), epoch);
  }

  /** Hands over every held message that is now next in line. */
  #flushAhead(): void {
    for (
      let next = this.#ahead.get(this.#delivered + 1);
      next;
      next = this.#ahead.get(this.#delivered + 1)
    ) {
      this.#ahead.delete(next.seq);
      this.#hand(next);
    }
  }

  /**
   * Fills the hole after what was delivered — up to the first held message,
   * or to `upTo` — from the engine's stream. What the stream no longer holds
   * becomes a `gap` notice, and delivery goes on. One repair runs at a time;
   * it loops until no hole is left.
   */
  async #repair(upTo = 0): Promise<void> {
    if (this.#repairing) {
      this.#repairTo = Math.max(this.#repairTo, upTo);
      this.#asked++;
      return;
    }
    this.#repairing = true;
    this.#repairTo = upTo;
    try {
      while (true) {
        const held = this.#ahead.size > 0 ? Math.min(...this.#ahead.keys()) : 0;
        const to = Math.max(this.#repairTo, held - 1);
        const from = this.#delivered + 1;
        if (to < from) return;
        if (to - from + 1 > this.#catchUp) {
          this.#skip(to - this.#catchUp);
          continue;
        }
        const epoch = this.#epoch;
        const asked = this.#asked;
        let read: StreamRead;
        try {
          read = await this.#io.read(from, to);
        } catch {
          // The engine is away: the resync after it returns repairs. If
          // that resync came while this read was out (the read failed
          // late), it asked this repair for more: read again for it — but
          // not for what the engine that went away asked.
          if (
            this.#asked !== asked && this.#asked !== this.#askedBeforeOutage
          ) {
            continue;
          }
          return;
        }
        if (this.#epoch !== epoch) continue; // a new epoch arrived meanwhile
        if (read.epoch === "") return; // the channel expired in the engine
        if (read.epoch !== epoch) {
          if (this.#stale(read.epoch)) return;
          this.#newEpoch(read.epoch);
          this.#repairTo = read.top;
          continue;
        }
        for (const frame of read.frames) {
          if (frame.seq <= this.#delivered || frame.seq > to) continue;
          if (frame.seq > this.#delivered + 1) this.#skip(frame.seq - 1);
          this.#hand(frame);
        }
        if (this.#delivered < to) this.#skip(to);
        this.#io.count("repair");
        this.#flushAhead();
        this.#repairTo = 0;
      }
    } finally {
      this.#repairing = false;
    }
  }

  /** Seqs after what was delivered up to `to` cannot be recovered: say so and go on. */
  #skip(to: number): void {
    this.#io.count("gap");
    this.#io.notice(gapNotice(this.channel, this.#delivered + 1, to));
    this.#delivered = to;
    for (const seq of this.#ahead.keys()) {
      if (seq <= to) this.#ahead.delete(seq);
    }
    this.ring.clear(); // the ring holds consecutive seqs only
  }

  /** Delivers in order; awaits a naive broadcast before the next message. */
  #hand(frame: OutFrame): void {
    this.#delivered = frame.seq;
    this.#last = frame;
    this.ring.push(frame);
    if (this.#draining) {
      this.#outbox.push(frame);
      return;
    }
    const pending = this.#io.deliver(frame);
    if (pending) this.#draining = this.#drain(pending);
  }

  async #drain(first: Promise<void>): Promise<void> {
    await first;
    for (let next = this.#outbox.shift(); next; next = this.#outbox.shift()) {
      await this.#io.deliver(next);
    }
    this.#draining = undefined;
  }
}
