/**
 * The one table of reasons a subscriber's connection ends, with WebSocket
 * close codes. Codes 4000–4999 are ours (RFC 6455 §7.4.2), split in two
 * ranges so a client can act on the code alone:
 *
 * - 4000–4099 **reconnect**: the client was too slow (or stopped reading) and
 *   may come back, resuming with `?since=` when it is ready again;
 * - 4100–4199 **terminal**: the client broke a rule (malformed frames, a
 *   flood, a capacity limit); reconnecting unchanged would fail again.
 *
 * The same key is the metric label for disconnects.
 *
 * @module
 */

/** The window over which a client's drops are counted against `--drop-limit`, ms. */
export const DROP_WINDOW_MS = 10_000;

/** One row of the close-code table. */
export interface CloseCodeEntry {
  /** WebSocket close code sent to the client. */
  readonly code: number;
  /** Whether a client closed with this code should reconnect (and resume). */
  readonly reconnect: boolean;
  /** What the code means, for documentation and `--help`. */
  readonly meaning: string;
}

const DROP_WINDOW_S = DROP_WINDOW_MS / 1000;

/**
 * Close codes, ordered by code. `client_closed` is the peer's own close (or
 * a broken connection, with the code the runtime reported).
 */
export const CLOSE_CODES = {
  client_closed: {
    code: 1000,
    reconnect: false,
    meaning: "the client closed the connection",
  },
  shutdown: {
    code: 1001,
    reconnect: true,
    meaning: "the server is shutting down; reconnect (to another node)",
  },
  ws_protocol_error: {
    code: 1002,
    reconnect: false,
    meaning:
      "the client broke the WebSocket protocol (invalid UTF-8, reserved bits, a bad opcode, …); the runtime dropped the connection",
  },
  connection_lost: {
    code: 1006,
    reconnect: true,
    meaning:
      "the connection ended without a close frame (the client vanished, or its network did); never sent, only recorded",
  },
  message_too_big: {
    code: 1009,
    reconnect: false,
    meaning:
      "a client frame exceeded --max-frame-bytes, or was binary (the protocol has none)",
  },
  drain: {
    code: 1012,
    reconnect: true,
    meaning:
      "the server is draining (a restart or deploy): reconnect after the retry hint, to another node",
  },
  slow_drops: {
    code: 4000,
    reconnect: true,
    meaning:
      `too many messages dropped for this client within ${DROP_WINDOW_S} s (--drop-limit)`,
  },
  slow_full: {
    code: 4001,
    reconnect: true,
    meaning: "this client's queue stayed full longer than --full-timeout",
  },
  ping_timeout: {
    code: 4002,
    reconnect: true,
    meaning:
      "the client stopped reading or answering pings (--ping-interval + --ping-timeout)",
  },
  slow_overflow: {
    code: 4004,
    reconnect: true,
    meaning: "this client's queue overflowed under --policy disconnect",
  },
  slow_lag: {
    code: 4006,
    reconnect: true,
    meaning:
      "the client fell further behind than --max-lag (the oldest message it had not taken)",
  },
  protocol_error: {
    code: 4100,
    reconnect: false,
    meaning: "too many malformed frames from the client",
  },
  flood: {
    code: 4101,
    reconnect: false,
    meaning:
      "the client sent frames faster than --max-inbound-rate, even after throttling",
  },
  channel_limit: {
    code: 4102,
    reconnect: false,
    meaning: "the channel could not be opened: --max-channels reached",
  },
  token_expired: {
    code: 4103,
    reconnect: false,
    meaning:
      "the client's credentials expired (its JWT's exp); reconnect with a fresh token",
  },
} as const satisfies Record<string, CloseCodeEntry>;

/** Why a session ended; the key of a {@link CLOSE_CODES} row and the metric label. */
export type DisconnectReason = keyof typeof CLOSE_CODES;

/** Every reason, in code order (for metrics and documentation). */
export const DISCONNECT_REASONS: readonly DisconnectReason[] = Object.keys(
  CLOSE_CODES,
) as DisconnectReason[];

/** Longest close reason allowed by RFC 6455 (125 bytes minus the 2-byte code). */
export const MAX_CLOSE_REASON_BYTES = 123;

/**
 * Truncates `reason` to fit a close frame.
 * @returns `reason`, cut to at most {@link MAX_CLOSE_REASON_BYTES} bytes
 * @example
 * ```ts
 * import { fitCloseReason, MAX_CLOSE_REASON_BYTES } from "./close_codes.ts";
 * const cut = fitCloseReason("é".repeat(100)); // 200 bytes
 * if (new TextEncoder().encode(cut).length > MAX_CLOSE_REASON_BYTES) throw new Error();
 * ```
 */
export function fitCloseReason(reason: string): string {
  const bytes = new TextEncoder().encode(reason);
  if (bytes.length <= MAX_CLOSE_REASON_BYTES) return reason;
  return new TextDecoder().decode(bytes.slice(0, MAX_CLOSE_REASON_BYTES))
    .replace(/\uFFFD+$/, "");
}
