/**
 * What a source does when a publish fails: it pauses and retries, whatever
 * the failure. A broker says when the engine cannot take a message
 * ({@link BrokerUnavailableError}); anything else a publish throws is
 * treated the same way, so a source never ends the process.
 *
 * @module
 */
import { BrokerUnavailableError } from "../core/broker.ts";

/** How long a source waits after a failure the broker did not classify, ms. */
export const UNEXPECTED_RETRY_MS = 1_000;

/**
 * The pause a failed publish calls for.
 *
 * @example
 * ```ts
 * import { asPause } from "./publish_failure.ts";
 * const p = asPause(new TypeError("boom"));
 * if (p.retryAfterMs !== 1000 || !p.message.includes("boom")) throw new Error(p.message);
 * ```
 */
export function asPause(err: unknown): BrokerUnavailableError {
  if (err instanceof BrokerUnavailableError) return err;
  return new BrokerUnavailableError(
    `publishing failed (${(err as Error)?.message ?? String(err)}); retrying`,
    "publish_failed",
    UNEXPECTED_RETRY_MS,
    "unknown",
  );
}
