/**
 * Detects a client that has stopped reading: bytes are waiting for it and
 * none has drained for too long. Deno's own ping (`idleTimeout`) is reset by
 * any frame the client sends, so a client that stops reading but keeps
 * sending ACKs would dodge it; this check cannot be dodged, because only
 * reading moves it.
 *
 * @module
 */

/** Per-session progress record. */
export interface StallState {
  /** Bytes known to have left the server's buffer (sent − buffered). */
  drained: number;
  /** Monotonic ms of the last drain progress (or of an empty buffer). */
  progressAt: number;
}

/** Fresh state for a session opened at `now`. */
export function newStallState(now: number): StallState {
  return { drained: 0, progressAt: now };
}

/**
 * Updates `state` and reports whether the client has stalled.
 * @param bytesSent bytes handed to the socket so far
 * @param buffered the socket's current `bufferedAmount`
 * @param limitMs how long data may wait without any progress
 * @returns milliseconds stalled when over the limit, otherwise 0
 */
export function checkStall(
  state: StallState,
  bytesSent: number,
  buffered: number,
  now: number,
  limitMs: number,
): number {
  const drained = bytesSent - buffered;
  if (buffered === 0 || drained > state.drained) {
    state.drained = drained;
    state.progressAt = now;
    return 0;
  }
  const stalledFor = now - state.progressAt;
  return stalledFor > limitMs ? stalledFor : 0;
}
