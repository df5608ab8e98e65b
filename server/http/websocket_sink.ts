/**
 * The one adapter between the core's {@link Sink} and Deno's server-side
 * WebSocket.
 *
 * @module
 */
import type { Sink } from "../core/sink.ts";
import type { ReconnectPacer } from "./reconnect_pacer.ts";

/**
 * Adapts a server-side Deno `WebSocket` to {@link Sink}.
 *
 * Deno's `send()` never refuses: it buffers without limit, and
 * `bufferedAmount` is the only backpressure signal, so the queue mode's
 * writer gates on it.
 */
export class WebSocketSink implements Sink {
  readonly #socket: WebSocket;
  readonly #pacer: ReconnectPacer | undefined;

  /**
   * @param socket an open server-side socket from `Deno.upgradeWebSocket`
   * @param pacer adds a spread `retry_in_ms` hint to closes that invite a reconnect
   */
  constructor(socket: WebSocket, pacer?: ReconnectPacer) {
    this.#socket = socket;
    this.#pacer = pacer;
  }

  /** Sends `text` unless the socket is no longer open. */
  send(text: string): void {
    if (this.#socket.readyState === WebSocket.OPEN) this.#socket.send(text);
  }

  /** Starts the close handshake; errors from an already-closing socket are ignored. */
  close(code: number, reason: string): void {
    try {
      this.#socket.close(
        code,
        this.#pacer ? this.#pacer.reasonFor(code, reason) : reason,
      );
    } catch {
      // Already closing or closed: nothing left to do.
    }
  }

  /** The socket's unsent bytes. */
  get bufferedAmount(): number {
    return this.#socket.bufferedAmount;
  }
}
