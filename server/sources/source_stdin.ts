/**
 * The stdin source: each input line is one message on the default channel
 * (`tail -f app.log | fanout server --source stdin`).
 *
 * @module
 */
import { DEFAULT_CHANNEL, epochSeconds } from "../../lib/protocol.ts";
import type { Broker } from "../core/broker.ts";
import { asPause } from "./publish_failure.ts";
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
  const lines = input.pipeThrough(splitLines(options.maxMessageBytes));
  const reader = lines.getReader();
  const decoder = new TextDecoder();
  const stop = () => reader.cancel().catch(() => {});
  const { signal, logger } = options;
  signal.addEventListener("abort", stop, { once: true });
  let published = 0;
  try {
    while (true) {
      const { value, done } = await reader.read();
      if (done) break;
      if (value.tooLong !== undefined) {
        stats.refused++;
        logger.log(
          {
            type: "refused",
            source: "stdin",
            reason: "message_too_big",
            bytes: value.tooLong,
          },
          `[stdin] line of ${value.tooLong} bytes refused: over --max-message-bytes ${options.maxMessageBytes}`,
        );
        continue;
      }
      const line = decoder.decode(value.bytes);
      if (line.trim() === "") continue;
      const message = messageFromText(line, {
        json: "try",
        conflateKey: options.conflateKey,
        // Each line is an NDJSON message: its ttl_ms and critical count.
        classes: true,
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
    } catch (failure) {
      const err = asPause(failure); // any failure pauses; none ends the process
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

/** One input line: its bytes, or, for a line over the limit, only its size. */
export type InputLine =
  | { readonly bytes: Uint8Array; readonly tooLong?: undefined }
  | { readonly bytes?: undefined; readonly tooLong: number };

const NEWLINE = 0x0a;
const CR = 0x0d;

/**
 * Splits a byte stream into lines (without `\n` or `\r\n`), each at most
 * `maxBytes`. A longer line is not kept: once it passes the limit its bytes
 * are only counted until its newline, then it is reported by its size. So
 * memory stays within `maxBytes` plus one chunk however long a line grows,
 * and no byte is copied more than once.
 *
 * @example
 * ```ts
 * import { splitLines } from "./source_stdin.ts";
 * const lines = await Array.fromAsync(
 *   ReadableStream.from(["ab\r\n", "cdefgh", "\nij"])
 *     .pipeThrough(new TextEncoderStream())
 *     .pipeThrough(splitLines(4)),
 * );
 * const shown = lines.map((l) => l.bytes ? new TextDecoder().decode(l.bytes) : l.tooLong);
 * if (shown.join() !== "ab,6,ij") throw new Error(shown.join());
 * ```
 */
export function splitLines(
  maxBytes: number,
): TransformStream<Uint8Array, InputLine> {
  let parts: Uint8Array[] = [];
  let size = 0;
  let skipping = false;
  const add = (piece: Uint8Array) => {
    if (skipping) {
      size += piece.length;
      return;
    }
    size += piece.length;
    // One byte over is allowed for a trailing \r.
    if (size > maxBytes + 1) {
      skipping = true;
      parts = [];
      return;
    }
    if (piece.length > 0) parts.push(piece.slice());
  };
  const take = (): InputLine => {
    const line = (() => {
      if (skipping) return { tooLong: size };
      const bytes = new Uint8Array(size);
      let at = 0;
      for (const p of parts) {
        bytes.set(p, at);
        at += p.length;
      }
      const end = bytes.at(-1) === CR ? size - 1 : size;
      return end > maxBytes
        ? { tooLong: end }
        : { bytes: bytes.subarray(0, end) };
    })();
    parts = [];
    size = 0;
    skipping = false;
    return line;
  };
  return new TransformStream({
    transform(chunk, controller) {
      let start = 0;
      while (start <= chunk.length) {
        const end = chunk.indexOf(NEWLINE, start);
        if (end < 0) {
          add(chunk.subarray(start));
          return;
        }
        add(chunk.subarray(start, end));
        controller.enqueue(take());
        start = end + 1;
      }
    },
    flush(controller) {
      if (size > 0 || skipping) controller.enqueue(take());
    },
  });
}
