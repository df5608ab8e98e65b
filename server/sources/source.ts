/**
 * Starting the configured source. Every source publishes to the broker and
 * reports through one {@link SourceStats}.
 *
 * @module
 */
import { DEFAULT_CHANNEL } from "../../lib/protocol.ts";
import type { Broker } from "../core/broker.ts";
import type { Logger } from "../core/logger.ts";
import { HttpSource } from "./source_http.ts";
import { runStdinSource } from "./source_stdin.ts";
import { type SourceKind, SourceStats } from "./source_stats.ts";
import { runSyntheticSource } from "./source_synthetic.ts";

/** What {@link startSource} needs. */
export interface SourceOptions {
  /** Which source. */
  readonly kind: SourceKind;
  /** Synthetic messages per second. */
  readonly rate: number;
  /** Random payload bytes per synthetic message. */
  readonly payloadBytes: number;
  /** Largest published message, bytes (stdin lines). */
  readonly maxMessageBytes: number;
  /** Field to conflate on, when conflating. */
  readonly conflateKey: string | undefined;
  /** Stops the source. */
  readonly signal: AbortSignal;
  /** Where the stdin source reports refusals and pauses. */
  readonly logger: Logger;
  /** Whether a synthetic source that falls far behind skips ahead (queue mode) or always catches up (naive mode). */
  readonly shed: boolean;
}

/** A running source. */
export interface RunningSource {
  /** Its statistics. */
  readonly stats: SourceStats;
  /** Settles once the source has stopped (after the signal, or at end of input). */
  readonly done: Promise<void>;
  /** The HTTP source, which `POST /publish` hands its messages to (`--source http` only). */
  readonly http?: HttpSource;
}

/**
 * Starts the source `options.kind` publishing to `broker`. The HTTP source
 * publishes from request handlers (`http/publish.ts`): here it only gets its
 * statistics, and runs until the signal.
 */
export function startSource(
  broker: Broker,
  options: SourceOptions,
): RunningSource {
  const { signal } = options;
  if (options.kind === "synthetic") {
    return runSyntheticSource(
      (body) => broker.publish(DEFAULT_CHANNEL, [body]),
      {
        rate: options.rate,
        payloadBytes: options.payloadBytes,
        signal,
        // The memory broker answers at once (or, in naive mode, once every
        // client has the message: that wait is the point); a shared engine
        // is a round trip away, so publishes overlap.
        maxInFlight: broker.kind === "memory" ? 1 : 64,
        ...(options.shed ? {} : { shedLagMs: Infinity }),
      },
    );
  }
  if (options.kind === "http") {
    const http = new HttpSource(broker);
    const { stats } = http;
    const done = new Promise<void>((resolve) =>
      signal.addEventListener("abort", () => {
        stats.state = "stopped";
        resolve();
      }, { once: true })
    );
    return { stats, done, http };
  }
  const stats = new SourceStats(options.kind);
  const done = runStdinSource(broker, {
    maxMessageBytes: options.maxMessageBytes,
    conflateKey: options.conflateKey,
    signal,
    logger: options.logger,
    stats,
  }).then(() => {});
  return { stats, done };
}
