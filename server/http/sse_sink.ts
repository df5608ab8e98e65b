/**
 * The {@link Sink} of a Server-Sent Events subscriber: the session's frames
 * become SSE events on the response body stream. Data frames carry
 * `id: <epoch>:<seq>:<ts_send>` (what `Last-Event-ID` resumes from), made of
 * the seq and epoch the session hands over with each frame and the frame's
 * own `ts_send` (`sse_event.ts`); control frames go as named events (`event: position`, `gap`,
 * `reset`, `dropped`), and the end is an `event: close` with the close code
 * and reason. A close that invites a reconnect (1001, 1012, 4000–4099) says
 * when to come back, in both ways a reader can hear it: a `retry:` field
 * (EventSource waits that long before it reconnects) and `retry_in_ms` in
 * the close event, with the reason ending `; retry_in_ms=N` as a WebSocket
 * close reason does — the same spread hint from the node's pacer.
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
import type { ReconnectPacer } from "./reconnect_pacer.ts";
import { closeEvent } from "./sse_close.ts";
import { retryLine, SseEncoder } from "./sse_event.ts";

/** How long a closing stream may take to hand over its `close` event before it is aborted, ms. */
export const SSE_CLOSE_GRACE_MS = 2_000;
/** Most bytes handed to the HTTP layer in one pull. */
const PULL_MAX_BYTES = 256 * 1024;

const enc = new TextEncoder();

/** The error an SSE response is aborted with when its reader did not take its close in time. */
export class SseAbort extends Error {
  /** @param message why the stream was aborted */
  constructor(message: string) {
    super(message);
    this.name = "SseAbort";
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
  /** Hands out the retry hint of a close that invites a reconnect. @default no hints */
  readonly pacer?: ReconnectPacer | undefined;
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
    this.#push(enc.encode(closeEvent(code, reason, this.#options.pacer)));
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
