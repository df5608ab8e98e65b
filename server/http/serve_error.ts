/**
 * What `Deno.serve` does with an error a handler did not answer: a JSON 500
 * like every other refusal, and one log line — except for an SSE response
 * aborted on purpose (a reader that never took its close), which is not an
 * error of the server's.
 *
 * @module
 */
import type { Logger } from "../core/logger.ts";
import { SseAbort } from "./sse_sink.ts";

/**
 * Builds the `onError` option of `Deno.serve`.
 * @param logger where unexpected errors are reported
 * @returns the handler: logs unless the error is an {@link SseAbort}, answers 500 JSON
 * @example
 * ```ts
 * import { onServeError } from "./serve_error.ts";
 * const lines: string[] = [];
 * const handle = onServeError({ log: (_r, human) => lines.push(human) });
 * const res = handle(new Error("boom"));
 * if (res.status !== 500 || lines.length !== 1) throw new Error();
 * ```
 */
export function onServeError(logger: Logger): (error: unknown) => Response {
  return (error) => {
    if (!(error instanceof SseAbort)) {
      logger.log(
        { type: "error", error: String(error) },
        `[error] ${String(error)}`,
      );
    }
    return Response.json({ error: "internal server error" }, { status: 500 });
  };
}
