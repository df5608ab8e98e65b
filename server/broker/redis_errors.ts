/**
 * What a failed Redis command means, decided in one place: every error the
 * engine gives is an engine-side failure (the publisher is told 503 and
 * when to retry, a source pauses), never a crash. The kind says whether the
 * whole engine is out (the broker goes down until a probe succeeds) and
 * whether the command may have run anyway.
 *
 * @module
 */
import {
  AbortError,
  ClientClosedError,
  ClientOfflineError,
  ErrorReply,
  TimeoutError,
} from "@redis/client";
import { CommandTimeoutError } from "./redis_deadline.ts";

/** Why a Redis command failed. */
export type EngineFault =
  /** The connection is down, closed, or broke while the command was out. */
  | "connection"
  /** No reply within `--broker-timeout-ms`: a stalled or overloaded Redis. */
  | "timeout"
  /** A replica answered (READONLY, MASTERDOWN): a failover moved the primary. */
  | "readonly"
  /** Out of memory at `maxmemory` with `noeviction`. */
  | "oom"
  /** Redis is still loading its data set. */
  | "loading"
  /** A script runs too long in Redis (BUSY). */
  | "busy"
  /** Any other error reply (a script error). */
  | "script";

/** An error, classified. */
export interface EngineFailure {
  /** Why. */
  readonly fault: EngineFault;
  /**
   * Whether what the command would write may be in Redis: `false` when it
   * was never sent or Redis refused it before writing, `"unknown"` when it
   * was sent and no answer came (it may have run).
   */
  readonly stored: false | "unknown";
  /** Whether the engine as a whole is out (not just this command). */
  readonly outage: boolean;
  /** One line for logs, `/readyz` and the publisher. */
  readonly reason: string;
}

/** Error replies Redis gives before a command (or a script's first write) runs. */
const REFUSED: readonly [RegExp, EngineFault][] = [
  [/\bREADONLY\b|\bMASTERDOWN\b/, "readonly"],
  [/\bOOM\b/, "oom"],
  [/\bLOADING\b/, "loading"],
  [/\bBUSY\b/, "busy"],
];

/**
 * Classifies a failed command.
 *
 * @param err what the client threw
 * @example
 * ```ts
 * import { SimpleError } from "@redis/client";
 * import { classifyEngineError } from "./redis_errors.ts";
 * const e = new SimpleError("READONLY You can't write against a read only replica.");
 * const c = classifyEngineError(e);
 * if (c.fault !== "readonly" || c.stored !== false || !c.outage) throw new Error(c.fault);
 * ```
 */
export function classifyEngineError(err: unknown): EngineFailure {
  const message = String((err as Error)?.message ?? err).split("\n")[0]!;
  if (err instanceof ClientOfflineError || err instanceof ClientClosedError) {
    // Refused by the client before anything was written to the socket.
    return failure("connection", false, true, `not connected (${message})`);
  }
  if (
    err instanceof CommandTimeoutError || err instanceof TimeoutError ||
    err instanceof AbortError
  ) {
    return failure(
      "timeout",
      "unknown",
      true,
      "no reply within the command timeout (--broker-timeout-ms)",
    );
  }
  if (err instanceof ErrorReply) {
    for (const [pattern, fault] of REFUSED) {
      if (pattern.test(message)) return failure(fault, false, true, message);
    }
    return failure("script", "unknown", false, message);
  }
  return failure("connection", "unknown", true, message);
}

function failure(
  fault: EngineFault,
  stored: false | "unknown",
  outage: boolean,
  reason: string,
): EngineFailure {
  return { fault, stored, outage, reason: `${fault}: ${reason}` };
}
