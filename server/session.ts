/**
 * One subscriber: its sink, its statistics, and the one guarded way to close it.
 *
 * @module
 */
import { Histogram } from "../lib/histogram.ts";
import {
  CLOSE_CODES,
  type DisconnectReason,
  fitCloseReason,
} from "../lib/close_codes.ts";
import { decodeAck, epochSeconds } from "../lib/protocol.ts";
import type { Sink } from "./sink.ts";
import type { OutFrame } from "./frame.ts";

/** Malformed client frames tolerated before the client is closed (4003). */
export const BAD_FRAME_BUDGET = 10;

/** Counters and histograms of one session. Interval histograms are reset by the summary. */
export class SessionStats {
  /** Frames handed to the socket. */
  sent = 0;
  /** Bytes handed to the socket. */
  bytesSent = 0;
  /** Messages dropped for this client (queue mode). */
  drops = 0;
  /** Valid ACKs received. */
  acks = 0;
  /** Malformed or oversized client frames. */
  badFrames = 0;
  /** Enqueue-to-socket latency since the last summary, ms. */
  readonly sendLatency = new Histogram();
  /** End-to-end latency from ACKs since the last summary, ms. */
  readonly e2eLatency = new Histogram();
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

/**
 * A connected subscriber. Only its writer sends on its sink; {@link close}
 * is idempotent, starts the close and never waits for it (DESIGN.md, trap 4).
 */
export class Session {
  /** Short id, unique within the server (`c1`, `c2`, …). */
  readonly id: string;
  /** Peer address, for logs. */
  readonly remote: string;
  /** The transport. */
  readonly sink: Sink;
  /** Statistics. */
  readonly stats = new SessionStats();
  /** Monotonic ms when the session opened. */
  readonly openedAt: number;
  #end: SessionEnd | undefined;
  readonly #onEnd: SessionEndListener;

  /**
   * @param id unique id
   * @param sink transport of this client
   * @param options `remote` address, `now` open time, `onEnd` listener
   */
  constructor(
    id: string,
    sink: Sink,
    options: { remote: string; now: number; onEnd: SessionEndListener },
  ) {
    this.id = id;
    this.sink = sink;
    this.remote = options.remote;
    this.openedAt = options.now;
    this.#onEnd = options.onEnd;
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
    this.sink.send(frame.text);
    this.stats.sent++;
    this.stats.bytesSent += frame.bytes;
    this.stats.sendLatency.record(now - frame.enqueuedAt);
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

  /** Records that the peer closed the socket (or it failed) with `code`. */
  peerClosed(code: number, reason: string): void {
    if (this.#end) return;
    const timedOut = reason === "No response from ping frame.";
    this.#end = {
      reason: timedOut ? "ping_timeout" : "client_closed",
      detail: reason || (timedOut ? "no pong" : "closed by client"),
      code,
    };
    this.#onEnd(this, this.#end);
  }

  /**
   * Handles one frame from the client: an ACK becomes e2e latency; anything
   * else is counted, and closes the session when oversized (1009) or when
   * the malformed-frame budget is spent (4003).
   */
  receive(data: unknown): void {
    if (this.#end) return;
    try {
      const ack = decodeAck(data);
      this.stats.acks++;
      this.stats.e2eLatency.record((epochSeconds() - ack.ack_ts) * 1000);
    } catch (err) {
      this.stats.badFrames++;
      if (err instanceof RangeError) {
        this.close(
          "message_too_big",
          (err as Error).message.replace(/^Cannot decode /, ""),
        );
      } else if (this.stats.badFrames > BAD_FRAME_BUDGET) {
        this.close(
          "protocol_error",
          `protocol error: ${this.stats.badFrames} malformed frames (expected ACKs {"ack_ts","seq"})`,
        );
      }
    }
  }
}
