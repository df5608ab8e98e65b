/**
 * How a session ended: the close the server sent, or, for a socket the
 * server did not close, what the transport reported, named
 * ({@link attributeClose}): the peer's close frame, Deno's ping timer, a lost
 * connection or a protocol error.
 *
 * @module
 */
import { CLOSE_CODES, type DisconnectReason } from "../../lib/close_codes.ts";

/** How a session ended. */
export interface SessionEnd {
  /** Close-code table key. */
  readonly reason: DisconnectReason;
  /** Human detail sent as the close reason (or received from the peer). */
  readonly detail: string;
  /** Close code sent or received. */
  readonly code: number;
}

/** Deno's reason when its ping timer closes a silent client. */
const PING_TIMEOUT_REASON = "No response from ping frame.";

/**
 * How a socket the server did not close ended: the client's own close frame
 * (`client_closed`, with its code), Deno's ping timer (`ping_timeout`), a
 * connection that just ended (`connection_lost`) or one the runtime dropped
 * for breaking the WebSocket protocol (`ws_protocol_error`,
 * `message_too_big`), named by `error`, the runtime's error message.
 */
export function attributeClose(
  code: number,
  reason: string,
  error: string,
): SessionEnd {
  if (reason === PING_TIMEOUT_REASON || error === PING_TIMEOUT_REASON) {
    return {
      reason: "ping_timeout",
      detail: "no pong: Deno's ping timer closed the connection",
      code,
    };
  }
  if (code !== 0 && code !== 1006 && error === "") {
    return {
      reason: "client_closed",
      detail: reason || "closed by client",
      code,
    };
  }
  if (error === "" || /unexpected eof|reset|broken pipe|closed/i.test(error)) {
    return {
      reason: "connection_lost",
      detail: error
        ? `connection lost without a close frame (${error})`
        : "connection lost without a close frame",
      code: CLOSE_CODES.connection_lost.code,
    };
  }
  if (/too large|too big|max.*size/i.test(error)) {
    return {
      reason: "message_too_big",
      detail: `the runtime refused a client frame: ${error}`,
      code: CLOSE_CODES.message_too_big.code,
    };
  }
  return {
    reason: "ws_protocol_error",
    detail: `WebSocket protocol error: ${error}`,
    code: CLOSE_CODES.ws_protocol_error.code,
  };
}
