/**
 * The stdin source: each input line is one message on the default channel
 * (`tail -f app.log | fanout server --source stdin`).
 *
 * @module
 */
import { DEFAULT_CHANNEL, epochSeconds } from "../../lib/protocol.ts";
import { type Broker, BrokerUnavailableError } from "../core/broker.ts";
import type { Logger } from "../core/logger.ts";
import { messageFromText } from "./message_body.ts";
import { SourceStats } from "./source_stats.ts";

/** Options of {@link runStdinSource}. */
export interface StdinSourceOptions {
  /** Where lines come from. @default Deno.stdin.readable */
  readonly input?: ReadableStream<Uint8Array>;
  /** Lines longer than this (bytes) are refused, not published. */
  readonly maxMessageBytes: number;
  /** Field of JSON lines to conflate on (`--conflate-key`). */
  readonly conflateKey?: string | undefined;
  /** Stops reading. */
  readonly signal: AbortSignal;
  /** Where refusals, pauses and end-of-input are reported. */
  readonly logger: Logger;
  /** Counts what was published. @default new statistics */
  readonly stats?: SourceStats;
}

/**
 * Publishes every non-empty line: JSON lines as JSON, other lines as strings.
 * Naive mode's backpressure reaches the reader (it awaits each publish); a
 * broker that cannot take a line pauses the reader until it can.
 * @returns the number of messages published, once the input ends or the signal aborts
 */
export async function runStdinSource(
  broker: Broker,
  options: StdinSourceOptions,
): Promise<number> {
  const stats = options.stats ?? new SourceStats("stdin");
  stats.startedAt = performance.now();
  const input = options.input ?? Deno.stdin.readable;
  const lines = input.pipeThrough(new TextDecoderStream()).pipeThrough(
    splitLines(),
  );
  const reader = lines.getReader();
  const stop = () => reader.cancel().catch(() => {});
  const { signal, logger } = options;
  signal.addEventListener("abort", stop, { once: true });
  let published = 0;
  try {
    while (true) {
      const { value, done } = await reader.read();
      if (done) break;
      const line = value.replace(/\r$/, "");
      if (line.trim() === "") continue;
      if (line.length > options.maxMessageBytes) {
        stats.refused++;
        logger.log(
          {
            type: "refused",
            source: "stdin",
            reason: "message_too_big",
            bytes: line.length,
          },
          `[stdin] line of ${line.length} bytes refused: over --max-message-bytes ${options.maxMessageBytes}`,
        );
        continue;
      }
      const message = messageFromText(line, {
        json: "try",
        conflateKey: options.conflateKey,
      });
      if (!await publishRetrying(broker, message, stats, signal, logger)) break;
      published++;
      stats.published++;
    }
  } finally {
    signal.removeEventListener("abort", stop);
    reader.releaseLock();
  }
  stats.state = signal.aborted ? "stopped" : "ended";
  if (!signal.aborted) {
    logger.log(
      { type: "source_ended", source: "stdin", published },
      `[stdin] end of input after ${published} messages; still serving subscribers`,
    );
  }
  return published;
}

/**
 * Publishes one line, pausing (and saying so once) while the broker cannot
 * take it. @returns false when the signal aborted first
 */
async function publishRetrying(
  broker: Broker,
  message: ReturnType<typeof messageFromText>,
  stats: SourceStats,
  signal: AbortSignal,
  logger: Logger,
): Promise<boolean> {
  while (!signal.aborted) {
    try {
      await broker.publish(DEFAULT_CHANNEL, [{
        tsSend: epochSeconds(),
        ...message,
      }]);
      if (stats.state === "paused") {
        stats.state = "running";
        stats.pausedReason = "";
        logger.log(
          { type: "source_resumed", source: "stdin" },
          `[stdin] publishing again`,
        );
      }
      return true;
    } catch (err) {
      if (!(err instanceof BrokerUnavailableError)) throw err;
      if (stats.state !== "paused") {
        stats.state = "paused";
        stats.pausedReason = err.message;
        logger.log(
          { type: "source_paused", source: "stdin", reason: err.message },
          `[stdin] paused: ${err.message}; retrying every ${err.retryAfterMs} ms`,
        );
      }
      await new Promise<void>((resolve) => {
        const done = () => {
          clearTimeout(timer);
          signal.removeEventListener("abort", done);
          resolve();
        };
        const timer = setTimeout(done, err.retryAfterMs);
        signal.addEventListener("abort", done, { once: true });
      });
    }
  }
  return false;
}

/** Splits a text stream into lines (without their `\n`). */
export function splitLines(): TransformStream<string, string> {
  let pending = "";
  return new TransformStream({
    transform(chunk, controller) {
      const parts = (pending + chunk).split("\n");
      pending = parts.pop()!;
      for (const line of parts) controller.enqueue(line);
    },
    flush(controller) {
      if (pending !== "") controller.enqueue(pending);
    },
  });
}
