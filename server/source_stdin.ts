/**
 * The stdin source: each input line is one message on the default channel
 * (`tail -f app.log | fanout server --source stdin`).
 *
 * @module
 */
import { DEFAULT_CHANNEL, epochSeconds } from "../lib/protocol.ts";
import type { Hub } from "./hub.ts";
import type { Logger } from "./logger.ts";
import type { PublisherStats } from "./publisher.ts";
import { messageFromText } from "./message_body.ts";

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
  /** Where refusals and end-of-input are reported. */
  readonly logger: Logger;
  /** Counts what was published (for summaries and metrics). */
  readonly stats?: PublisherStats;
}

/**
 * Publishes every non-empty line: JSON lines as JSON, other lines as strings.
 * Naive mode's backpressure reaches the reader (it awaits each publish).
 * @returns the number of messages published, once the input ends or the signal aborts
 */
export async function runStdinSource(
  hub: Hub,
  options: StdinSourceOptions,
): Promise<number> {
  const input = options.input ?? Deno.stdin.readable;
  const lines = input.pipeThrough(new TextDecoderStream()).pipeThrough(
    splitLines(),
  );
  const reader = lines.getReader();
  const stop = () => reader.cancel().catch(() => {});
  options.signal.addEventListener("abort", stop, { once: true });
  let published = 0;
  try {
    while (true) {
      const { value, done } = await reader.read();
      if (done) break;
      const line = value.replace(/\r$/, "");
      if (line.trim() === "") continue;
      if (line.length > options.maxMessageBytes) {
        options.logger.log(
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
      const { done: delivered } = hub.publish(DEFAULT_CHANNEL, {
        tsSend: epochSeconds(),
        ...message,
      });
      if (delivered) await delivered;
      published++;
      if (options.stats) options.stats.published++;
    }
  } finally {
    options.signal.removeEventListener("abort", stop);
    reader.releaseLock();
  }
  if (!options.signal.aborted) {
    options.logger.log(
      { type: "source_ended", source: "stdin", published },
      `[stdin] end of input after ${published} messages; still serving subscribers`,
    );
  }
  return published;
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
