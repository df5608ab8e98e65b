/**
 * One subscriber: its sink, its channel, its statistics, and the checks of
 * what it sends. A session never closes itself: its checks return a
 * {@link Verdict} and the hub, which owns every session, closes it.
 *
 * @module
 */
import {
  decodeAck,
  epochSeconds,
  MAX_CLIENT_FRAME_BYTES,
} from "../../lib/protocol.ts";
import { utf8Length } from "../../lib/utf8.ts";
import { AckLedger } from "./ack_ledger.ts";
import type { OutFrame } from "./frame.ts";
import { InboundLimit } from "./inbound_limit.ts";
import { newStallState, type StallState } from "./stall_watch.ts";
import type { SessionEnd } from "./session_end.ts";
import { SessionStats } from "./session_stats.ts";
import type { Sink } from "./sink.ts";
import type { Verdict } from "./verdict.ts";

export { SessionStats } from "./session_stats.ts";
export type { SessionEnd } from "./session_end.ts";

/** Malformed client frames tolerated before the client is closed (`protocol_error`). */
export const BAD_FRAME_BUDGET = 10;

/** What a session is and how it may talk back; fixed at connect. */
export interface SessionOptions {
  /** Peer address, for logs. */
  readonly remote: string;
  /** The channel subscribed to. @default "default" */
  readonly channel?: string;
  /** Whether the client asked for control frames (`?control=1` or `?since=`). @default false */
  readonly control?: boolean;
  /** Whether the client asked for several messages per frame (`?batch=1`; queue mode). @default false */
  readonly batch?: boolean;
  /** Whether the client accepts batch frames without a timer (`?batch=auto`; queue mode). @default false */
  readonly coalesce?: boolean;
  /** Largest client frame accepted, bytes. @default MAX_CLIENT_FRAME_BYTES */
  readonly maxFrameBytes?: number | undefined;
  /** Client frames per second accepted beyond the one ACK each message sent invites; more are throttled, then the client is closed. @default Infinity */
  readonly maxInboundRate?: number | undefined;
  /** When the client's credentials expire, monotonic ms. @default Infinity */
  readonly expiresAt?: number | undefined;
  /** Monotonic clock, ms. */
  readonly now: () => number;
}

/**
 * A connected subscriber. Only its mode's writer sends on its sink; only the
 * hub closes it (and records how it ended with {@link recordEnd}).
 */
export class Session {
  /** Short id, unique within the server (`c1`, `c2`, …). */
  readonly id: string;
  /** Peer address, for logs. */
  readonly remote: string;
  /** The channel this client subscribes to. */
  readonly channel: string;
  /** Whether this client receives control frames. */
  readonly control: boolean;
  /** Whether this client takes several messages per frame, as a JSON array (`?batch=1`). */
  readonly batch: boolean;
  /** Whether this client accepts batch frames, sent only when messages queued up (`?batch=auto`). */
  readonly coalesce: boolean;
  /** The transport. */
  readonly sink: Sink;
  /** Statistics. */
  readonly stats = new SessionStats();
  /** Monotonic ms when the session opened. */
  readonly openedAt: number;
  /** Read progress, for the hub's stall check (only reading moves it). */
  readonly stall: StallState;
  /** Monotonic ms when its credentials expire (`Infinity` when they do not). */
  readonly expiresAt: number;
  /**
   * The epoch its channel's seqs belong to, as the hub last told it (at join
   * for a control client, and at a `reset`); "" until then. Handed to the
   * sink with every data frame.
   */
  epoch = "";
  #end: SessionEnd | undefined;
  readonly #now: () => number;
  readonly #maxFrameBytes: number;
  readonly #inbound: InboundLimit;
  readonly #ledger = new AckLedger();
  /** The seq of the latest valid ACK (0 before any). */
  #ackedSeq = 0;
  /**
   * Told the seq of every well-formed ACK up to the last seq sent, valid for
   * the latency figures or not: the writer's ACK pacing (`--policy ladder`)
   * sets it, to learn how far the client has read.
   */
  onAck: ((seq: number) => void) | undefined;
  #quiet = false;

  /**
   * @param id unique id
   * @param sink transport of this client
   * @param options channel, control opt-in, inbound limits, clock
   */
  constructor(id: string, sink: Sink, options: SessionOptions) {
    this.id = id;
    this.sink = sink;
    this.remote = options.remote;
    this.channel = options.channel ?? "default";
    this.control = options.control ?? false;
    this.batch = options.batch ?? false;
    this.coalesce = options.coalesce ?? false;
    this.#now = options.now;
    this.openedAt = options.now();
    this.stall = newStallState(this.openedAt);
    this.expiresAt = options.expiresAt ?? Infinity;
    this.#maxFrameBytes = options.maxFrameBytes ?? MAX_CLIENT_FRAME_BYTES;
    this.#inbound = new InboundLimit(
      options.maxInboundRate ?? Infinity,
      this.openedAt,
    );
  }

  /** True once the session has ended or is closing. */
  get closed(): boolean {
    return this.#end !== undefined;
  }

  /**
   * Whether the client ACKs and has not yet ACKed the latest data frame it
   * was sent: its ACK is on the way (a graceful stop waits for it, since
   * Deno drops a connection that receives a frame while closing).
   */
  get awaitsAck(): boolean {
    const ledger = this.#ledger;
    return ledger.armed && ledger.recorded > 0 &&
      this.#ackedSeq !== ledger.lastSeq;
  }

  /**
   * Stops handing frames to the sink, for good: what the mode still writes
   * is dropped (not sent, not counted), so a client about to be closed can
   * ACK what it was sent before the close (a drain's last moments).
   */
  quiesce(): void {
    this.#quiet = true;
  }

  /** How the session ended, once it has. */
  get end(): SessionEnd | undefined {
    return this.#end;
  }

  /** Hands `frame` to the sink and records its enqueue-to-socket latency. */
  write(frame: OutFrame, now: number): void {
    if (this.#quiet) return;
    this.#deliver(frame, now);
    this.stats.recordSend(now - frame.enqueuedAt);
  }

  /** Hands `frame` to the sink the moment it was published (no queue, no wait). */
  writeNow(frame: OutFrame): void {
    if (this.#quiet) return;
    // Sent as it was enqueued: its enqueue time is the send time.
    this.#deliver(frame, frame.enqueuedAt);
    this.stats.immediate++;
  }

  /** Sends one data frame and notes it for the ACK check. */
  #deliver(frame: OutFrame, now: number): void {
    this.sink.send(frame.text, frame.seq, this.epoch);
    const stats = this.stats;
    stats.sent++;
    stats.bytesSent += frame.bytes;
    if (frame.tsSend !== undefined) {
      this.#ledger.record(frame.seq, frame.tsSend, now);
    }
  }

  /**
   * Hands `text`, the JSON array of `frames`, to the sink as one frame and
   * records each message's enqueue-to-socket latency.
   */
  writeBatch(frames: readonly OutFrame[], text: string, now: number): void {
    if (this.#quiet) return;
    this.sink.send(text, 0, this.epoch);
    this.stats.sent += frames.length;
    // "[" + frames joined by "," + "]"
    let bytes = frames.length + 1;
    const stats = this.stats;
    const ledger = this.#ledger;
    for (const frame of frames) {
      bytes += frame.bytes;
      stats.recordSend(now - frame.enqueuedAt);
      if (frame.tsSend !== undefined) {
        ledger.record(frame.seq, frame.tsSend, now);
      }
    }
    stats.bytesSent += bytes;
  }

  /**
   * Hands a ready text to the sink: a control frame (`seq` 0), or a message
   * replayed from the history (its `seq`).
   */
  writeRaw(text: string, seq = 0): void {
    if (this.#quiet) return;
    this.sink.send(text, seq, this.epoch);
    this.stats.sent++;
    this.stats.bytesSent += utf8Length(text);
  }

  /**
   * Records how the session ended: the hub's call, once, as it closes the
   * session or learns that the peer did. From then on the session is
   * {@link closed} and nothing more is sent or received.
   * @returns false when the session had already ended (nothing recorded)
   */
  recordEnd(end: SessionEnd): boolean {
    if (this.#end) return false;
    this.#end = end;
    return true;
  }

  /**
   * Checks one frame from the client: an ACK becomes e2e latency; anything
   * else is counted. An oversized frame (1009), a spent malformed-frame
   * budget (`protocol_error`) or a client that keeps flooding past the
   * inbound rate (`flood`) gets a verdict; frames over the inbound rate are
   * ignored meanwhile. The session does not close itself: the caller (the
   * hub) closes it on a verdict.
   * @returns the verdict when the client must be disconnected, else undefined
   */
  receive(data: unknown): Verdict | undefined {
    if (this.#end) return undefined;
    const stats = this.stats;
    if (typeof data !== "string") {
      stats.badFrames++;
      return {
        reason: "message_too_big",
        detail: "binary frame: the protocol has none (send ACKs as text)",
      };
    }
    // Each message sent invites one ACK: what is within that is never a
    // flood, however bursty (a client that paused reading ACKs its backlog).
    // Only frames beyond it are held to --max-inbound-rate.
    if (++stats.received > stats.sent) {
      const verdict = this.#inbound.admit(this.#now());
      if (verdict !== "accept") {
        stats.throttled++;
        return verdict === "close"
          ? {
            reason: "flood",
            detail:
              "uninvited client frames over --max-inbound-rate after throttling",
          }
          : undefined;
      }
    }
    // A client that talks back may ACK: remember what it is sent exactly.
    this.#ledger.arm();
    try {
      const ack = decodeAck(data, this.#maxFrameBytes);
      const reached = ack.seq <= this.#ledger.lastSeq;
      if (this.#ledger.check(ack.seq, ack.ack_ts)) {
        stats.acks++;
        this.#ackedSeq = ack.seq;
        const lag = (epochSeconds() - ack.ack_ts) * 1000;
        stats.recordE2e(lag);
        stats.ackLagMs = lag;
        stats.ackAt = this.#now();
      } else stats.staleAcks++;
      // After the check: what the pacing writer sends now must not push
      // this ACK's frame out of the ledger before it is checked.
      if (reached) this.onAck?.(ack.seq);
      return undefined;
    } catch (err) {
      stats.badFrames++;
      if (err instanceof RangeError) {
        return {
          reason: "message_too_big",
          detail: (err as Error).message.replace(/^Cannot decode /, ""),
        };
      }
      if (stats.badFrames <= BAD_FRAME_BUDGET) return undefined;
      return {
        reason: "protocol_error",
        detail:
          `protocol error: ${stats.badFrames} malformed frames (expected ACKs {"ack_ts","seq"})`,
      };
    }
  }
}
