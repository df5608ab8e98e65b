/**
 * `FanoutClient`: a subscriber that holds its position `(epoch, seq)` and
 * keeps it across reconnects. Runs on any browser-style `WebSocket`: in
 * browsers, Deno, Node ≥ 22 (Node 20: `--experimental-websocket`), or one
 * passed in.
 *
 * @module
 */
import { encodeAck } from "../lib/protocol.ts";
import {
  Attempt,
  CONNECT_TIMEOUT_MS,
  type WebSocketConstructor,
  type WebSocketLike,
} from "./attempt.ts";
import { Backoff } from "./backoff.ts";
import { classifyClose } from "./close_reason.ts";
import { Emitter, type Unsubscribe } from "./emitter.ts";
import { applyLadderFrame, newLadderStats } from "./ladder_events.ts";
import {
  type FanoutMessage,
  type StreamPosition,
  StreamState,
} from "./stream_state.ts";

import type {
  FanoutClientOptions,
  FanoutClientState,
  FanoutClientStats,
  FanoutCloseEvent,
  FanoutEvents,
} from "./client_types.ts";
import { randomId, redactToken, spread } from "./client_util.ts";

export type { WebSocketConstructor, WebSocketLike };
export type {
  DroppedEvent,
  FanoutClientOptions,
  FanoutClientState,
  FanoutClientStats,
  FanoutCloseEvent,
  FanoutEvents,
  GapEvent,
  LastCloseEvent,
  PositionEvent,
  ResetEvent,
} from "./client_types.ts";

/**
 * A fanout subscriber with resume. Call {@link start}; it connects with
 * control frames on, delivers each message once and in order, and after a
 * close that allows it reconnects with backoff and `?since=&epoch=`, so
 * nothing is lost or repeated while the server's history covers the gap.
 * What it cannot recover it says: `gap`, `dropped`, `reset`. A terminal
 * close (4100–4199, 1009; see `docs/PROTOCOL.md`) stops it.
 *
 * @example
 * ```ts ignore
 * import { FanoutClient } from "./mod.ts";
 * const client = new FanoutClient("ws://localhost:8765/", { channel: "prices" });
 * client.on("message", (m) => console.log(m.seq, m.data));
 * client.on("reset", () => console.log("stream restarted: reload state"));
 * client.on("close", (e) => { if (!e.willReconnect) console.log("stopped:", e.code, e.reason); });
 * client.start();
 * ```
 */
export class FanoutClient {
  /** What was counted so far. */
  readonly stats: FanoutClientStats = {
    messages: 0,
    frames: 0,
    connects: 0,
    duplicates: 0,
    missed: 0,
    ...newLadderStats(),
  };
  readonly #events = new Emitter<FanoutEvents>();
  readonly #base: URL;
  readonly #stream: StreamState;
  readonly #backoff: Backoff;
  readonly #options: FanoutClientOptions;
  readonly #WebSocket: WebSocketConstructor;
  readonly #random: () => number;
  // Not Promise.withResolvers(): Node 20 does not have it.
  readonly #closed: Promise<FanoutCloseEvent>;
  #resolveClosed!: (event: FanoutCloseEvent) => void;
  #state: FanoutClientState = "idle";
  #attempt: Attempt | undefined;
  #timer: ReturnType<typeof setTimeout> | undefined;
  #stopped = false;
  #attempts = 0;
  /** Whether the current connection has had a frame (a real session, not a refusal). */
  #served = false;
  /** Whether the last close was a credential refusal, so a fresh token is being tried. */
  #refreshing = false;

  /**
   * @param url the server: `ws://host:port/` (`wss:`, `http:`, `https:` work
   *   too; in a browser a relative URL such as `/` is resolved against the page)
   * @param options channel, token, batches, ACKs, resume, backoff, WebSocket
   * @throws {TypeError} when `url` is not a URL, or there is no WebSocket
   *   (Node 20: run with `--experimental-websocket`, or pass `options.WebSocket`)
   */
  constructor(url: string | URL, options: FanoutClientOptions = {}) {
    const page = (globalThis as { location?: { href: string } }).location;
    this.#base = new URL(url, page?.href);
    this.#closed = new Promise((resolve) => this.#resolveClosed = resolve);
    this.#options = options;
    this.clientId = options.clientId ?? randomId();
    this.#stream = new StreamState({
      ...(options.channel === undefined ? {} : { channel: options.channel }),
      position: options.position,
    });
    this.#backoff = new Backoff({ jitter: 0.5, ...options.backoff });
    this.#random = options.backoff?.random ?? Math.random;
    const ws = options.WebSocket ??
      (globalThis as { WebSocket?: WebSocketConstructor }).WebSocket;
    if (!ws) {
      throw new TypeError(
        "no WebSocket in this runtime: on Node 20 run with --experimental-websocket (Node 22 has it), or pass options.WebSocket",
      );
    }
    this.#WebSocket = ws;
  }

  /** This client's id (`options.clientId`, or a random one), sent as `?client=`. */
  readonly clientId: string;

  /** The channel subscribed to. */
  get channel(): string {
    return this.#stream.channel;
  }

  /** The position held: save it to resume later with `options.position`. */
  get position(): StreamPosition | undefined {
    return this.#stream.position;
  }

  /** What the client is doing now. */
  get state(): FanoutClientState {
    return this.#state;
  }

  /** Resolves once the client has stopped for good: {@link close}, a terminal close, or `reconnect: false`. */
  get closed(): Promise<FanoutCloseEvent> {
    return this.#closed;
  }

  /**
   * Adds a listener.
   * @returns a function that removes it
   */
  on<K extends keyof FanoutEvents>(
    type: K,
    listener: (event: FanoutEvents[K]) => void,
  ): Unsubscribe {
    return this.#events.on(type, listener);
  }

  /** Removes a listener. */
  off<K extends keyof FanoutEvents>(
    type: K,
    listener: (event: FanoutEvents[K]) => void,
  ): void {
    this.#events.off(type, listener);
  }

  /**
   * Connects (once; later calls do nothing).
   * @returns this client
   */
  start(): this {
    if (this.#state === "idle") void this.#connect();
    return this;
  }

  /**
   * Stops at once: closes the connection (1000), never reconnects, and
   * emits no event after this call but the one final `close` (emitted
   * before it returns); `closed` resolves with it.
   */
  close(reason = "client closing"): void {
    if (this.#stopped || this.#state === "closed") return;
    this.#stopped = true;
    clearTimeout(this.#timer);
    this.#attempt?.stop(1000, reason);
    this.#attempt = undefined;
    this.#finish({
      ...classifyClose(1000, reason),
      willReconnect: false,
      retryInMs: undefined,
    });
  }

  async #connect(): Promise<void> {
    this.#timer = undefined;
    this.#state = "connecting";
    this.#attempts++;
    const o = this.#options;
    let token = o.token;
    if (o.getToken) {
      try {
        token = await o.getToken();
      } catch (err) {
        if (this.#stopped) return;
        this.#ended(undefined, 1006, `getToken failed: ${String(err)}`);
        return;
      }
      if (this.#stopped) return;
    }
    const url = this.#stream.connectUrl(this.#base, {
      control: true,
      resume: o.resume ?? true,
      batch: o.batch ?? "auto",
      token,
    });
    const wire = new URL(url);
    wire.searchParams.set("refusal", "close");
    wire.searchParams.set("client", this.clientId);
    const attempt = this.#attempts;
    this.#served = false;
    const shown = redactToken(url);
    let current: Attempt | undefined = undefined;
    current = new Attempt(this.#WebSocket, wire.href, {
      // Open once the server's first frame says it is a session: a refusal
      // sent as a close (`?refusal=close`) opens the socket too.
      onOpen: () => {},
      onMessage: (data) => {
        if (!current) return;
        if (!this.#served) {
          this.#served = true;
          this.#refreshing = false;
          this.#backoff.reset();
          this.#state = "open";
          this.stats.connects++;
          this.#stream.opened();
          this.#events.emit("open", { url: shown, attempt });
          if (this.#attempt !== current) return;
        }
        this.#frame(current, data);
      },
      onEnd: (code, reason) => this.#ended(current, code, reason),
    }, { connectTimeoutMs: o.connectTimeoutMs ?? CONNECT_TIMEOUT_MS });
    // The constructor may already have ended it (a URL the runtime refused).
    if (!current.ended) this.#attempt = current;
  }

  #frame(attempt: Attempt, data: unknown): void {
    if (typeof data !== "string") {
      this.#events.emit("error", { error: "binary frame: not this protocol" });
      return;
    }
    this.stats.frames++;
    const got = this.#stream.receive(data);
    if (got.kind === "bad") {
      this.#events.emit("error", { error: got.error });
      return;
    }
    if (got.kind === "control") {
      const frame = got.frame;
      if (applyLadderFrame(frame, this.stats)) {
        this.#events.emit(frame.type, frame as never);
        if (frame.type === "lag") this.#events.emit("stats", this.stats);
        return;
      }
      if (
        frame.type === "position" || frame.type === "gap" ||
        frame.type === "reset" || frame.type === "dropped" ||
        frame.type === "last_close"
      ) {
        this.#events.emit(frame.type, frame as never);
      }
      return;
    }
    let last: FanoutMessage | undefined;
    for (const { message, missed, repeat } of got.deliveries) {
      // close() from a message handler: the rest of an array is not
      // delivered, and the position stays at the last message that was.
      if (this.#attempt !== attempt) {
        if (repeat) continue; // the position never moved for it
        const seq = message.seq - missed - 1;
        this.#stream.rewindTo(
          seq,
          last?.seq === seq ? last.ts_send : undefined,
        );
        break;
      }
      if (repeat) {
        this.stats.duplicates++;
        continue;
      }
      this.stats.missed += missed;
      this.stats.messages++;
      last = message;
      this.#events.emit("message", message);
    }
    if (last && this.#options.ack && this.#attempt === attempt) {
      attempt.send(encodeAck(last.ts_send, last.seq));
    }
  }

  #ended(attempt: Attempt | undefined, code: number, reason: string) {
    if (this.#stopped || attempt !== this.#attempt) return;
    this.#attempt = undefined;
    const info = classifyClose(code, reason);
    // A credential refused (401, or a JWT that expired) with a way to get a
    // fresh one: one more try with it.
    const credential = info.status === 401 || info.key === "token_expired";
    const refresh = credential && this.#options.getToken !== undefined &&
      !this.#refreshing;
    this.#refreshing = refresh;
    if ((!info.reconnect && !refresh) || this.#options.reconnect === false) {
      this.#finish({ ...info, willReconnect: false, retryInMs: undefined });
      return;
    }
    const delay = info.hintMs === undefined
      ? this.#backoff.next()
      : spread(info.hintMs, this.#random);
    this.#state = "waiting";
    this.#timer = setTimeout(() => void this.#connect(), delay);
    this.#events.emit("close", {
      ...info,
      willReconnect: true,
      retryInMs: delay,
    });
  }

  #finish(event: FanoutCloseEvent): void {
    this.#stopped = true;
    this.#state = "closed";
    this.#events.emit("close", event);
    this.#resolveClosed(event);
  }
}
