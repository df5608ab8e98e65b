/**
 * The {@link Sink} of a Server-Sent Events subscriber: the session's frames
 * become SSE events on the response body stream. Data frames carry
 * `id: <epoch>:<seq>` (what `Last-Event-ID` resumes from), made of the seq
 * and epoch the session hands over with each frame (the text is never read
 * for them); control frames go as named events (`event: position`, `gap`,
 * `reset`, `dropped`), and the end is an `event: close` with the close code
 * and reason.
 *
 * The stream is pull-based: events wait here until Deno's HTTP layer pulls
 * them, which it does only as fast as the socket drains. So
 * `bufferedAmount` is honest — the bytes handed to the stream that the HTTP
 * layer has not pulled yet — and the queue mode's writer, drain watcher and
 * slow-client policy treat an SSE reader exactly like a WebSocket one.
 *
 * @module
 */
import type { Sink } from "../core/sink.ts";

/** How long a closing stream may take to hand over its `close` event before it is aborted, ms. */
export const SSE_CLOSE_GRACE_MS = 2_000;
/** Most bytes handed to the HTTP layer in one pull. */
const PULL_MAX_BYTES = 256 * 1024;

/** The error an SSE response is aborted with when its reader did not take its close in time. */
export class SseAbort extends Error {
  /** @param message why the stream was aborted */
  constructor(message: string) {
    super(message);
    this.name = "SseAbort";
  }
}

const enc = new TextEncoder();

/**
 * The SSE event for one frame: a data frame (`seq` above 0) with
 * `id: <epoch>:<seq>`, a control frame as `event: <type>` (its `type`
 * field, which a control frame's text starts with). Frames are JSON text
 * without raw line breaks; any there would be split into `data:` lines.
 *
 * @param text the frame
 * @param seq its seq in the channel's stream; 0 for a control frame
 * @param epoch the channel's epoch, for the id
 * @returns the event, ending with its blank line
 * @example
 * ```ts
 * import { sseEvent } from "./sse_sink.ts";
 * const e = sseEvent('{"seq":7,"ts_send":1,"payload_b64":""}', 7, "E1");
 * if (e !== 'id: E1:7\ndata: {"seq":7,"ts_send":1,"payload_b64":""}\n\n') throw new Error(e);
 * if (!sseEvent('{"type":"gap","channel":"a"}', 0, "E1").startsWith("event: gap\n")) throw new Error();
 * ```
 */
export function sseEvent(text: string, seq: number, epoch: string): string {
  const data = /[\r\n]/.test(text)
    ? text.split(/\r\n|\r|\n/).join("\ndata: ")
    : text;
  if (seq > 0) {
    return `id: ${epoch === "" ? "" : `${epoch}:`}${seq}\ndata: ${data}\n\n`;
  }
  const type = /^\{"type":"([a-z_]+)"/.exec(text)?.[1];
  if (type !== undefined) return `event: ${type}\ndata: ${data}\n\n`;
  return `data: ${data}\n\n`;
}

/**
 * Encodes events once for every SSE subscriber of one server: its
 * subscribers of a channel are handed the same frame one after another, so
 * the last event encoded is kept and reused while the next frame is the same.
 */
export class SseEncoder {
  #text = "";
  #seq = -1;
  #epoch = "";
  #bytes = new Uint8Array();

  /** The event for `text` at `seq` in `epoch`, as bytes (shared: never modified). */
  encode(text: string, seq: number, epoch: string): Uint8Array {
    if (text !== this.#text || seq !== this.#seq || epoch !== this.#epoch) {
      this.#bytes = enc.encode(sseEvent(text, seq, epoch));
      this.#text = text;
      this.#seq = seq;
      this.#epoch = epoch;
    }
    return this.#bytes;
  }
}

/** Options of {@link SseSink}. */
export interface SseSinkOptions {
  /** The reader went away (the HTTP layer cancelled the stream). */
  readonly onPeerGone: () => void;
  /** Reconnect delay a browser's EventSource should use, ms (sent as `retry:`). @default 1000 */
  readonly retryMs?: number;
  /** See {@link SSE_CLOSE_GRACE_MS}. */
  readonly closeGraceMs?: number;
  /** The encoder shared by the server's SSE subscribers. @default one of its own */
  readonly encoder?: SseEncoder;
}

/** The `retry:` line of each reconnect delay in use, encoded once. */
const retryLines = new Map<number, Uint8Array>();

/** The `retry:` line for `ms`, shared by every stream that uses it (never modified). */
function retryLine(ms: number): Uint8Array {
  let line = retryLines.get(ms);
  if (!line) retryLines.set(ms, line = enc.encode(`retry: ${ms}\n\n`));
  return line;
}

/**
 * The underlying source of an {@link SseSink}'s stream: one small object
 * whose methods are shared by every stream, instead of three closures per
 * subscriber.
 */
class SseSource implements UnderlyingDefaultSource<Uint8Array> {
  readonly #sink: SseSink;
  readonly #pull: (
    c: ReadableStreamDefaultController<Uint8Array>,
    starting?: boolean,
  ) => void;
  readonly #cancel: () => void;

  constructor(
    sink: SseSink,
    pull: (
      c: ReadableStreamDefaultController<Uint8Array>,
      starting?: boolean,
    ) => void,
    cancel: () => void,
  ) {
    this.#sink = sink;
    this.#pull = pull;
    this.#cancel = cancel;
  }

  start(c: ReadableStreamDefaultController<Uint8Array>): void {
    this.#pull.call(this.#sink, c, true);
  }

  pull(c: ReadableStreamDefaultController<Uint8Array>): void {
    this.#pull.call(this.#sink, c);
  }

  cancel(): void {
    this.#cancel.call(this.#sink);
  }
}

/**
 * One SSE subscriber's response stream, as a {@link Sink}. An idle
 * subscriber holds no promise and no chunk here: when the HTTP layer asks
 * for more and nothing is pending, the sink only notes that it was asked
 * and hands the next event straight to the
 * stream when it comes.
 */
export class SseSink implements Sink {
  /** The response body. */
  readonly stream: ReadableStream<Uint8Array>;
  readonly #options: SseSinkOptions;
  #controller!: ReadableStreamDefaultController<Uint8Array>;
  #pending: Uint8Array[] = [];
  #bytes = 0;
  /** The HTTP layer asked for more while nothing was pending. */
  #wanted = false;
  #state: "open" | "closing" | "done" = "open";
  readonly #encoder: SseEncoder;
  #timer: ReturnType<typeof setTimeout> | undefined;

  /** @param options what to do when the reader goes away; retry delay */
  constructor(options: SseSinkOptions) {
    this.#options = options;
    this.#encoder = options.encoder ?? new SseEncoder();
    this.#push(retryLine(options.retryMs ?? 1000));
    this.stream = new ReadableStream<Uint8Array>(
      new SseSource(this, this.#pull, this.#gone),
      { highWaterMark: 0 },
    );
  }

  /** Bytes handed to the stream that the HTTP layer has not pulled yet. */
  get bufferedAmount(): number {
    return this.#bytes;
  }

  /** Queues `text` as an SSE event, named by the `seq` and `epoch` it is handed with (nothing once closing). */
  send(text: string, seq: number, epoch: string): void {
    if (this.#state !== "open") return;
    this.#push(this.#encoder.encode(text, seq, epoch));
  }

  /**
   * Ends the stream: what the reader has not pulled is discarded, an
   * `event: close` with `code` and `reason` follows, then the stream ends.
   * A reader that does not take it within the grace period (it stopped
   * reading) has its response aborted.
   */
  close(code: number, reason: string): void {
    if (this.#state !== "open") return;
    this.#state = "closing";
    this.#pending = [];
    this.#bytes = 0;
    this.#push(
      enc.encode(
        sseEvent(JSON.stringify({ type: "close", code, reason }), 0, ""),
      ),
    );
    this.#timer = setTimeout(() => {
      if (this.#state !== "closing") return;
      this.#finish();
      this.#controller.error(
        new SseAbort(`SSE reader did not take its close (${code}) in time`),
      );
    }, this.#options.closeGraceMs ?? SSE_CLOSE_GRACE_MS);
  }

  #push(bytes: Uint8Array): void {
    this.#pending.push(bytes);
    this.#bytes += bytes.length;
    if (this.#wanted) {
      this.#wanted = false;
      this.#hand(this.#controller);
    }
  }

  /** The stream starts (`starting`: only take its controller) or asks for more. */
  #pull(
    c: ReadableStreamDefaultController<Uint8Array>,
    starting = false,
  ): void {
    this.#controller = c;
    if (starting || this.#state === "done") return;
    if (this.#pending.length > 0) return this.#hand(c);
    if (this.#state === "closing") {
      this.#finish();
      c.close();
      return;
    }
    // Nothing to hand now: the next event goes straight to the stream (the
    // stream asks again only after a chunk was taken).
    this.#wanted = true;
  }

  /** Hands what is pending (up to {@link PULL_MAX_BYTES}) to the HTTP layer as one chunk. */
  #hand(c: ReadableStreamDefaultController<Uint8Array>): void {
    const pending = this.#pending;
    let n = 0;
    let size = 0;
    while (
      n < pending.length &&
      (n === 0 || size + pending[n]!.length <= PULL_MAX_BYTES)
    ) {
      size += pending[n++]!.length;
    }
    let chunk: Uint8Array;
    if (n === 1) chunk = pending[0]!;
    else {
      chunk = new Uint8Array(size);
      let at = 0;
      for (let i = 0; i < n; i++) {
        chunk.set(pending[i]!, at);
        at += pending[i]!.length;
      }
    }
    pending.splice(0, n);
    this.#bytes -= size;
    c.enqueue(chunk);
  }

  #finish(): void {
    this.#state = "done";
    clearTimeout(this.#timer);
    this.#pending = [];
    this.#bytes = 0;
    this.#wanted = false;
  }

  #gone(): void {
    if (this.#state === "done") return;
    this.#finish();
    this.#options.onPeerGone();
  }
}
