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

/** ACKs that stop for this long end the pacing until the next one, ms: a client whose ACKs stop never hangs. */
export const ACK_PACING_LAPSE_MS = 2000;

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
 * One client's ACK pacing: the data frames it has in flight (oldest first)
 * and whether its writer waits for an ACK. Pacing starts with the client's
 * first ACK and lapses when its ACKs stop for {@link ACK_PACING_LAPSE_MS}.
 *
 * @example
 * ```ts
 * const p = new AckPacer({ frames: 2, bytes: 1_000_000 });
 * p.acked(0, 0); // its first ACK: paced from now on
 * p.sent(1, 100);
 * p.sent(2, 100);
 * if (!p.full(10)) throw new Error("two frames in flight fill a window of two");
 * p.hold();
 * if (!p.acked(1, 20) || p.inFlight !== 1) throw new Error("the ACK of 1 frees it");
 * ```
 */
export class AckPacer {
  readonly #window: AckWindow;
  readonly #frames = new RingQueue<InFlight>(MAX_RECORDED);
  #bytes = 0;
  /** The last seq recorded: a lower one means the numbering started again. */
  #lastSeq = 0;
  /** Whether the client's ACKs pace it (it ACKed within the lapse). */
  #acking = false;
  /** When its latest ACK arrived, ms. */
  #ackedAt = 0;
  #waiting = false;

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

  /** True while the writer waits for an ACK ({@link hold}). */
  get waiting(): boolean {
    return this.#waiting;
  }

  /**
   * Whether live data must wait for an ACK at `now`: the client ACKs and the
   * window is full. ACKs that stopped for {@link ACK_PACING_LAPSE_MS} end the
   * pacing here (what is in flight is forgotten) until the next one.
   */
  full(now: number): boolean {
    if (!this.#acking) return false;
    if (now - this.#ackedAt > ACK_PACING_LAPSE_MS) {
      this.#acking = false;
      this.#clear();
      return false;
    }
    const n = this.#frames.length;
    return n > 0 &&
      (n >= this.#window.frames || this.#bytes >= this.#window.bytes);
  }

  /** The writer stops for an ACK: the window is full. */
  hold(): void {
    this.#waiting = true;
  }

  /** A data frame whose last message is `seq` went to the socket (recorded while paced). */
  sent(seq: number, bytes: number): void {
    if (!this.#acking) return;
    // A reset's new numbering starts low: nothing of the old one can be
    // ACKed by seq any more.
    if (seq <= this.#lastSeq) this.#clear();
    this.#lastSeq = seq;
    const evicted = this.#frames.push({ seq, bytes });
    if (evicted) this.#bytes -= evicted.bytes;
    this.#bytes += bytes;
  }

  /**
   * The client ACKed `seq` at `now`: every frame up to it has been read.
   * @returns true when the writer waited and may go on
   */
  acked(seq: number, now: number): boolean {
    this.#ackedAt = now;
    this.#acking = true;
    const frames = this.#frames;
    for (let f = frames.peek(); f && f.seq <= seq; f = frames.peek()) {
      frames.shift();
      this.#bytes -= f.bytes;
    }
    return this.#release(now);
  }

  /**
   * The mode's tick.
   * @returns true when the writer waited and the pacing lapsed: it may go on
   */
  tick(now: number): boolean {
    return this.#release(now);
  }

  #release(now: number): boolean {
    if (!this.#waiting || this.full(now)) return false;
    this.#waiting = false;
    return true;
  }

  #clear(): void {
    this.#frames.clear();
    this.#bytes = 0;
  }
}
