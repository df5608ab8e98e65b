/**
 * `FanoutClient`: a subscriber that holds its position `(epoch, seq)` and
 * keeps it across reconnects. Runs on any browser-style `WebSocket`: in
 * browsers, Deno, Node ≥ 22 (Node 20: `--experimental-websocket`), or one
 * passed in.
 *
 * @module
 */
import { type ControlFrame, encodeAck } from "../lib/protocol.ts";
import {
  Attempt,
  CONNECT_TIMEOUT_MS,
  type WebSocketConstructor,
  type WebSocketLike,
} from "./attempt.ts";
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

export type { WebSocketConstructor, WebSocketLike };

/** The `position` notice: where the subscription stands, first of all frames. */
export type PositionEvent = Extract<ControlFrame, { type: "position" }>;
/** The `gap` notice: messages `from..to` could not be replayed. */
export type GapEvent = Extract<ControlFrame, { type: "gap" }>;
/** The `reset` notice: the stream started over (a new epoch) and continues after `last_seq`. */
export type ResetEvent = Extract<ControlFrame, { type: "reset" }>;
/** The `dropped` notice: the server dropped `count` messages for this slow client. */
export type DroppedEvent = Extract<ControlFrame, { type: "dropped" }>;
/** The `last_close` notice: why the server ended this client's previous connection. */
export type LastCloseEvent = Extract<ControlFrame, { type: "last_close" }>;

/** A connection ended. */
export interface FanoutCloseEvent extends CloseInfo {
  /** Whether the client will connect again (false: it has stopped for good). */
  readonly willReconnect: boolean;
  /** When it will, after how long, ms. */
  readonly retryInMs: number | undefined;
}

/** Every event a {@link FanoutClient} emits, by name. */
export interface FanoutEvents {
  /** A connection opened: the server's first frame came (`attempt` counts from 1; `url` has any token as `***`). */
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
  /** Why the server ended this client's previous connection (told on the next one: a cut whose close frame was lost shows here). */
  last_close: LastCloseEvent;
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
   * Called before every connection attempt for the token to send (it wins
   * over `token`): refresh an expiring JWT here. After a 4401 or 4103
   * (`token_expired`) close the client reconnects once with the token this
   * returns, and stops if that is refused too. A throw or rejection fails
   * the attempt (a `close` with code 1006 and the error), retried with backoff.
   */
  readonly getToken?: () => string | Promise<string>;
  /**
   * This client's id, sent as `?client=`: the server tells the next
   * connection with the same id why it ended the previous one
   * (`last_close`). Keep it (e.g. in `sessionStorage`) to be told across
   * page loads. @default a random id per FanoutClient
   */
  readonly clientId?: string;
  /** How long a connection may take to open, ms; then the attempt fails with a `close` (1006, "connect timeout …"). @default 10000 */
  readonly connectTimeoutMs?: number;
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

/**
 * The delay for a server's `retry_in_ms` hint: the hint plus up to a
 * quarter more at random (at most 2 s more), so clients the server gave the
 * same hint still spread.
 */
function spread(hintMs: number, random: () => number): number {
  return Math.round(hintMs + Math.min(hintMs / 4, 2_000) * random());
}

/** `url` with the value of `token=` replaced by `***`, for events and logs. */
function redactToken(url: string): string {
  const u = new URL(url);
  if (u.searchParams.has("token")) u.searchParams.set("token", "***");
  return u.href;
}

/** A random client id: 18 URL-safe characters (96 random bits and 4 more). */
function randomId(): string {
  const c = (globalThis as { crypto?: Crypto }).crypto;
  const bytes = new Uint8Array(16);
  if (c?.getRandomValues) c.getRandomValues(bytes);
  else for (let i = 0; i < 16; i++) bytes[i] = Math.floor(Math.random() * 256);
  const alphabet =
    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
  let id = "";
  for (const b of bytes) id += alphabet[b & 63];
  return id + alphabet[bytes[0]! >> 6]! + alphabet[bytes[1]! >> 6]!;
}
