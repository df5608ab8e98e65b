/**
 * Types of sdk/fanout_client.js, the bundled fanout client SDK. Generated
 * by `deno task sdk:types` from sdk/mod.ts: do not edit.
 *
 * @module
 */
// ---- lib/close_codes.d.ts
/**
 * The one table of reasons a subscriber's connection ends, with WebSocket
 * close codes. Codes 4000–4999 are ours (RFC 6455 §7.4.2), split in two
 * ranges so a client can act on the code alone:
 *
 * - 4000–4099 **reconnect**: the client was too slow (or stopped reading) and
 *   may come back, resuming with `?since=` when it is ready again;
 * - 4100–4199 **terminal**: the client broke a rule (malformed frames, a
 *   flood, a capacity limit); reconnecting unchanged would fail again.
 *
 * The same key is the metric label for disconnects.
 *
 * @module
 */
/** The window over which a client's drops are counted against `--drop-limit`, ms. */
declare const DROP_WINDOW_MS = 10000;
/** One row of the close-code table. */
export interface CloseCodeEntry {
    /** WebSocket close code sent to the client. */
    readonly code: number;
    /** Whether a client closed with this code should reconnect (and resume). */
    readonly reconnect: boolean;
    /** What the code means, for documentation and `--help`. */
    readonly meaning: string;
}
/**
 * Close codes, ordered by code. `client_closed` is the peer's own close (or
 * a broken connection, with the code the runtime reported).
 */
export declare const CLOSE_CODES: {
    readonly client_closed: {
        readonly code: 1000;
        readonly reconnect: false;
        readonly meaning: "the client closed the connection";
    };
    readonly shutdown: {
        readonly code: 1001;
        readonly reconnect: true;
        readonly meaning: "the server is shutting down; reconnect (to another node)";
    };
    readonly ws_protocol_error: {
        readonly code: 1002;
        readonly reconnect: false;
        readonly meaning: "the client broke the WebSocket protocol (invalid UTF-8, reserved bits, a bad opcode, …); the runtime dropped the connection";
    };
    readonly connection_lost: {
        readonly code: 1006;
        readonly reconnect: true;
        readonly meaning: "the connection ended without a close frame (the client vanished, or its network did); never sent, only recorded";
    };
    readonly message_too_big: {
        readonly code: 1009;
        readonly reconnect: false;
        readonly meaning: "a client frame exceeded --max-frame-bytes, or was binary (the protocol has none)";
    };
    readonly drain: {
        readonly code: 1012;
        readonly reconnect: true;
        readonly meaning: "the server is draining (a restart or deploy): reconnect after the retry hint, to another node";
    };
    readonly slow_drops: {
        readonly code: 4000;
        readonly reconnect: true;
        readonly meaning: "too many messages dropped for this client within 10 s (--drop-limit)";
    };
    readonly slow_full: {
        readonly code: 4001;
        readonly reconnect: true;
        readonly meaning: "this client's queue stayed full longer than --full-timeout";
    };
    readonly ping_timeout: {
        readonly code: 4002;
        readonly reconnect: true;
        readonly meaning: "the client stopped reading or answering pings (--ping-interval + --ping-timeout)";
    };
    readonly slow_overflow: {
        readonly code: 4004;
        readonly reconnect: true;
        readonly meaning: "this client's queue overflowed under --policy disconnect";
    };
    readonly slow_lag: {
        readonly code: 4006;
        readonly reconnect: true;
        readonly meaning: "the client fell further behind than --max-lag (the oldest message it had not taken)";
    };
    readonly protocol_error: {
        readonly code: 4100;
        readonly reconnect: false;
        readonly meaning: "too many malformed frames from the client";
    };
    readonly flood: {
        readonly code: 4101;
        readonly reconnect: false;
        readonly meaning: "the client sent frames faster than --max-inbound-rate, even after throttling";
    };
    readonly channel_limit: {
        readonly code: 4102;
        readonly reconnect: false;
        readonly meaning: "the channel could not be opened: --max-channels reached";
    };
    readonly token_expired: {
        readonly code: 4103;
        readonly reconnect: false;
        readonly meaning: "the client's credentials expired (its JWT's exp); reconnect with a fresh token";
    };
};
/** Why a session ended; the key of a {@link CLOSE_CODES} row and the metric label. */
export type DisconnectReason = keyof typeof CLOSE_CODES;
/** Every reason, in code order (for metrics and documentation). */
declare const DISCONNECT_REASONS: readonly DisconnectReason[];
/** Longest close reason allowed by RFC 6455 (125 bytes minus the 2-byte code). */
declare const MAX_CLOSE_REASON_BYTES = 123;
/**
 * Truncates `reason` to fit a close frame.
 * @returns `reason`, cut to at most {@link MAX_CLOSE_REASON_BYTES} bytes
 * @example
 * ```ts
 * import { fitCloseReason, MAX_CLOSE_REASON_BYTES } from "./close_codes.ts";
 * const cut = fitCloseReason("é".repeat(100)); // 200 bytes
 * if (new TextEncoder().encode(cut).length > MAX_CLOSE_REASON_BYTES) throw new Error();
 * ```
 */
declare function fitCloseReason(reason: string): string;

// ---- lib/protocol.d.ts
/**
 * The protocol's version, as `docs/PROTOCOL.md` states it: 1 was the seed's
 * data frames and ACK; 2 added channels, user data, control frames,
 * positions `(epoch, seq)` with resume, `?batch=1` arrays, SSE and the
 * two-range close codes; 3 added the ladder (`--policy ladder`): `tier`
 * frames and `?batch=auto`.
 */
export declare const PROTOCOL_VERSION = 3;
/** A data frame as the server sends it. */
interface DataFrame {
    /** Sequence number, +1 per published message, starting at 1. */
    readonly seq: number;
    /** Publish time, float epoch seconds. */
    readonly ts_send: number;
    /** Base64 of the payload bytes (synthetic source; `""` for user messages). */
    readonly payload_b64: string;
    /** Channel name, when the frame names one (user messages outside `default`). */
    readonly channel?: string;
    /** A user's message (stdin or HTTP source), as the JSON value it was published as. */
    readonly data?: unknown;
}
/** Extra fields of a data frame carrying a user's message. */
interface DataExtras {
    /** Channel name (absent for the default channel of the synthetic source). */
    readonly channel?: string;
    /** The message itself as JSON text (an object, array, number, or string). */
    readonly dataJson?: string;
}
/**
 * Out-of-band notices from server to client. They never sit behind data that
 * may be dropped: a client's writer sends them before its next data frame.
 */
export type ControlFrame = {
    /** Messages were dropped for this client since the last notice. */
    readonly type: "dropped";
    readonly channel: string;
    readonly count: number;
} | {
    /** `?since=` asked for messages older than the history holds. */
    readonly type: "gap";
    readonly channel: string;
    /** First seq that cannot be replayed. */
    readonly from: number;
    /** Last seq that cannot be replayed. */
    readonly to: number;
    readonly missed: number;
} | {
    /**
     * The stream the client resumed in is not this one (its `?epoch=` is not
     * the channel's, or its `?since=` is ahead: the numbering started over),
     * or the stream started over while the client was subscribed. What
     * follows is the stream of `epoch`, from after `last_seq`.
     */
    readonly type: "reset";
    readonly channel: string;
    /** The channel's epoch now. */
    readonly epoch: string;
    /** The channel's current last seq (named so that no control frame has a `seq`). */
    readonly last_seq: number;
} | {
    /**
     * Where this subscription stands, first of all frames: the live stream
     * (after any replay) continues after `last_seq` of `epoch`. Resume later
     * with `?since=<last seq received>&epoch=<epoch>`.
     */
    readonly type: "position";
    readonly channel: string;
    readonly epoch: string;
    /** Last seq before the live stream (the replay, if any, ends here). */
    readonly last_seq: number;
} | {
    /**
     * Why this client's previous connection ended, when the server ended it
     * (`?client=<id>` names the client): a cut whose close frame never
     * reached it (a browser sees 1006) is explained on its next connection.
     * Sent once, right after `position`.
     */
    readonly type: "last_close";
    readonly channel: string;
    /** The close code the server sent. */
    readonly code: number;
    /** The close reason the server sent. */
    readonly reason: string;
    /** When, epoch ms. */
    readonly at: number;
} | {
    /**
     * The client's tier changed (`--policy ladder`, version 3): `full` →
     * `coalesced` → `conflated` → `dropping`, down when it fell behind, up
     * when it kept up.
     */
    readonly type: "tier";
    readonly channel: string;
    /** The tier now. */
    readonly tier: "full" | "coalesced" | "conflated" | "dropping";
    /** The tier before. */
    readonly from: "full" | "coalesced" | "conflated" | "dropping";
    /** Why: `behind`, `queue_full`, `overload` (the server's, not the client's) or `kept_up`. */
    readonly reason: "behind" | "queue_full" | "overload" | "kept_up";
    /** Messages waiting for the client when it changed. */
    readonly queued: number;
    /** Age of the oldest message waiting, ms. */
    readonly lag_ms: number;
} | {
    /**
     * Messages whose time to live ran out before their turn were not sent
     * (version 3): `count` since the previous notice.
     */
    readonly type: "expired";
    readonly channel: string;
    readonly count: number;
} | {
    /**
     * Where the client stands, every `--lag-interval` (version 3), also on
     * a quiet channel: how far behind it is and what it lost, by reason,
     * since the previous `lag` frame.
     */
    readonly type: "lag";
    readonly channel: string;
    /** Messages waiting for it on the server. */
    readonly queued: number;
    /** Age of the oldest of them, ms (0: up to date). */
    readonly lag_ms: number;
    /** Its tier (`--policy ladder`; `full` under other policies). */
    readonly tier: "full" | "coalesced" | "conflated" | "dropping";
    /** Dropped since the previous `lag` frame. */
    readonly dropped: number;
    /** Not sent for their time to live since the previous `lag` frame. */
    readonly expired: number;
    /** Replaced by a newer value of their key since the previous `lag` frame. */
    readonly superseded: number;
};
/** An acknowledgement a client sends for a data frame. */
interface AckFrame {
    /** The `ts_send` of the frame acknowledged. */
    readonly ack_ts: number;
    /** The `seq` of the frame acknowledged. */
    readonly seq: number;
}
/** The channel a client gets when it names none. */
export declare const DEFAULT_CHANNEL = "default";
/** Channel names: 1–64 of letters, digits, `_`, `-`, `.`, `:` (nothing to escape, no paths). */
declare const CHANNEL_NAME: RegExp;
/**
 * Checks a channel name from a URL or a publish request.
 * @throws {TypeError} naming the rule when `name` is not a valid channel name
 */
declare function checkChannelName(name: string): string;
/**
 * Epochs: 1–64 of letters, digits, `_`, `-`, `.` (the memory broker makes 8
 * of base64url; a shared engine `<generation>.<8 of base64url>`).
 */
declare const EPOCH_NAME: RegExp;
/** Largest client frame the server accepts, bytes (UTF-8). An ACK is ~50 bytes. */
declare const MAX_CLIENT_FRAME_BYTES = 4096;
/**
 * Serialises a data frame. Called once per published message; every client
 * receives the same string.
 *
 * @example
 * ```ts
 * import { encodeData, decodeData } from "./protocol.ts";
 * const text = encodeData(7, 1700000000.25, "AAE=");
 * const frame = decodeData(text);
 * if (frame.seq !== 7 || frame.payload_b64 !== "AAE=") throw new Error();
 * ```
 */
declare function encodeData(seq: number, tsSend: number, payloadB64: string, extras?: DataExtras): string;
/** How every data frame starts: the seq follows, then {@link encodeDataRest}. */
declare const DATA_PREFIX = "{\"seq\":";
/**
 * A data frame without its head: everything after `{"seq":N`. A shared
 * engine stores and forwards this part and puts the seq it assigns in front
 * (`DATA_PREFIX + seq + rest`), so every node sends the same bytes.
 *
 * @example
 * ```ts
 * import { DATA_PREFIX, encodeData, encodeDataRest } from "./protocol.ts";
 * const rest = encodeDataRest(1.5, "", { channel: "x", dataJson: "[1]" });
 * if (DATA_PREFIX + 7 + rest !== encodeData(7, 1.5, "", { channel: "x", dataJson: "[1]" })) {
 *   throw new Error(rest);
 * }
 * ```
 */
declare function encodeDataRest(tsSend: number, payloadB64: string, extras?: DataExtras): string;
/** Serialises a control frame. */
declare function encodeControl(frame: ControlFrame): string;
/**
 * Tells a control frame from a data frame without throwing.
 * @returns the control frame, or undefined when `text` is not one
 */
declare function parseControl(text: string): ControlFrame | undefined;
/**
 * Parses a data frame received from a server.
 * @throws {TypeError} when `text` is not a JSON object with an integer `seq`
 *   and a numeric `ts_send`
 */
declare function decodeData(text: string): DataFrame;
/**
 * Parses a frame of data: one data frame, or (from a `?batch=1`
 * subscription) a JSON array of them, oldest first.
 * @throws {TypeError} when `text` is neither, or an element is not a data frame
 *
 * @example
 * ```ts
 * import { decodeDataFrames, encodeData } from "./protocol.ts";
 * const text = `[${encodeData(1, 1700000000, "")},${encodeData(2, 1700000000.01, "")}]`;
 * const frames = decodeDataFrames(text);
 * if (frames.length !== 2 || frames[1]!.seq !== 2) throw new Error();
 * ```
 */
declare function decodeDataFrames(text: string): DataFrame[];
/** Serialises an ACK for a received frame. */
export declare function encodeAck(ackTs: number, seq: number): string;
/**
 * Validates a frame a client sent to the server.
 * @param data the frame as the socket delivered it (text or binary)
 * @throws {TypeError} for binary frames, non-JSON text, or objects without a
 *   finite numeric `ack_ts` and an integer `seq`
 * @param maxBytes largest frame accepted, bytes
 * @throws {RangeError} for frames larger than `maxBytes`
 */
declare function decodeAck(data: unknown, maxBytes?: number): AckFrame;
/** Current time as float epoch seconds (sub-millisecond), the unit of `ts_send`. */
declare function epochSeconds(): number;
/**
 * The generation of an epoch named `<generation>.<name>` (a shared engine
 * raises it with every new numbering of a channel); 0 for an epoch without
 * one (older servers, the memory broker), which orders before any other.
 *
 * @example
 * ```ts
 * import { epochGeneration } from "./protocol.ts";
 * if (epochGeneration("12.AbCdEfGh") !== 12) throw new Error();
 * if (epochGeneration("AbCdEfGh") !== 0) throw new Error();
 * ```
 */
declare function epochGeneration(epoch: string): number;
/**
 * Whether `epoch` is an older numbering than `than` (a lower generation):
 * what arrives of it late is discarded, never followed. Two epochs of one
 * generation (or both without) are not ordered: neither is older.
 *
 * @example
 * ```ts
 * import { isOlderEpoch } from "./protocol.ts";
 * if (!isOlderEpoch("3.aaaaaaaa", "10.bbbbbbbb")) throw new Error();
 * if (isOlderEpoch("10.bbbbbbbb", "3.aaaaaaaa")) throw new Error();
 * if (isOlderEpoch("AbCdEfGh", "XyZwXyZw")) throw new Error();
 * ```
 */
declare function isOlderEpoch(epoch: string, than: string): boolean;

// ---- lib/retry_hint.d.ts
/**
 * How the server tells a client when to come back, in words any WebSocket
 * can carry: a `retry_in_ms=N` at the end of a close reason, and refusals
 * as close codes `4000 + HTTP status` (4401, 4403, 4429, 4503, …) for
 * clients that ask with `?refusal=close` — a browser's WebSocket hides an
 * upgrade's HTTP status and body, but shows a close frame's code and reason.
 * No Deno API: the SDK uses it in browsers.
 *
 * @module
 */
/** First close code of the refusal range (`4000 + status`, statuses 400–599). */
declare const REFUSAL_CODE_BASE = 4000;
/**
 * Appends `; retry_in_ms=N` to `reason`, shortening the reason (never the
 * hint) so that the whole fits a close frame.
 *
 * @param reason the close reason
 * @param retryInMs when to come back, ms (rounded, at least 0)
 * @returns the reason with the hint, at most 123 UTF-8 bytes
 * @example
 * ```ts
 * import { parseRetryHint, withRetryHint } from "./retry_hint.ts";
 * const r = withRetryHint("draining".repeat(30), 1500);
 * if (parseRetryHint(r) !== 1500) throw new Error(r);
 * if (new TextEncoder().encode(r).length > 123) throw new Error("too long");
 * ```
 */
export declare function withRetryHint(reason: string, retryInMs: number): string;
/**
 * Reads the hint {@link withRetryHint} wrote.
 * @returns the delay asked for, ms, or undefined when the reason has none
 */
export declare function parseRetryHint(reason: string): number | undefined;
/**
 * The close code a refusal of HTTP `status` is sent as (`?refusal=close`).
 * @example
 * ```ts
 * import { refusalCloseCode, refusalStatus } from "./retry_hint.ts";
 * if (refusalCloseCode(401) !== 4401) throw new Error();
 * if (refusalStatus(4503) !== 503 || refusalStatus(4002) !== undefined) throw new Error();
 * ```
 */
export declare function refusalCloseCode(status: number): number;
/** @returns the HTTP status a refusal close code stands for, or undefined for other codes */
export declare function refusalStatus(code: number): number | undefined;
/** Whether a refusal of `status` is final (400, 401, 403, 404) rather than "later" (429, 503, …). */
declare function isTerminalRefusal(status: number): boolean;

// ---- lib/utf8.d.ts
/**
 * UTF-8 sizes of strings without encoding them: limits stated in bytes
 * (`--max-frame-bytes`, `--max-queue-bytes`, `--max-message-bytes`) are
 * checked in bytes, not in UTF-16 units.
 *
 * @module
 */
/**
 * The number of bytes `text` takes in UTF-8 (a lone surrogate counts as the
 * 3 bytes of U+FFFD, as `TextEncoder` writes it).
 *
 * @example
 * ```ts
 * import { utf8Length } from "./utf8.ts";
 * if (utf8Length("aé€😀") !== 1 + 2 + 3 + 4) throw new Error();
 * ```
 */
declare function utf8Length(text: string): number;
/**
 * Whether `text` takes more than `limit` bytes in UTF-8, counting only when
 * its length alone cannot tell (a string takes 1 to 3 bytes per unit).
 */
declare function utf8Exceeds(text: string, limit: number): boolean;

// ---- sdk/attempt.d.ts
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
    addEventListener(type: string, listener: (event: any) => void): void;
}
/** A `WebSocket` constructor (the global one, or e.g. the `ws` package's). */
export type WebSocketConstructor = new (url: string) => WebSocketLike;
/** How long a connection may take to open before it counts as failed, ms. */
export declare const CONNECT_TIMEOUT_MS = 10000;
/**
 * How long to wait for `close` after an `error`, ms: browsers and Deno send
 * both (and the close has the code); Node 20 sends only the error for a
 * connection that never opened.
 */
export declare const ERROR_GRACE_MS = 500;
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
export declare class Attempt {
    #private;
    /**
     * Opens a socket to `url` and starts the connect deadline.
     * @param WebSocket the constructor
     * @param url where to connect
     * @param handlers what to call
     * @param options the deadline and the error grace
     */
    constructor(WebSocket: WebSocketConstructor, url: string, handlers: AttemptHandlers, options?: AttemptOptions);
    /** Whether the socket opened. */
    get opened(): boolean;
    /** Whether the attempt is over. */
    get ended(): boolean;
    /**
     * Sends a frame; false when it could not (ended, or the socket is closing).
     */
    send(data: string): boolean;
    /**
     * Ends the attempt now without calling `onEnd`: closes the socket with
     * `code` and `reason`, and nothing it delivers later reaches a handler.
     */
    stop(code?: number, reason?: string): void;
}

// ---- sdk/backoff.d.ts
/**
 * Reconnect delays: exponential backoff with an optional random spread, the
 * one policy the SDK and clientsim share.
 *
 * @module
 */
/** First reconnect delay, ms; doubles after every failed attempt. */
export declare const INITIAL_BACKOFF_MS = 250;
/** Longest reconnect delay, ms. */
export declare const MAX_BACKOFF_MS = 5000;
/** Options of {@link Backoff}. */
export interface BackoffOptions {
    /** First delay, ms. @default {@link INITIAL_BACKOFF_MS} */
    readonly initialMs?: number;
    /** Longest delay, ms. @default {@link MAX_BACKOFF_MS} */
    readonly maxMs?: number;
    /** Growth per attempt. @default 2 */
    readonly factor?: number;
    /**
     * Fraction of each delay taken off at random, 0..1, so that many clients
     * cut at once do not come back at once. @default 0
     */
    readonly jitter?: number;
    /** Random source in [0, 1). @default Math.random */
    readonly random?: () => number;
}
/**
 * Exponential backoff: `next()` returns the delay before the next attempt
 * and grows it; `reset()` after a connection that opened.
 *
 * @example
 * ```ts
 * import { Backoff } from "./backoff.ts";
 * const b = new Backoff({ initialMs: 100, maxMs: 350 });
 * const delays = [b.next(), b.next(), b.next(), b.next()];
 * if (delays.join() !== "100,200,350,350") throw new Error(delays.join());
 * b.reset();
 * if (b.next() !== 100) throw new Error("reset starts over");
 * ```
 */
export declare class Backoff {
    #private;
    /**
     * @param options first and longest delay, growth, random spread
     * @throws {RangeError} when a value is negative, `maxMs` is below
     *   `initialMs`, `factor` is below 1 or `jitter` is outside 0..1
     */
    constructor(options?: BackoffOptions);
    /** @returns the delay before the next attempt, ms; the one after grows */
    next(): number;
    /** Starts over from the first delay (after a connection that opened). */
    reset(): void;
}

// ---- sdk/client.d.ts
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
export declare class FanoutClient {
    #private;
    /** What was counted so far. */
    readonly stats: FanoutClientStats;
    /**
     * @param url the server: `ws://host:port/` (`wss:`, `http:`, `https:` work
     *   too; in a browser a relative URL such as `/` is resolved against the page)
     * @param options channel, token, batches, ACKs, resume, backoff, WebSocket
     * @throws {TypeError} when `url` is not a URL, or there is no WebSocket
     *   (Node 20: run with `--experimental-websocket`, or pass `options.WebSocket`)
     */
    constructor(url: string | URL, options?: FanoutClientOptions);
    /** This client's id (`options.clientId`, or a random one), sent as `?client=`. */
    readonly clientId: string;
    /** The channel subscribed to. */
    get channel(): string;
    /** The position held: save it to resume later with `options.position`. */
    get position(): StreamPosition | undefined;
    /** What the client is doing now. */
    get state(): FanoutClientState;
    /** Resolves once the client has stopped for good: {@link close}, a terminal close, or `reconnect: false`. */
    get closed(): Promise<FanoutCloseEvent>;
    /**
     * Adds a listener.
     * @returns a function that removes it
     */
    on<K extends keyof FanoutEvents>(type: K, listener: (event: FanoutEvents[K]) => void): Unsubscribe;
    /** Removes a listener. */
    off<K extends keyof FanoutEvents>(type: K, listener: (event: FanoutEvents[K]) => void): void;
    /**
     * Connects (once; later calls do nothing).
     * @returns this client
     */
    start(): this;
    /**
     * Stops at once: closes the connection (1000), never reconnects, and
     * emits no event after this call but the one final `close` (emitted
     * before it returns); `closed` resolves with it.
     */
    close(reason?: string): void;
}

// ---- sdk/client_types.d.ts
/**
 * The types of {@link import("./client.ts").FanoutClient}: its options,
 * events, close event, statistics and state.
 *
 * @module
 */
/** The `position` notice: where the subscription stands, first of all frames. */
export type PositionEvent = Extract<ControlFrame, {
    type: "position";
}>;
/** The `gap` notice: messages `from..to` could not be replayed. */
export type GapEvent = Extract<ControlFrame, {
    type: "gap";
}>;
/** The `reset` notice: the stream started over (a new epoch) and continues after `last_seq`. */
export type ResetEvent = Extract<ControlFrame, {
    type: "reset";
}>;
/** The `dropped` notice: the server dropped `count` messages for this slow client. */
export type DroppedEvent = Extract<ControlFrame, {
    type: "dropped";
}>;
/** The `last_close` notice: why the server ended this client's previous connection. */
export type LastCloseEvent = Extract<ControlFrame, {
    type: "last_close";
}>;
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
    open: {
        readonly url: string;
        readonly attempt: number;
    };
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
    error: {
        readonly error: string;
    };
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
     * several were published at once or waited for this client, no timer
     * (the server's busiest moments cost it one write, not one per message);
     * `true` (`?batch=1`) on the
     * server's batch timer; `false` never. Messages still arrive one event
     * each. @default "auto"
     */
    readonly batch?: boolean | "auto";
    /**
     * Send an ACK per frame (its last message) so the server measures
     * end-to-end latency; on a `--policy ladder` server the ACKs also pace
     * what it writes (its ACK window), so a slow reader gets recent values.
     * @default false
     */
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
export type FanoutClientState = "idle" | "connecting" | "open" | "waiting" | "closed";

// ---- sdk/client_util.d.ts
/**
 * Small helpers of {@link import("./client.ts").FanoutClient}: the delay for
 * a server's retry hint, a URL without its token, a random client id.
 *
 * @module
 */
/**
 * The delay for a server's `retry_in_ms` hint: the hint plus up to a
 * quarter more at random (at most 2 s more), so clients the server gave the
 * same hint still spread.
 */
declare function spread(hintMs: number, random: () => number): number;
/** `url` with the value of `token=` replaced by `***`, for events and logs. */
declare function redactToken(url: string): string;
/** A random client id: 18 URL-safe characters (96 random bits and 4 more). */
declare function randomId(): string;

// ---- sdk/close_reason.d.ts
/**
 * What a close means for a client: reconnect, or stop. Read from the one
 * close-code table (`lib/close_codes.ts`); codes the table does not list are
 * classified by range, as `docs/PROTOCOL.md` says.
 *
 * @module
 */
/** A connection's end, classified. */
export interface CloseInfo {
    /** The close code (1006 when the connection broke without a close frame). */
    readonly code: number;
    /** The close reason the server sent (it names the limit crossed), or "". */
    readonly reason: string;
    /** The close-code table's key for `code`, when the table has it. */
    readonly key: DisconnectReason | undefined;
    /**
     * Whether coming back may work: true for the "reconnect" rows (1001,
     * 4000–4099) and for broken connections; false for the terminal rows
     * (1000, 1009, 4100–4199): reconnecting unchanged would fail again.
     */
    readonly reconnect: boolean;
    /**
     * The HTTP status of a refusal sent as a close (code `4000 + status`:
     * 4401, 4403, 4429, 4503, …), else undefined.
     */
    readonly status: number | undefined;
    /** When the server asked the client to come back (`retry_in_ms=` in the reason), ms. */
    readonly hintMs: number | undefined;
}
/**
 * Classifies a close: the table's row when it has the code, else 4000–4099
 * reconnect, 4100–4199 and RFC 6455's protocol/policy codes (1002, 1003,
 * 1007, 1008, 1010) terminal, refusals `4000 + status` terminal for
 * 400/401/403/404 and reconnect for the others (429, 503), anything else
 * (1006 a broken connection, 1011–1014 server trouble) reconnect.
 *
 * @param code the close code
 * @param reason the close reason
 * @returns the code, reason, table key and whether to reconnect
 * @example
 * ```ts
 * import { classifyClose } from "./close_reason.ts";
 * if (!classifyClose(4002, "ping timeout").reconnect) throw new Error();
 * const flood = classifyClose(4101, "flood");
 * if (flood.reconnect || flood.key !== "flood") throw new Error();
 * if (!classifyClose(1006, "").reconnect) throw new Error("broken: retry");
 * const full = classifyClose(4503, "server full; retry_in_ms=1200");
 * if (!full.reconnect || full.status !== 503 || full.hintMs !== 1200) throw new Error();
 * if (classifyClose(4401, "bad token").reconnect) throw new Error("401: stop");
 * ```
 */
export declare function classifyClose(code: number, reason: string): CloseInfo;

// ---- sdk/emitter.d.ts
/**
 * A small typed event emitter: one listener list per event name. A listener
 * that throws does not stop the others or the emitter's caller; its error is
 * reported as an uncaught error.
 *
 * @module
 */
/** Removes the listener it was returned for. */
export type Unsubscribe = () => void;
/**
 * Listeners by event name, for an event map `Events` (name → payload).
 *
 * @example
 * ```ts
 * import { Emitter } from "./emitter.ts";
 * const e = new Emitter<{ tick: number }>();
 * let sum = 0;
 * const off = e.on("tick", (n) => sum += n);
 * e.emit("tick", 2);
 * off();
 * e.emit("tick", 3);
 * if (sum !== 2) throw new Error(String(sum));
 * ```
 */
export declare class Emitter<Events extends object> {
    #private;
    /**
     * Adds `listener` for `type`.
     * @returns a function that removes it
     */
    on<K extends keyof Events>(type: K, listener: (event: Events[K]) => void): Unsubscribe;
    /** Removes `listener` for `type` (nothing happens when it was not added). */
    off<K extends keyof Events>(type: K, listener: (event: Events[K]) => void): void;
    /** Calls every listener of `type` with `event`, in the order they were added. */
    emit<K extends keyof Events>(type: K, event: Events[K]): void;
}

// ---- sdk/ladder_events.d.ts
/**
 * The ladder's frames as the SDK sees them (protocol 3): `tier`, `lag` and
 * `expired` events, and the client's statistics they keep current.
 *
 * @module
 */
/** The `tier` notice: the server moved this client to another tier (`--policy ladder`). */
export type TierEvent = Extract<ControlFrame, {
    type: "tier";
}>;
/** The `lag` frame: how far behind this client is and what it lost, every `--lag-interval`. */
export type LagEvent = Extract<ControlFrame, {
    type: "lag";
}>;
/** The `expired` notice: `count` messages outlived their time to live before their turn. */
export type ExpiredEvent = Extract<ControlFrame, {
    type: "expired";
}>;
/** What the ladder's frames tell about a client, kept in its statistics. */
export interface LadderStats {
    /** Its tier, as the server last said (`full` until told otherwise). */
    tier: TierEvent["tier"];
    /** Messages waiting for it on the server, at the last `lag` frame. */
    queued: number;
    /** How far behind it was at the last `lag` frame, ms. */
    lagMs: number;
    /** Messages the server did not send it because they expired. */
    expired: number;
    /** Messages replaced by a newer value of their key before it got them (conflation). */
    superseded: number;
}
/** Fresh ladder statistics. */
export declare function newLadderStats(): LadderStats;
/**
 * Applies one of the ladder's frames to `stats`.
 * @returns true when `frame` is one of them (`tier`, `lag`, `expired`)
 * @example
 * ```ts
 * import { applyLadderFrame, newLadderStats } from "./ladder_events.ts";
 * const s = newLadderStats();
 * applyLadderFrame({ type: "expired", channel: "c", count: 2 }, s);
 * if (s.expired !== 2) throw new Error();
 * ```
 */
export declare function applyLadderFrame(frame: ControlFrame, stats: LadderStats): frame is TierEvent | LagEvent | ExpiredEvent;

// ---- sdk/stream_state.d.ts
/**
 * The client side of the protocol, with no transport: what a received frame
 * means, where the client stands in the stream — its position `(epoch,
 * seq)` — and the URL that resumes from there. The SDK's `FanoutClient`
 * (over a browser-style `WebSocket`) and clientsim's `SimClient` (over
 * `WebSocketStream`) both use it, so the protocol is read in one place.
 *
 * @module
 */
/** A place in a channel's stream: one numbering (`epoch`) and the last seq had in it. */
export interface StreamPosition {
    /** The numbering: a new one after the server restarted (memory broker). */
    readonly epoch: string;
    /** The last seq received, or the one the subscription started after. */
    readonly seq: number;
    /**
     * The `ts_send` of the message received at `seq`, when one was: sent as
     * `?since_ts=` on resume, so a server on a shared engine can tell the
     * client holds a message the engine lost (a failover) and says `reset`.
     */
    readonly ts?: number;
}
/** One published message, as the application gets it. */
export interface FanoutMessage {
    /** Its seq, +1 per message of the channel. */
    readonly seq: number;
    /** The epoch its seq belongs to (undefined until the server named one: a client without control frames). */
    readonly epoch: string | undefined;
    /** The channel it was published on. */
    readonly channel: string;
    /** When it was published, float epoch seconds. */
    readonly ts_send: number;
    /** The message a user published (stdin or `POST /publish`), as its JSON value; undefined for the synthetic source. */
    readonly data: unknown;
    /** The synthetic source's random payload, base64 (`""` for user messages). */
    readonly payload_b64: string;
}
/** One message of a data frame, and how it follows the position before it. */
export interface Delivery {
    /** The message. */
    readonly message: FanoutMessage;
    /** Seqs skipped right before it (0 when it is the next one). */
    readonly missed: number;
    /**
     * True when its seq is not above the position: a duplicate when the server
     * named the epoch on this connection (the position stays), else possibly a
     * restarted numbering (the position follows it).
     */
    readonly repeat: boolean;
}
/** What one received text frame was. */
export type Incoming = {
    /** Data: one message, or (`?batch=1`) an array of them, oldest first. */
    readonly kind: "data";
    readonly deliveries: readonly Delivery[];
} | {
    /** A control frame (`position`, `gap`, `reset`, `dropped`), already applied to the position. */
    readonly kind: "control";
    readonly frame: ControlFrame;
} | {
    /** Neither: not JSON, or not a frame of this protocol. */
    readonly kind: "bad";
    readonly error: string;
};
/** What a connection asks for, as URL parameters. */
export interface ConnectRequest {
    /** Control frames (`?control=1`); implied by `resume`. @default false */
    readonly control?: boolean;
    /** Live messages as JSON arrays: `true` `?batch=1`, `"auto"` `?batch=auto` (what one turn published or what waited). @default false */
    readonly batch?: boolean | "auto";
    /** Resume from the position held (`?since=&epoch=`) once there is one. @default false */
    readonly resume?: boolean;
    /** Subscriber token or JWT (`?token=`; browsers cannot set headers on a WebSocket). */
    readonly token?: string | undefined;
}
/** Options of {@link StreamState}. */
export interface StreamStateOptions {
    /** The channel. @default "default" */
    readonly channel?: string;
    /** A position saved earlier, to resume from on the first connection. */
    readonly position?: StreamPosition | undefined;
}
/**
 * Where a client stands in one channel's stream, updated by every frame it
 * receives.
 *
 * - a `position` notice names the epoch; on a fresh subscription it also
 *   sets the seq the live stream continues after, so a cut before the first
 *   message still resumes with nothing lost;
 * - a `reset` notice moves to the new epoch, after its `last_seq`;
 * - each data message moves the seq forward; a seq not above it is a repeat.
 *
 * @example
 * ```ts
 * import { StreamState } from "./stream_state.ts";
 * const s = new StreamState({ channel: "prices" });
 * s.receive('{"type":"position","channel":"prices","epoch":"E1","last_seq":40}');
 * const got = s.receive('{"seq":41,"ts_send":1700000000,"channel":"prices","data":{"px":1}}');
 * if (got.kind !== "data" || got.deliveries[0]!.missed !== 0) throw new Error();
 * const url = s.connectUrl("ws://localhost:8765/", { resume: true });
 * if (url !== "ws://localhost:8765/?channel=prices&control=1&since=41&epoch=E1&since_ts=1700000000") throw new Error(url);
 * ```
 */
export declare class StreamState {
    #private;
    /** The channel. */
    readonly channel: string;
    /**
     * `position`/`reset` notices of an older epoch than the one the server
     * named on this connection, ignored: a connection never moves back.
     */
    staleDiscarded: number;
    /** @param options the channel, and a position to start from */
    constructor(options?: StreamStateOptions);
    /** The epoch held, once the server named one. */
    get epoch(): string | undefined;
    /** The seq held: the last received, or the one the subscription started after. */
    get seq(): number | undefined;
    /**
     * Moves the position back to `seq` when it is ahead of it: the client
     * stopped in the middle of an array, and the messages after `seq` were
     * never handed to the application.
     */
    rewindTo(seq: number, ts?: number): void;
    /** The position held, once both its parts are known (save it to resume later). */
    get position(): StreamPosition | undefined;
    /**
     * The URL of the next connection: `base` with the channel, the options
     * asked for and, when resuming from a position held, `since` and `epoch`.
     *
     * @param base an absolute `ws:`, `wss:`, `http:` or `https:` URL (http
     *   becomes ws) of the server's subscribe path
     * @param request control frames, batches, resume, token
     * @returns the URL, as text
     * @throws {TypeError} when `base` is not an absolute URL
     */
    connectUrl(base: string | URL, request?: ConnectRequest): string;
    /** A new connection opened: until its `position` notice, its numbering is unknown. */
    opened(): void;
    /**
     * Reads one text frame and moves the position.
     * @param text the frame as received
     * @returns data (each message with what it skipped or repeated), a
     *   control frame, or why it was neither
     */
    receive(text: string): Incoming;
}
