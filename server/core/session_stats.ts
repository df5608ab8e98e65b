/**
 * The counters and histograms of one session: what it was sent, what it
 * sent back, and its latency.
 *
 * @module
 */
import { Histogram } from "../../lib/histogram.ts";

/** Read by clients that never recorded anything: never written. */
const NO_VALUES = new Histogram();

/**
 * Counters and histograms of one session. Written only by the session, once
 * per delivery or ACK; everything else reads them. (What a mode drops or
 * conflates for the client is counted by the mode's outlet, which owns the
 * queue.) The histograms are
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
  /** Valid ACKs received (for a message this client was sent, with its ts_send). */
  acks = 0;
  /** Well-formed ACKs refused: a seq this client was not sent, or another ts_send. */
  staleAcks = 0;
  /** Frames received from the client (ACKs and anything else). */
  received = 0;
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
