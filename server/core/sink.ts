/**
 * The core's view of a subscriber's transport. The core never touches a
 * WebSocket directly, so tests drive it with fake sinks and no network; the
 * one adapter over Deno's WebSocket lives in `http/websocket_sink.ts`, the
 * one over a Server-Sent Events response in `http/sse_sink.ts`.
 *
 * @module
 */

/** Where a session's frames go. */
export interface Sink {
  /**
   * Hands one text frame to the transport. Never blocks. `seq` and `epoch`
   * are where a data frame sits in its channel's stream, given by the caller
   * (a transport that names its frames, as SSE does with `id:`, uses them;
   * the text is never parsed for them): `seq` is 0 for a control frame or a
   * batch, `epoch` is "" when the session was never told its channel's
   * epoch (only control clients are).
   */
  send(text: string, seq: number, epoch: string): void;
  /** Starts closing; never awaited (a stalled peer may never finish). */
  close(code: number, reason: string): void;
  /** Bytes handed to `send` that the transport has not yet written out. */
  readonly bufferedAmount: number;
}
