/**
 * One subscriber: its sink, its channel, its statistics, and the one guarded
 * way to close it.
 *
 * @module
 */
import { Histogram } from "../../lib/histogram.ts";
import {
  CLOSE_CODES,
  type DisconnectReason,
  fitCloseReason,
} from "../../lib/close_codes.ts";
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
import type { Sink } from "./sink.ts";

/** Malformed client frames tolerated before the client is closed (`protocol_error`). */
export const BAD_FRAME_BUDGET = 10;

/** Read by clients that never recorded anything: never written. */
const NO_VALUES = new Histogram();

/**
 * Counters and histograms of one session. Written only by the session, once
 * per delivery or ACK; everything else reads them. The histograms are
 * cumulative (readers take windows with `snapshot()`/`since()`) and made
 * on first use: most clients never wait in a queue and many never ACK, so
 * thousands of idle connections carry no histogram at all. A frame sent the
 * moment it was published (the common case) is counted, not recorded: its
 * enqueue-to-socket latency is zero.
 */
export class SessionStats {
  /** Messages handed to the socket (data and control; a batch frame counts each message it holds). */
  sent = 0;
  /** Bytes handed to the socket. */
  bytesSent = 0;
  /** Messages dropped for this client (queue mode). */
  drops = 0;
  /** Valid ACKs received (for a message this client was sent, with its ts_send). */
  acks = 0;
  /** Well-formed ACKs refused: a seq this client was not sent, or another ts_send. */
  staleAcks = 0;
  /** Frames received from the client (ACKs and anything else). */
  received = 0;
  /** Messages replaced in this client's queue by a newer one with the same key (`--policy conflate`; not drops). */
  conflated = 0;
  /** End-to-end lag at the latest valid ACK, ms (how old the message was when the client ACKed it). */
  ackLagMs = 0;
  /** Monotonic ms of the latest valid ACK (-Infinity before any). */
  ackAt = -Infinity;
  /** Malformed or oversized client frames. */
  badFrames = 0;
  /** Client frames ignored for exceeding the inbound rate. */
  throttled = 0;
  /** Frames handed to the socket the moment they were published (latency 0). */
  immediate = 0;
  #send: Histogram | undefined;
  #e2e: Histogram | undefined;

  /** Records one frame's enqueue-to-socket latency, ms. */
  recordSend(ms: number): void {
    (this.#send ??= new Histogram()).record(ms);
  }

  /** Records one ACK's end-to-end latency, ms. */
  recordE2e(ms: number): void {
    (this.#e2e ??= new Histogram()).record(ms);
  }

  /** Adds this session's enqueue-to-socket latency (the immediate frames at 0) to `target`. */
  mergeSendInto(target: Histogram): void {
    if (this.#send) target.merge(this.#send);
    target.recordZeros(this.immediate);
  }

  /** Adds this session's end-to-end latency to `target`. */
  mergeE2eInto(target: Histogram): void {
    if (this.#e2e) target.merge(this.#e2e);
  }

  /** Enqueue-to-socket latency of every frame since the session opened, ms (a copy). */
  get sendLatency(): Histogram {
    const h = new Histogram();
    this.mergeSendInto(h);
    return h;
  }

  /** End-to-end latency of every ACK since the session opened, ms (read only). */
  get e2eLatency(): Histogram {
    return this.#e2e ?? NO_VALUES;
  }
}

/** How a session ended. */
export interface SessionEnd {
  /** Close-code table key. */
  readonly reason: DisconnectReason;
  /** Human detail sent as the close reason (or received from the peer). */
  readonly detail: string;
  /** Close code sent or received. */
  readonly code: number;
}

/** Called once when a session ends, whoever ended it. */
export type SessionEndListener = (session: Session, end: SessionEnd) => void;

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
  /** Largest client frame accepted, bytes. @default MAX_CLIENT_FRAME_BYTES */
  readonly maxFrameBytes?: number | undefined;
  /** Client frames per second accepted beyond the one ACK each message sent invites; more are throttled, then the client is closed. @default Infinity */
  readonly maxInboundRate?: number | undefined;
  /** When the client's credentials expire, monotonic ms. @default Infinity */
  readonly expiresAt?: number | undefined;
  /** Monotonic clock, ms. */
  readonly now: () => number;
  /** Called once when the session ends. */
  readonly onEnd: SessionEndListener;
}

/**
 * A connected subscriber. Only its mode's writer sends on its sink;
 * {@link close} is idempotent, starts the close and never waits for it (a
 * stalled peer may never finish the handshake).
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
  #end: SessionEnd | undefined;
  readonly #onEnd: SessionEndListener;
  readonly #now: () => number;
  readonly #maxFrameBytes: number;
  readonly #inbound: InboundLimit;
  readonly #ledger = new AckLedger();

  /**
   * @param id unique id
   * @param sink transport of this client
   * @param options channel, control opt-in, inbound limits, clock, end listener
   */
  constructor(id: string, sink: Sink, options: SessionOptions) {
    this.id = id;
    this.sink = sink;
    this.remote = options.remote;
    this.channel = options.channel ?? "default";
    this.control = options.control ?? false;
    this.batch = options.batch ?? false;
    this.#now = options.now;
    this.openedAt = options.now();
    this.stall = newStallState(this.openedAt);
    this.expiresAt = options.expiresAt ?? Infinity;
    this.#onEnd = options.onEnd;
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

  /** How the session ended, once it has. */
  get end(): SessionEnd | undefined {
    return this.#end;
  }

  /** Hands `frame` to the sink and records its enqueue-to-socket latency. */
  write(frame: OutFrame, now: number): void {
    this.#deliver(frame, now);
    this.stats.recordSend(now - frame.enqueuedAt);
  }

  /** Hands `frame` to the sink the moment it was published (no queue, no wait). */
  writeNow(frame: OutFrame): void {
    // Sent as it was enqueued: its enqueue time is the send time.
    this.#deliver(frame, frame.enqueuedAt);
    this.stats.immediate++;
  }

  /** Sends one data frame and notes it for the ACK check. */
  #deliver(frame: OutFrame, now: number): void {
    this.sink.send(frame.text);
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
    this.sink.send(text);
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

  /** Hands a control frame (or any ready text, e.g. a replayed message) to the sink. */
  writeRaw(text: string): void {
    this.sink.send(text);
    this.stats.sent++;
    this.stats.bytesSent += utf8Length(text);
  }

  /**
   * Ends the session for `reason`, once; later calls are ignored. The close
   * frame is started, not awaited.
   */
  close(
    reason: DisconnectReason,
    detail: string = CLOSE_CODES[reason].meaning,
  ): void {
    if (this.#end) return;
    const code = CLOSE_CODES[reason].code;
    this.#end = { reason, detail, code };
    this.sink.close(code, fitCloseReason(detail));
    this.#onEnd(this, this.#end);
  }

  /**
   * Records that the socket closed without the server closing it: the
   * client's own close frame (`client_closed`, with its code), Deno's ping
   * timer (`ping_timeout`), a connection that just ended (`connection_lost`)
   * or one the runtime dropped for breaking the WebSocket protocol
   * (`ws_protocol_error`, `message_too_big`), named by `error`, the
   * runtime's error message.
   */
  peerClosed(code: number, reason: string, error = ""): void {
    if (this.#end) return;
    this.#end = attributeClose(code, reason, error);
    this.#onEnd(this, this.#end);
  }

  /**
   * Handles one frame from the client: an ACK becomes e2e latency; anything
   * else is counted, and closes the session when oversized (1009) or when
   * the malformed-frame budget is spent (`protocol_error`). Frames over the
   * inbound rate are ignored, and a client that keeps flooding is closed
   * (`flood`).
   */
  receive(data: unknown): void {
    if (this.#end) return;
    const stats = this.stats;
    if (typeof data !== "string") {
      stats.badFrames++;
      this.close(
        "message_too_big",
        "binary frame: the protocol has none (send ACKs as text)",
      );
      return;
    }
    // Each message sent invites one ACK: what is within that is never a
    // flood, however bursty (a client that paused reading ACKs its backlog).
    // Only frames beyond it are held to --max-inbound-rate.
    if (++stats.received > stats.sent) {
      const verdict = this.#inbound.admit(this.#now());
      if (verdict !== "accept") {
        stats.throttled++;
        if (verdict === "close") {
          this.close(
            "flood",
            "flood: uninvited client frames over --max-inbound-rate after throttling",
          );
        }
        return;
      }
    }
    // A client that talks back may ACK: remember what it is sent exactly.
    this.#ledger.arm();
    try {
      const ack = decodeAck(data, this.#maxFrameBytes);
      if (!this.#ledger.check(ack.seq, ack.ack_ts)) {
        stats.staleAcks++;
        return;
      }
      stats.acks++;
      const lag = (epochSeconds() - ack.ack_ts) * 1000;
      stats.recordE2e(lag);
      stats.ackLagMs = lag;
      stats.ackAt = this.#now();
    } catch (err) {
      stats.badFrames++;
      if (err instanceof RangeError) {
        this.close(
          "message_too_big",
          (err as Error).message.replace(/^Cannot decode /, ""),
        );
      } else if (stats.badFrames > BAD_FRAME_BUDGET) {
        this.close(
          "protocol_error",
          `protocol error: ${stats.badFrames} malformed frames (expected ACKs {"ack_ts","seq"})`,
        );
      }
    }
  }
}

/** Deno's reason when its ping timer closes a silent client. */
const PING_TIMEOUT_REASON = "No response from ping frame.";

/**
 * How a socket the server did not close ended: the peer's close frame
 * (clean, with a code), Deno's ping timer, or the runtime's error.
 */
export function attributeClose(
  code: number,
  reason: string,
  error: string,
): SessionEnd {
  if (reason === PING_TIMEOUT_REASON || error === PING_TIMEOUT_REASON) {
    return {
      reason: "ping_timeout",
      detail: "no pong: Deno's ping timer closed the connection",
      // Deno sends 1001 on the wire; the record keeps ping_timeout's own
      // code so it is not counted as a shutdown.
      code: CLOSE_CODES.ping_timeout.code,
    };
  }
  if (code !== 0 && code !== 1006 && error === "") {
    return {
      reason: "client_closed",
      detail: reason || "closed by client",
      code,
    };
  }
  if (error === "" || /unexpected eof|reset|broken pipe|closed/i.test(error)) {
    return {
      reason: "connection_lost",
      detail: error
        ? `connection lost without a close frame (${error})`
        : "connection lost without a close frame",
      code: CLOSE_CODES.connection_lost.code,
    };
  }
  if (/too large|too big|max.*size/i.test(error)) {
    return {
      reason: "message_too_big",
      detail: `the runtime refused a client frame: ${error}`,
      code: CLOSE_CODES.message_too_big.code,
    };
  }
  return {
    reason: "ws_protocol_error",
    detail: `WebSocket protocol error: ${error}`,
    code: CLOSE_CODES.ws_protocol_error.code,
  };
}
