/**
 * What one session was sent, in bounded memory, so that an ACK counts only
 * for a message this client was sent, with the `ts_send` it was sent with:
 * the last {@link RECENT_FRAMES} data frames exactly, and one sample every
 * {@link SAMPLE_MS} further back ({@link SAMPLES} of them, with the first
 * frame ever sent). An ACK of a recent frame must match its `ts_send`
 * exactly; an older one must fall between the samples around its seq (seqs
 * and `ts_send` grow together within a channel). Anything else (a seq never
 * sent, `ack_ts: -1e308`, a time from the future) is refused, and never
 * reaches the latency histograms. The rings are allocated when the client
 * first sends anything ({@link AckLedger.arm}): a client that never ACKs
 * (most browsers) costs two pairs of numbers, and one that starts ACKing has
 * its earlier frames checked against the first and latest frame sent.
 *
 * @module
 */

/** Data frames remembered exactly. */
export const RECENT_FRAMES = 8;
/** Samples kept further back. */
export const SAMPLES = 32;
/** At most one sample per this many ms (32 samples cover about 32 s). */
export const SAMPLE_MS = 1000;
const SAMPLE_SEQ = 2 * RECENT_FRAMES;
const SAMPLE_TS = SAMPLE_SEQ + SAMPLES;

/**
 * A session's record of the data frames it was sent.
 *
 * @example
 * ```ts
 * import { AckLedger } from "./ack_ledger.ts";
 * const ledger = new AckLedger();
 * ledger.record(1, 1700000000.5, 0);
 * ledger.record(2, 1700000000.6, 10);
 * if (!ledger.check(2, 1700000000.6)) throw new Error("sent");
 * if (ledger.check(2, -1e308) || ledger.check(3, 1700000000.7)) throw new Error("never sent");
 * ```
 */
export class AckLedger {
  /**
   * One array, allocated by {@link arm}: recent seqs, recent ts_send (rings
   * of {@link RECENT_FRAMES}), then sample seqs and sample ts_send (rings of
   * {@link SAMPLES}).
   */
  #slots: Float64Array | undefined;
  #recorded = 0;
  #lastSeq = 0;
  #lastTs = 0;
  #samples = 0;
  #sampledAt = -Infinity;
  #firstSeq = 0;
  #firstTs = 0;
  /** Frames written to the exact ring since {@link arm}. */
  #ring = 0;

  /** Data frames recorded so far. */
  get recorded(): number {
    return this.#recorded;
  }

  /** The seq of the latest data frame recorded (0 before any). */
  get lastSeq(): number {
    return this.#lastSeq;
  }

  /** Whether the client sent anything, so it may ACK ({@link arm}). */
  get armed(): boolean {
    return this.#slots !== undefined;
  }

  /**
   * Notes that data frame `seq` with `tsSend` was handed to the socket at
   * monotonic `nowMs`.
   */
  record(seq: number, tsSend: number, nowMs: number): void {
    if (this.#recorded === 0) {
      this.#firstSeq = seq;
      this.#firstTs = tsSend;
    }
    const slots = this.#slots;
    if (slots === undefined) {
      this.#recorded++;
      this.#lastSeq = seq;
      this.#lastTs = tsSend;
      return;
    }
    this.#recorded++;
    this.#lastSeq = seq;
    this.#lastTs = tsSend;
    const i = this.#ring++ % RECENT_FRAMES;
    slots[i] = seq;
    slots[RECENT_FRAMES + i] = tsSend;
    if (nowMs - this.#sampledAt >= SAMPLE_MS) {
      this.#sampledAt = nowMs;
      const j = this.#samples++ % SAMPLES;
      slots[SAMPLE_SEQ + j] = seq;
      slots[SAMPLE_TS + j] = tsSend;
    }
  }

  /**
   * Starts remembering frames exactly (the client sent something: it may
   * ACK). Until then only the first and the latest frame are kept.
   */
  arm(): void {
    if (this.#slots !== undefined) return;
    const slots = new Float64Array(2 * (RECENT_FRAMES + SAMPLES));
    this.#slots = slots;
    if (this.#recorded === 0) return;
    // The latest frame so far is the ring's first entry.
    slots[0] = this.#lastSeq;
    slots[RECENT_FRAMES] = this.#lastTs;
    this.#ring = 1;
  }

  /** Whether an ACK of (`seq`, `ackTs`) matches what this session was sent. */
  check(seq: number, ackTs: number): boolean {
    const recorded = this.#recorded;
    if (recorded === 0 || !Number.isFinite(ackTs)) return false;
    const slots = this.#slots;
    if (slots === undefined) {
      // Not armed: between the first and the latest frame sent.
      if (seq === this.#firstSeq) return ackTs === this.#firstTs;
      if (seq === this.#lastSeq) return ackTs === this.#lastTs;
      return seq > this.#firstSeq && seq < this.#lastSeq &&
        ackTs >= this.#firstTs && ackTs <= this.#lastTs;
    }
    const window = Math.min(this.#ring, RECENT_FRAMES);
    let oldestRecent = Infinity;
    let oldestRecentTs = Infinity;
    for (let k = 0; k < window; k++) {
      const s = slots[k]!;
      if (s === seq) return slots[RECENT_FRAMES + k] === ackTs;
      if (s < oldestRecent) {
        oldestRecent = s;
        oldestRecentTs = slots[RECENT_FRAMES + k]!;
      }
    }
    if (seq > oldestRecent || seq < this.#firstSeq) return false;
    // Older than the exact window: between the samples around it.
    let below = this.#firstSeq;
    let belowTs = this.#firstTs;
    let above = oldestRecent;
    let aboveTs = oldestRecentTs;
    const kept = Math.min(this.#samples, SAMPLES);
    for (let k = 0; k < kept; k++) {
      const s = slots[SAMPLE_SEQ + k]!;
      const t = slots[SAMPLE_TS + k]!;
      if (s === seq) return t === ackTs;
      if (s < seq && s > below) {
        below = s;
        belowTs = t;
      } else if (s > seq && s < above) {
        above = s;
        aboveTs = t;
      }
    }
    if (seq === this.#firstSeq) return ackTs === this.#firstTs;
    return ackTs >= belowTs && ackTs <= aboveTs;
  }
}
