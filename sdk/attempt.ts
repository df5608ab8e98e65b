/**
 * One connection attempt over a browser-style `WebSocket`, made to end
 * exactly once whatever the runtime does: a `close` event, an `error`
 * before `open` with no `close` after it (Node 20's WebSocket, for a
 * refused connection), no answer within the connect deadline, or the
 * application's own stop. Every way ends in one `onEnd(code, reason)`.
 *
 * @module
 */

/** The part of a browser-style `WebSocket` the client uses. */
export interface WebSocketLike {
  /** Sends a text frame. */
  send(data: string): void;
  /** Starts the close handshake. */
  close(code?: number, reason?: string): void;
  /** Adds an event listener (`open`, `message`, `close`, `error`). */
  // deno-lint-ignore no-explicit-any
  addEventListener(type: string, listener: (event: any) => void): void;
}

/** A `WebSocket` constructor (the global one, or e.g. the `ws` package's). */
export type WebSocketConstructor = new (url: string) => WebSocketLike;

/** How long a connection may take to open before it counts as failed, ms. */
export const CONNECT_TIMEOUT_MS = 10_000;

/**
 * How long to wait for `close` after an `error`, ms: browsers and Deno send
 * both (and the close has the code); Node 20 sends only the error for a
 * connection that never opened.
 */
export const ERROR_GRACE_MS = 500;

/** What an attempt reports. */
export interface AttemptHandlers {
  /** The socket opened. */
  onOpen(): void;
  /** A text or binary frame arrived (never after the end). */
  onMessage(data: unknown): void;
  /** The attempt is over (called once): the close code and a reason (1006 and why, when the connection broke without one). */
  onEnd(code: number, reason: string): void;
}

/** Timings of an {@link Attempt}. */
export interface AttemptOptions {
  /** Connect deadline, ms. @default {@link CONNECT_TIMEOUT_MS} */
  readonly connectTimeoutMs?: number;
  /** Wait for `close` after `error`, ms. @default {@link ERROR_GRACE_MS} */
  readonly errorGraceMs?: number;
}

/**
 * A socket from construction to its one end. After the end (or
 * {@link stop}) no handler is called again, whatever the socket still
 * delivers.
 *
 * @example
 * ```ts
 * import { Attempt } from "./attempt.ts";
 * class Refused {
 *   constructor() { throw new Error("bad URL"); }
 * }
 * let ended = "";
 * new Attempt(Refused as never, "ws://x/", {
 *   onOpen() {}, onMessage() {}, onEnd: (code, reason) => ended = `${code} ${reason}`,
 * });
 * if (!ended.startsWith("1006 cannot connect: Error: bad URL")) throw new Error(ended);
 * ```
 */
export class Attempt {
  #socket: WebSocketLike | undefined;
  #handlers: AttemptHandlers | undefined;
  #opened = false;
  #timer: ReturnType<typeof setTimeout> | undefined;
  readonly #graceMs: number;

  /**
   * Opens a socket to `url` and starts the connect deadline.
   * @param WebSocket the constructor
   * @param url where to connect
   * @param handlers what to call
   * @param options the deadline and the error grace
   */
  constructor(
    WebSocket: WebSocketConstructor,
    url: string,
    handlers: AttemptHandlers,
    options: AttemptOptions = {},
  ) {
    this.#handlers = handlers;
    this.#graceMs = options.errorGraceMs ?? ERROR_GRACE_MS;
    let socket: WebSocketLike;
    try {
      socket = new WebSocket(url);
    } catch (err) {
      this.#end(1006, `cannot connect: ${String(err)}`);
      return;
    }
    this.#socket = socket;
    const timeoutMs = options.connectTimeoutMs ?? CONNECT_TIMEOUT_MS;
    this.#timer = setTimeout(() => {
      this.#abandon();
      this.#end(1006, `connect timeout: no answer within ${timeoutMs} ms`);
    }, timeoutMs);
    socket.addEventListener("open", () => {
      if (!this.#handlers) return;
      this.#opened = true;
      clearTimeout(this.#timer);
      this.#timer = undefined;
      this.#handlers.onOpen();
    });
    socket.addEventListener("message", (e: MessageEvent) => {
      this.#handlers?.onMessage(e.data);
    });
    socket.addEventListener("close", (e: CloseEvent) => {
      const code = e.code || 1006;
      let reason = e.reason;
      if (!reason && code === 1006) {
        reason = this.#opened
          ? "connection lost (no close frame)"
          : "connection failed before opening (refused, reset, DNS or TLS; a browser does not say which)";
      }
      this.#end(code, reason);
    });
    socket.addEventListener("error", () => {
      if (!this.#handlers) return;
      clearTimeout(this.#timer);
      this.#timer = setTimeout(() => {
        this.#abandon();
        this.#end(
          1006,
          this.#opened
            ? "connection lost (error, no close event)"
            : "connection failed before opening (refused, reset, DNS or TLS)",
        );
      }, this.#graceMs);
    });
  }

  /** Whether the socket opened. */
  get opened(): boolean {
    return this.#opened;
  }

  /** Whether the attempt is over. */
  get ended(): boolean {
    return this.#handlers === undefined;
  }

  /**
   * Sends a frame; false when it could not (ended, or the socket is closing).
   */
  send(data: string): boolean {
    if (!this.#handlers || !this.#socket) return false;
    try {
      this.#socket.send(data);
      return true;
    } catch {
      return false;
    }
  }

  /**
   * Ends the attempt now without calling `onEnd`: closes the socket with
   * `code` and `reason`, and nothing it delivers later reaches a handler.
   */
  stop(code = 1000, reason = ""): void {
    this.#handlers = undefined;
    clearTimeout(this.#timer);
    this.#timer = undefined;
    this.#abandon(code, reason);
  }

  #abandon(code = 1000, reason = ""): void {
    const socket = this.#socket;
    this.#socket = undefined;
    try {
      socket?.close(code, reason);
    } catch { /* never opened, or closing already */ }
  }

  #end(code: number, reason: string): void {
    const handlers = this.#handlers;
    if (!handlers) return;
    this.#handlers = undefined;
    clearTimeout(this.#timer);
    this.#timer = undefined;
    this.#socket = undefined;
    handlers.onEnd(code, reason);
  }
}
