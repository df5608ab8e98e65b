/**
 * The hub's view of a subscriber's transport. The core never touches a
 * WebSocket directly, so tests drive it with fake sinks and no network.
 *
 * @module
 */

/** Where a session's frames go. */
export interface Sink {
  /** Hands one text frame to the transport. Never blocks. */
  send(text: string): void;
  /** Starts closing; never awaited (a stalled peer may never finish). */
  close(code: number, reason: string): void;
  /** Bytes handed to `send` that the transport has not yet written out. */
  readonly bufferedAmount: number;
}

/**
 * Adapts a server-side Deno `WebSocket` to {@link Sink}.
 *
 * Deno's `send()` never refuses: it buffers without limit, and
 * `bufferedAmount` is the only backpressure signal (DESIGN.md, trap 1).
 */
export class WebSocketSink implements Sink {
  readonly #socket: WebSocket;

  /** @param socket an open server-side socket from `Deno.upgradeWebSocket` */
  constructor(socket: WebSocket) {
    this.#socket = socket;
  }

  /** Sends `text` unless the socket is no longer open. */
  send(text: string): void {
    if (this.#socket.readyState === WebSocket.OPEN) this.#socket.send(text);
  }

  /** Starts the close handshake; errors from an already-closing socket are ignored. */
  close(code: number, reason: string): void {
    try {
      this.#socket.close(code, reason);
    } catch {
      // Already closing or closed: nothing left to do.
    }
  }

  /** The socket's unsent bytes. */
  get bufferedAmount(): number {
    return this.#socket.bufferedAmount;
  }
}
