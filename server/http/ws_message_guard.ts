/**
 * A client message the runtime cannot deliver must cost its sender the
 * connection, not the server its process.
 *
 * Deno 2.9 joins a fragmented WebSocket message in Rust (fastwebsockets'
 * fragment collector, no limit on the sum of the fragments; each frame alone
 * is held to 64 MiB) and then makes it a JavaScript string. A text message
 * over V8's string limit (2^29 − 24 characters, about 512 MiB) fails that
 * step: the socket's read loop rejects with "failed to allocate string", the
 * rejection is unhandled, and the process exits. `Deno.upgradeWebSocket`
 * offers no option that bounds the joined message.
 *
 * {@link guardWebSocketMessages} wraps the read loop of every server
 * WebSocket once: that failure dispatches an `error` event naming it, starts
 * a close with 1009 ("message too big") and dispatches `close` at once (as
 * Deno's own ping timer does: the peer may never answer); the loop goes on
 * reading so the runtime releases the connection when the close handshake
 * ends (a second `close` then fires: listen with `once`).
 * The sender is cut; every other client keeps being served.
 *
 * What stays out of reach (README, "Limits"): the runtime still buffers up
 * to ~512 MiB of one connection's fragments before the cut, since it never
 * shows the fragments to JavaScript.
 *
 * @module
 */

/** The `error` event's message when a client's message was over the runtime's limit. */
export const MESSAGE_TOO_BIG_ERROR =
  "message too large: over the runtime's string limit (~512 MiB)";

/** The close reason sent to that client. */
export const MESSAGE_TOO_BIG_REASON = "message too big";

/** True for the runtime's failure to make a message a string (over V8's limit). */
export function isStringLimitError(err: unknown): boolean {
  return /failed to allocate string|exceeds maximum length/i.test(
    String((err as Error)?.message ?? err),
  );
}

let installed: boolean | undefined;

/**
 * Installs the guard on `WebSocket.prototype`, once (later calls return the
 * first call's answer).
 *
 * @returns whether the guard is on (false on a runtime whose WebSocket has no
 *   internal read loop to wrap; then such a message still ends the process)
 * @example
 * ```ts
 * import { guardWebSocketMessages } from "./ws_message_guard.ts";
 * if (guardWebSocketMessages() !== guardWebSocketMessages()) throw new Error();
 * ```
 */
export function guardWebSocketMessages(): boolean {
  if (installed !== undefined) return installed;
  const proto = WebSocket.prototype as unknown as Record<
    symbol,
    (this: WebSocket) => Promise<void>
  >;
  const key = Object.getOwnPropertySymbols(proto).find((s) =>
    s.description === "[[eventLoop]]"
  );
  const readLoop = key === undefined ? undefined : proto[key];
  if (key === undefined || typeof readLoop !== "function") {
    return installed = false;
  }
  proto[key] = async function guardedReadLoop(this: WebSocket) {
    while (true) {
      try {
        return await readLoop.call(this);
      } catch (err) {
        if (!isStringLimitError(err)) throw err;
        // The message was consumed; the connection can still be read.
        this.dispatchEvent(
          new ErrorEvent("error", { message: MESSAGE_TOO_BIG_ERROR }),
        );
        try {
          this.close(1009, MESSAGE_TOO_BIG_REASON);
        } catch { /* already closing */ }
        // The connection is over for the server now, whether or not the
        // peer ever answers the close (as Deno's own ping timer does).
        this.dispatchEvent(
          new CloseEvent("close", {
            wasClean: false,
            code: 1009,
            reason: MESSAGE_TOO_BIG_REASON,
          }),
        );
      }
    }
  };
  return installed = true;
}
