/**
 * One published message, serialised once and shared by every session.
 *
 * @module
 */

/** A message on its way out: the same object goes into every client's queue. */
export interface OutFrame {
  /** Sequence number of the message. */
  readonly seq: number;
  /** The encoded JSON text frame, built once per message. */
  readonly text: string;
  /** Size of `text` in bytes (ASCII, so its length). */
  readonly bytes: number;
  /** When the broadcaster took it, monotonic ms (`performance.now()`). */
  readonly enqueuedAt: number;
  /** Conflation key (`--conflate-key` field of the message), when it has one. */
  readonly key?: string;
}
