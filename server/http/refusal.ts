/**
 * How a refused subscriber hears why. Over HTTP the refusal is a status, a
 * JSON `{"error", "retry_in_ms"?}` body and, for "later" refusals (429,
 * 503), a `Retry-After` header. A browser's WebSocket shows none of that,
 * so a client that asks with `?refusal=close` (the SDK always does) gets
 * the upgrade accepted and at once closed with code `4000 + status` and the
 * reason, ending in `retry_in_ms=N` when it may come back: the one answer a
 * browser can read.
 *
 * @module
 */
import { fitCloseReason } from "../../lib/close_codes.ts";
import {
  isTerminalRefusal,
  refusalCloseCode,
  withRetryHint,
} from "../../lib/retry_hint.ts";

/** Shortest and longest retry hint given with a "later" refusal, ms. */
export const REFUSAL_RETRY_MS = { min: 1_000, max: 5_000 } as const;

/** How long a refusal socket may take to open and close before it is dropped, ms. */
const REFUSAL_SOCKET_MS = 5_000;

/**
 * The retry hint for a refusal of `status`: none for terminal ones, else a
 * delay spread over {@link REFUSAL_RETRY_MS} so refused clients do not come
 * back together.
 *
 * @param status the HTTP status
 * @param random a source in [0, 1) @default Math.random
 * @param atLeastMs a floor (e.g. the connect-rate bucket's wait) @default 0
 * @returns the hint, ms, or undefined
 * @example
 * ```ts
 * import { refusalRetryMs } from "./refusal.ts";
 * if (refusalRetryMs(401) !== undefined) throw new Error("terminal");
 * if (refusalRetryMs(503, () => 0.5) !== 3000) throw new Error();
 * ```
 */
export function refusalRetryMs(
  status: number,
  random: () => number = Math.random,
  atLeastMs = 0,
): number | undefined {
  if (isTerminalRefusal(status) || status < 400) return undefined;
  const { min, max } = REFUSAL_RETRY_MS;
  return Math.round(Math.max(atLeastMs, min) + (max - min) * random());
}

/**
 * A refusal as an HTTP response: JSON body, and `Retry-After` (whole
 * seconds, rounded up) when there is a hint.
 */
export function refusalResponse(
  status: number,
  reason: string,
  retryInMs: number | undefined,
): Response {
  if (retryInMs === undefined) {
    return Response.json({ error: reason }, { status });
  }
  return Response.json({ error: reason, retry_in_ms: retryInMs }, {
    status,
    headers: { "retry-after": String(Math.ceil(retryInMs / 1000)) },
  });
}

/** Whether the client asked for refusals as close frames (`?refusal=close`). */
export function wantsRefusalByClose(url: URL): boolean {
  return url.searchParams.get("refusal") === "close";
}

/**
 * Accepts a well-formed upgrade only to close it at once with
 * `4000 + status` and the reason (with the retry hint, if any).
 *
 * @returns the upgrade's response, or undefined when the upgrade failed
 *   (answer with the HTTP refusal instead)
 */
export function refuseByClose(
  req: Request,
  status: number,
  reason: string,
  retryInMs: number | undefined,
): Response | undefined {
  let upgrade;
  try {
    upgrade = Deno.upgradeWebSocket(req, { idleTimeout: 0 });
  } catch {
    return undefined;
  }
  const { socket, response } = upgrade;
  const text = retryInMs === undefined
    ? reason
    : withRetryHint(reason, retryInMs);
  const timer = setTimeout(() => {
    try {
      socket.close();
    } catch { /* gone */ }
  }, REFUSAL_SOCKET_MS);
  socket.addEventListener("open", () => {
    try {
      socket.close(refusalCloseCode(status), fitCloseReason(text));
    } catch { /* gone */ }
  }, { once: true });
  socket.addEventListener("close", () => clearTimeout(timer), { once: true });
  socket.addEventListener("error", () => {});
  return response;
}
