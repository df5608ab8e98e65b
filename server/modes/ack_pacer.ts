/**
 * ACK pacing for a ladder client that ACKs: how much of its live stream is
 * in flight (written to its socket, not yet ACKed), so its writer can stop
 * at a window instead of filling the kernel's socket buffers. What the
 * kernel holds can no longer be conflated or dropped: a slow reader behind
 * ~4 MB of buffered frames reads values that many seconds old. Held back in
 * the queue instead, they are conflated (or coalesced, or dropped) by the
 * client's tier, and what it reads next is recent.
 *
 * Progress is the highest seq of any well-formed ACK up to the last seq
 * sent: a client can only pace its own stream, so the ACK ledger's proof of
 * `ts_send` (which guards the latency figures) is not needed here.
 *
 * @module
 */
import { RingQueue } from "../../lib/ring_queue.ts";

/** Default of `--ladder-ack-window`: data frames in flight before the writer waits for an ACK. */
export const DEFAULT_ACK_WINDOW_FRAMES = 32;
/** Default of `--ladder-ack-window-bytes`: bytes in flight before the writer waits for an ACK. */
export const DEFAULT_ACK_WINDOW_BYTES = 256 * 1024;

/** The window: the writer waits when either bound is reached (at least one frame is always allowed). */
export interface AckWindow {
  /** Data frames in flight (`--ladder-ack-window`; 0 turns pacing off). */
  readonly frames: number;
  /** Bytes in flight (`--ladder-ack-window-bytes`). */
  readonly bytes: number;
}

/** Frames are recorded up to this many, whatever the window: a bound on memory. */
const MAX_RECORDED = 4096;

/** A data frame in flight: its last message's seq and its size. */
interface InFlight {
  readonly seq: number;
  readonly bytes: number;
}

/**
 * The data frames one client has in flight, oldest first.
 *
 * @example
 * ```ts
 * const p = new AckPacer({ frames: 2, bytes: 1_000_000 });
 * p.sent(1, 100);
 * p.sent(2, 100);
 * if (!p.full) throw new Error("two frames in flight fill a window of two");
 * p.acked(1);
 * if (p.full || p.inFlight !== 1) throw new Error("the ACK of 1 frees it");
 * ```
 */
export class AckPacer {
  readonly #window: AckWindow;
  readonly #frames = new RingQueue<InFlight>(MAX_RECORDED);
  #bytes = 0;
  /** The last seq recorded: a lower one means the numbering started again. */
  #lastSeq = 0;

  /** @param window the bounds */
  constructor(window: AckWindow) {
    this.#window = window;
  }

  /** Data frames in flight. */
  get inFlight(): number {
    return this.#frames.length;
  }

  /** Bytes in flight. */
  get bytesInFlight(): number {
    return this.#bytes;
  }

  /** Whether the window is full: the writer sends no more live data until an ACK. */
  get full(): boolean {
    const n = this.#frames.length;
    return n > 0 &&
      (n >= this.#window.frames || this.#bytes >= this.#window.bytes);
  }

  /** A data frame whose last message is `seq` went to the socket. */
  sent(seq: number, bytes: number): void {
    // A reset's new numbering starts low: nothing of the old one can be
    // ACKed by seq any more.
    if (seq <= this.#lastSeq) this.clear();
    this.#lastSeq = seq;
    const evicted = this.#frames.push({ seq, bytes });
    if (evicted) this.#bytes -= evicted.bytes;
    this.#bytes += bytes;
  }

  /**
   * The client ACKed `seq`: every frame up to it has been read.
   * @returns whether this freed anything
   */
  acked(seq: number): boolean {
    const frames = this.#frames;
    let freed = false;
    for (let f = frames.peek(); f && f.seq <= seq; f = frames.peek()) {
      frames.shift();
      this.#bytes -= f.bytes;
      freed = true;
    }
    return freed;
  }

  /** Forgets what is in flight (the ACKs stopped, or the numbering changed). */
  clear(): void {
    this.#frames.clear();
    this.#bytes = 0;
  }
}
