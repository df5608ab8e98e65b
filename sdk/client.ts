/**
 * `FanoutClient`: a subscriber that holds its position `(epoch, seq)` and
 * keeps it across reconnects. Runs on any browser-style `WebSocket`: in
 * browsers, Deno, Node ≥ 22 (Node 20: `--experimental-websocket`), or one
 * passed in.
 *
 * @module
 */
import { type ControlFrame, encodeAck } from "../lib/protocol.ts";
import { Backoff, type BackoffOptions } from "./backoff.ts";
import { classifyClose, type CloseInfo } from "./close_reason.ts";
import { Emitter, type Unsubscribe } from "./emitter.ts";
import {
  applyLadderFrame,
  type ExpiredEvent,
  type LadderStats,
  type LagEvent,
  newLadderStats,
  type TierEvent,
} from "./ladder_events.ts";
import {
  type FanoutMessage,
  type StreamPosition,
  StreamState,
} from "./stream_state.ts";

/** The part of a browser-style `WebSocket` the client uses. */
export interface WebSocketLike {
  /** Sends a text frame. */
  send(data: string): void;
  /** Starts the close handshake. */
  close(code?: number, reason?: string): void;
  /** Adds an event listener (`open`, `message`, `close`, `error`). */
  addEventListener(type: string, listener: (event: never) => void): void;
}

/** A `WebSocket` constructor (the global one, or e.g. the `ws` package's). */
export type WebSocketConstructor = new (url: string) => WebSocketLike;

/** The `position` notice: where the subscription stands, first of all frames. */
export type PositionEvent = Extract<ControlFrame, { type: "position" }>;
/** The `gap` notice: messages `from..to` could not be replayed. */
export type GapEvent = Extract<ControlFrame, { type: "gap" }>;
/** The `reset` notice: the stream started over (a new epoch) and continues after `last_seq`. */
export type ResetEvent = Extract<ControlFrame, { type: "reset" }>;
/** The `dropped` notice: the server dropped `count` messages for this slow client. */
export type DroppedEvent = Extract<ControlFrame, { type: "dropped" }>;

/** A connection ended. */
export interface FanoutCloseEvent extends CloseInfo {
  /** Whether the client will connect again (false: it has stopped for good). */
  readonly willReconnect: boolean;
  /** When it will, after how long, ms. */
  readonly retryInMs: number | undefined;
}

/** Every event a {@link FanoutClient} emits, by name. */
export interface FanoutEvents {
  /** A connection opened (`attempt` counts from 1). */
  open: { readonly url: string; readonly attempt: number };
  /** A message, in order, each once. */
  message: FanoutMessage;
  /** Where the subscription stands (every connection's first frame). */
  position: PositionEvent;
  /** A resume could not replay everything missed: `missed` messages are lost. */
  gap: GapEvent;
  /** The stream started over: refetch your state; messages continue after `last_seq`. */
  reset: ResetEvent;
  /** The server dropped messages because this client read too slowly. */
  dropped: DroppedEvent;
  /** The server moved this client to another tier (protocol 3, `--policy ladder`). */
  tier: TierEvent;
  /** How far behind this client is and what it lost, every `--lag-interval` (protocol 3). */
  lag: LagEvent;
  /** Messages outlived their time to live before their turn (protocol 3). */
  expired: ExpiredEvent;
  /** The client's statistics, after each `lag` frame brought news. */
  stats: Readonly<FanoutClientStats>;
  /** A connection ended; `willReconnect` says whether another follows. */
  close: FanoutCloseEvent;
  /** A frame the client could not read, or a connection that could not start. */
  error: { readonly error: string };
}

/** Options of {@link FanoutClient}. */
export interface FanoutClientOptions {
  /** The channel. @default "default" */
  readonly channel?: string;
  /** Subscriber token or JWT, sent as `?token=`. */
  readonly token?: string;
  /**
   * Accept live messages as arrays: `"auto"` (`?batch=auto`) only when
   * several waited for this client, no timer; `true` (`?batch=1`) on the
   * server's batch timer; `false` never. Messages still arrive one event
   * each. @default "auto"
   */
  readonly batch?: boolean | "auto";
  /** Send an ACK per frame (its last message) so the server measures end-to-end latency. @default false */
  readonly ack?: boolean;
  /** Resume from the position held on every reconnect. @default true */
  readonly resume?: boolean;
  /** Reconnect after a close that allows it. @default true */
  readonly reconnect?: boolean;
  /** A position saved earlier (e.g. from {@link FanoutClient.position}): the first connection resumes from it. */
  readonly position?: StreamPosition;
  /** Reconnect delays. @default 250 ms doubling to 5 s, up to half taken off at random */
  readonly backoff?: BackoffOptions;
  /** The WebSocket implementation. @default globalThis.WebSocket */
  readonly WebSocket?: WebSocketConstructor;
}

/** What a {@link FanoutClient} counted (and, from protocol 3, what the server said of it). */
export interface FanoutClientStats extends LadderStats {
  /** Messages delivered to the application. */
  messages: number;
  /** Text frames received (a `?batch=1` frame holds several messages). */
  frames: number;
  /** Connections opened. */
  connects: number;
  /** Messages received again and not delivered (at or below the position held). */
  duplicates: number;
  /** Seqs skipped between consecutive messages (each announced by `gap` or `dropped`, or a reset). */
  missed: number;
}

/** What a client is doing. */
export type FanoutClientState =
  | "idle"
  | "connecting"
  | "open"
  | "waiting"
  | "closed";

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
  // Not Promise.withResolvers(): Node 20 does not have it.
  readonly #closed: Promise<FanoutCloseEvent>;
  #resolveClosed!: (event: FanoutCloseEvent) => void;
  #state: FanoutClientState = "idle";
  #socket: WebSocketLike | undefined;
  #timer: ReturnType<typeof setTimeout> | undefined;
  #stopping = false;
  #stopReason = "";
  #attempts = 0;

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
    this.#stream = new StreamState({
      ...(options.channel === undefined ? {} : { channel: options.channel }),
      position: options.position,
    });
    this.#backoff = new Backoff({ jitter: 0.5, ...options.backoff });
    const ws = options.WebSocket ??
      (globalThis as { WebSocket?: WebSocketConstructor }).WebSocket;
    if (!ws) {
      throw new TypeError(
        "no WebSocket in this runtime: on Node 20 run with --experimental-websocket (Node 22 has it), or pass options.WebSocket",
      );
    }
    this.#WebSocket = ws;
  }

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
    if (this.#state === "idle") this.#connect();
    return this;
  }

  /**
   * Stops: closes the connection (1000) and never reconnects; `closed`
   * resolves once the connection has ended.
   */
  close(reason = "client closing"): void {
    if (this.#stopping || this.#state === "closed") return;
    this.#stopping = true;
    this.#stopReason = reason;
    clearTimeout(this.#timer);
    const socket = this.#socket;
    if (socket) {
      try {
        socket.close(1000, reason);
        return;
      } catch { /* already closing: end here */ }
    }
    this.#finish({
      ...classifyClose(1000, reason),
      willReconnect: false,
      retryInMs: undefined,
    });
  }

  #connect(): void {
    this.#timer = undefined;
    this.#state = "connecting";
    this.#attempts++;
    const o = this.#options;
    const url = this.#stream.connectUrl(this.#base, {
      control: true,
      resume: o.resume ?? true,
      batch: o.batch ?? "auto",
      token: o.token,
    });
    let socket: WebSocketLike;
    try {
      socket = new this.#WebSocket(url);
    } catch (err) {
      this.#events.emit("error", { error: String(err) });
      this.#ended(undefined, 1006, String(err));
      return;
    }
    this.#socket = socket;
    const attempt = this.#attempts;
    socket.addEventListener("open", () => {
      if (this.#socket !== socket) return;
      this.#state = "open";
      this.stats.connects++;
      this.#backoff.reset();
      this.#stream.opened();
      this.#events.emit("open", { url, attempt });
    });
    socket.addEventListener("message", (e: MessageEvent) => {
      if (this.#socket === socket) this.#frame(socket, e.data);
    });
    socket.addEventListener("close", (e: CloseEvent) => {
      this.#ended(socket, e.code, e.reason);
    });
    // An error is always followed by close, which says what to do.
    socket.addEventListener("error", () => {});
  }

  #frame(socket: WebSocketLike, data: unknown): void {
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
        frame.type === "reset" || frame.type === "dropped"
      ) {
        this.#events.emit(frame.type, frame as never);
      }
      return;
    }
    let last: FanoutMessage | undefined;
    for (const { message, missed, repeat } of got.deliveries) {
      // close() from a message handler: the rest of an array is not
      // delivered, and the position stays at the last message that was.
      if (this.#stopping) {
        if (repeat) continue; // the position never moved for it
        this.#stream.rewindTo(message.seq - missed - 1);
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
    if (last && this.#options.ack && this.#socket === socket) {
      try {
        socket.send(encodeAck(last.ts_send, last.seq));
      } catch { /* closing: the ACK is optional */ }
    }
  }

  #ended(socket: WebSocketLike | undefined, code: number, reason: string) {
    if (socket !== this.#socket) return;
    this.#socket = undefined;
    // Closed by close() before the handshake finished: runtimes report 0 or
    // 1006; what ended it is the 1000 the application asked for.
    const info = this.#stopping && code < 1000
      ? classifyClose(1000, this.#stopReason)
      : classifyClose(code, reason);
    if (
      this.#stopping || !info.reconnect || this.#options.reconnect === false
    ) {
      this.#finish({ ...info, willReconnect: false, retryInMs: undefined });
      return;
    }
    const delay = this.#backoff.next();
    this.#state = "waiting";
    this.#timer = setTimeout(() => this.#connect(), delay);
    this.#events.emit("close", {
      ...info,
      willReconnect: true,
      retryInMs: delay,
    });
  }

  #finish(event: FanoutCloseEvent): void {
    this.#state = "closed";
    this.#events.emit("close", event);
    this.#resolveClosed(event);
  }
}
