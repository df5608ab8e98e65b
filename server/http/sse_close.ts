/**
 * How an SSE stream ends: an `event: close` with the close code and reason,
 * and for a close that invites a reconnect, when to come back — as a
 * `retry:` field, which EventSource obeys, and as `retry_in_ms` in the event
 * and at the end of its reason, as in a WebSocket close reason.
 *
 * @module
 */
import { withRetryHint } from "../../lib/retry_hint.ts";
import type { ReconnectPacer } from "./reconnect_pacer.ts";
import { sseEvent } from "./sse_event.ts";

/**
 * The `event: close` ending a stream; for a close that invites a reconnect
 * (the pacer gives it a hint), preceded by `retry: <hint>` and carrying the
 * hint as `retry_in_ms` and at the end of the reason.
 *
 * @param code the close code
 * @param reason why
 * @param pacer the node's hints; none: no hint
 * @returns the event, ending with its blank line
 * @example
 * ```ts
 * import { closeEvent } from "./sse_close.ts";
 * const pacer = { hintFor: (code: number) => code === 1012 ? 900 : undefined };
 * const e = closeEvent(1012, "draining", pacer);
 * if (!e.startsWith("retry: 900\nevent: close\n")) throw new Error(e);
 * if (!e.includes('"reason":"draining; retry_in_ms=900","retry_in_ms":900')) throw new Error(e);
 * if (closeEvent(4100, "bad", pacer).includes("retry")) throw new Error();
 * ```
 */
export function closeEvent(
  code: number,
  reason: string,
  pacer?: Pick<ReconnectPacer, "hintFor">,
): string {
  const hint = pacer?.hintFor(code);
  if (hint === undefined) {
    return sseEvent(JSON.stringify({ type: "close", code, reason }), 0, "");
  }
  const text = JSON.stringify({
    type: "close",
    code,
    reason: withRetryHint(reason, hint),
    retry_in_ms: hint,
  });
  return `retry: ${hint}\n${sseEvent(text, 0, "")}`;
}
