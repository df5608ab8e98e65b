/**
 * How the server tells a client when to come back, in words any WebSocket
 * can carry: a `retry_in_ms=N` at the end of a close reason, and refusals
 * as close codes `4000 + HTTP status` (4401, 4403, 4429, 4503, …) for
 * clients that ask with `?refusal=close` — a browser's WebSocket hides an
 * upgrade's HTTP status and body, but shows a close frame's code and reason.
 * No Deno API: the SDK uses it in browsers.
 *
 * @module
 */

/** Longest close reason allowed by RFC 6455 (125 bytes minus the 2-byte code). */
const MAX_REASON_BYTES = 123;

/** The hint's form at the end of a close reason. */
const HINT = /(?:^|[;,\s])retry_in_ms=(\d{1,9})\s*$/;

/** First close code of the refusal range (`4000 + status`, statuses 400–599). */
export const REFUSAL_CODE_BASE = 4000;

/** Refusal statuses after which retrying unchanged cannot work. */
const TERMINAL_STATUSES = new Set([400, 401, 403, 404]);

/**
 * Appends `; retry_in_ms=N` to `reason`, shortening the reason (never the
 * hint) so that the whole fits a close frame.
 *
 * @param reason the close reason
 * @param retryInMs when to come back, ms (rounded, at least 0)
 * @returns the reason with the hint, at most 123 UTF-8 bytes
 * @example
 * ```ts
 * import { parseRetryHint, withRetryHint } from "./retry_hint.ts";
 * const r = withRetryHint("draining".repeat(30), 1500);
 * if (parseRetryHint(r) !== 1500) throw new Error(r);
 * if (new TextEncoder().encode(r).length > 123) throw new Error("too long");
 * ```
 */
export function withRetryHint(reason: string, retryInMs: number): string {
  const hint = `retry_in_ms=${Math.max(0, Math.round(retryInMs))}`;
  const room = MAX_REASON_BYTES - hint.length - 2;
  const bytes = new TextEncoder().encode(reason);
  const head = bytes.length <= room ? reason : new TextDecoder()
    .decode(bytes.slice(0, room)).replace(/\uFFFD+$/, "");
  return head === "" ? hint : `${head}; ${hint}`;
}

/**
 * Reads the hint {@link withRetryHint} wrote.
 * @returns the delay asked for, ms, or undefined when the reason has none
 */
export function parseRetryHint(reason: string): number | undefined {
  const m = HINT.exec(reason);
  return m ? Number(m[1]) : undefined;
}

/**
 * The close code a refusal of HTTP `status` is sent as (`?refusal=close`).
 * @example
 * ```ts
 * import { refusalCloseCode, refusalStatus } from "./retry_hint.ts";
 * if (refusalCloseCode(401) !== 4401) throw new Error();
 * if (refusalStatus(4503) !== 503 || refusalStatus(4002) !== undefined) throw new Error();
 * ```
 */
export function refusalCloseCode(status: number): number {
  return REFUSAL_CODE_BASE + status;
}

/** @returns the HTTP status a refusal close code stands for, or undefined for other codes */
export function refusalStatus(code: number): number | undefined {
  const status = code - REFUSAL_CODE_BASE;
  return status >= 400 && status <= 599 ? status : undefined;
}

/** Whether a refusal of `status` is final (400, 401, 403, 404) rather than "later" (429, 503, …). */
export function isTerminalRefusal(status: number): boolean {
  return TERMINAL_STATUSES.has(status);
}
