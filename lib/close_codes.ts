/**
 * The one table of reasons a server closes a subscriber, with WebSocket close
 * codes. Codes 4000–4999 are ours (RFC 6455 §7.4.2); the same key is the
 * metric label for disconnects.
 *
 * @module
 */

/** Why a session ended; used as the metric label. */
export type DisconnectReason =
  | "slow_drops"
  | "slow_full"
  | "slow_overflow"
  | "flood"
  | "ping_timeout"
  | "protocol_error"
  | "message_too_big"
  | "shutdown"
  | "client_closed";

/** One row of the close-code table. */
export interface CloseCodeEntry {
  /** WebSocket close code sent to the client. */
  readonly code: number;
  /** What the code means, for documentation and `--help`. */
  readonly meaning: string;
}

/**
 * Close codes the server sends. A client receiving 4000–4099 was disconnected
 * for being slow and should reconnect (and resume) when it is ready again.
 */
export const CLOSE_CODES: Readonly<Record<DisconnectReason, CloseCodeEntry>> = {
  slow_drops: {
    code: 4000,
    meaning:
      "too many messages dropped for this client within 10 s (--drop-limit)",
  },
  slow_full: {
    code: 4001,
    meaning: "this client's queue stayed full longer than --full-timeout",
  },
  slow_overflow: {
    code: 4004,
    meaning: "this client's queue overflowed under --policy disconnect",
  },
  flood: {
    code: 4005,
    meaning:
      "the client sent frames faster than --max-inbound-rate, even after throttling",
  },
  ping_timeout: {
    code: 4002,
    meaning:
      "the client stopped reading or answering pings (--ping-interval + --ping-timeout)",
  },
  protocol_error: {
    code: 4003,
    meaning: "too many malformed frames from the client",
  },
  message_too_big: {
    code: 1009,
    meaning: "a client frame exceeded the server's inbound size limit",
  },
  shutdown: { code: 1001, meaning: "the server is shutting down" },
  client_closed: { code: 1000, meaning: "the client closed the connection" },
};

/** Longest close reason allowed by RFC 6455 (125 bytes minus the 2-byte code). */
export const MAX_CLOSE_REASON_BYTES = 123;

/**
 * Truncates `reason` to fit a close frame.
 * @returns `reason`, cut to at most {@link MAX_CLOSE_REASON_BYTES} bytes
 */
export function fitCloseReason(reason: string): string {
  const bytes = new TextEncoder().encode(reason);
  if (bytes.length <= MAX_CLOSE_REASON_BYTES) return reason;
  return new TextDecoder().decode(bytes.slice(0, MAX_CLOSE_REASON_BYTES))
    .replace(/\uFFFD+$/, "");
}
