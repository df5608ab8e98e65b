/**
 * The wire protocol, compatible with the original Python implementation.
 *
 * Server → client, one JSON text frame per message:
 * `{"seq": int, "ts_send": epoch seconds, "payload_b64": base64}` for the
 * synthetic source; messages a user publishes carry `"channel"` and their
 * content under `"data"` instead of `payload_b64`. A client that subscribes
 * with `?batch=1` (queue mode) receives live messages as JSON arrays of these
 * frames instead, several per WebSocket frame.
 * Client → server ACK: `{"ack_ts": <ts_send received>, "seq": int}`.
 * Control frames (only to clients that ask with `?control=1` or `?since=`)
 * carry `"type"` and never `"seq"`: see {@link ControlFrame}. A stream
 * position is `(epoch, seq)`: `seq` counts per channel and `epoch` names
 * one numbering of it; the `position` notice, sent first, carries both.
 * `docs/PROTOCOL.md` is the written contract; this module is its code. The
 * module uses no Deno API: the client SDK (`sdk/`) bundles it for browsers.
 *
 * @module
 */
import { utf8Exceeds, utf8Length } from "./utf8.ts";

/**
 * The protocol's version, as `docs/PROTOCOL.md` states it: 1 was the seed's
 * data frames and ACK; 2 added channels, user data, control frames,
 * positions `(epoch, seq)` with resume, `?batch=1` arrays, SSE and the
 * two-range close codes; 3 added the ladder (`--policy ladder`): `tier`
 * frames and `?batch=auto`.
 */
export const PROTOCOL_VERSION = 3;

/** A data frame as the server sends it. */
export interface DataFrame {
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
export interface DataExtras {
  /** Channel name (absent for the default channel of the synthetic source). */
  readonly channel?: string;
  /** The message itself as JSON text (an object, array, number, or string). */
  readonly dataJson?: string;
}

/**
 * Out-of-band notices from server to client. They never sit behind data that
 * may be dropped: a client's writer sends them before its next data frame.
 */
export type ControlFrame =
  | {
    /** Messages were dropped for this client since the last notice. */
    readonly type: "dropped";
    readonly channel: string;
    readonly count: number;
  }
  | {
    /** `?since=` asked for messages older than the history holds. */
    readonly type: "gap";
    readonly channel: string;
    /** First seq that cannot be replayed. */
    readonly from: number;
    /** Last seq that cannot be replayed. */
    readonly to: number;
    readonly missed: number;
  }
  | {
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
  }
  | {
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
  }
  | {
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
  }
  | {
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
  }
  | {
    /**
     * Messages whose time to live ran out before their turn were not sent
     * (version 3): `count` since the previous notice.
     */
    readonly type: "expired";
    readonly channel: string;
    readonly count: number;
  }
  | {
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
export interface AckFrame {
  /** The `ts_send` of the frame acknowledged. */
  readonly ack_ts: number;
  /** The `seq` of the frame acknowledged. */
  readonly seq: number;
}

/** The channel a client gets when it names none. */
export const DEFAULT_CHANNEL = "default";

/** Channel names: 1–64 of letters, digits, `_`, `-`, `.`, `:` (nothing to escape, no paths). */
export const CHANNEL_NAME = /^[A-Za-z0-9_.:-]{1,64}$/;

/**
 * Checks a channel name from a URL or a publish request.
 * @throws {TypeError} naming the rule when `name` is not a valid channel name
 */
export function checkChannelName(name: string): string {
  if (!CHANNEL_NAME.test(name) || name === "." || name === "..") {
    throw new TypeError(
      `invalid channel name ${
        JSON.stringify(name.slice(0, 80))
      }: use 1-64 of A-Z a-z 0-9 _ - . :`,
    );
  }
  return name;
}

/**
 * Epochs: 1–64 of letters, digits, `_`, `-`, `.` (the memory broker makes 8
 * of base64url; a shared engine `<generation>.<8 of base64url>`).
 */
export const EPOCH_NAME = /^[A-Za-z0-9_.-]{1,64}$/;

/** Largest client frame the server accepts, bytes (UTF-8). An ACK is ~50 bytes. */
export const MAX_CLIENT_FRAME_BYTES = 4096;

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
export function encodeData(
  seq: number,
  tsSend: number,
  payloadB64: string,
  extras: DataExtras = {},
): string {
  return DATA_PREFIX + seq + encodeDataRest(tsSend, payloadB64, extras);
}

/** How every data frame starts: the seq follows, then {@link encodeDataRest}. */
export const DATA_PREFIX = '{"seq":';

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
export function encodeDataRest(
  tsSend: number,
  payloadB64: string,
  extras: DataExtras = {},
): string {
  // Hand-built: ts_send and base64 need no escaping; the channel name is
  // validated to [A-Za-z0-9_.:-] and dataJson is already JSON.
  const channel = extras.channel === undefined
    ? ""
    : `,"channel":"${extras.channel}"`;
  if (extras.dataJson !== undefined) {
    return `,"ts_send":${tsSend}${channel},"data":${extras.dataJson}}`;
  }
  return `,"ts_send":${tsSend}${channel},"payload_b64":"${payloadB64}"}`;
}

/** Serialises a control frame. */
export function encodeControl(frame: ControlFrame): string {
  return JSON.stringify(frame);
}

/**
 * Tells a control frame from a data frame without throwing.
 * @returns the control frame, or undefined when `text` is not one
 */
export function parseControl(text: string): ControlFrame | undefined {
  if (!text.startsWith('{"type":')) return undefined;
  try {
    const v = JSON.parse(text);
    return typeof v?.type === "string" && !("seq" in v)
      ? v as ControlFrame
      : undefined;
  } catch {
    return undefined;
  }
}

/**
 * Parses a data frame received from a server.
 * @throws {TypeError} when `text` is not a JSON object with an integer `seq`
 *   and a numeric `ts_send`
 */
export function decodeData(text: string): DataFrame {
  return checkData(parseObject(text, "data frame"));
}

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
export function decodeDataFrames(text: string): DataFrame[] {
  if (!text.startsWith("[")) return [decodeData(text)];
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch {
    throw new TypeError("Cannot decode data frames: not valid JSON");
  }
  if (!Array.isArray(value) || value.length === 0) {
    throw new TypeError("Cannot decode data frames: not a non-empty array");
  }
  return value.map((v) => {
    if (typeof v !== "object" || v === null || Array.isArray(v)) {
      throw new TypeError("Cannot decode data frame: not a JSON object");
    }
    return checkData(v as Record<string, unknown>);
  });
}

function checkData(value: Record<string, unknown>): DataFrame {
  const { seq, ts_send, payload_b64, channel } = value;
  if (!Number.isSafeInteger(seq)) {
    throw new TypeError("Cannot decode data frame: 'seq' must be an integer");
  }
  if (typeof ts_send !== "number" || !Number.isFinite(ts_send)) {
    throw new TypeError("Cannot decode data frame: 'ts_send' must be a number");
  }
  const frame: {
    seq: number;
    ts_send: number;
    payload_b64: string;
    channel?: string;
    data?: unknown;
  } = {
    seq: seq as number,
    ts_send,
    payload_b64: typeof payload_b64 === "string" ? payload_b64 : "",
  };
  if (typeof channel === "string") frame.channel = channel;
  if ("data" in value) frame.data = value.data;
  return frame;
}

/** Serialises an ACK for a received frame. */
export function encodeAck(ackTs: number, seq: number): string {
  return `{"ack_ts":${ackTs},"seq":${seq}}`;
}

/**
 * Validates a frame a client sent to the server.
 * @param data the frame as the socket delivered it (text or binary)
 * @throws {TypeError} for binary frames, non-JSON text, or objects without a
 *   finite numeric `ack_ts` and an integer `seq`
 * @param maxBytes largest frame accepted, bytes
 * @throws {RangeError} for frames larger than `maxBytes`
 */
export function decodeAck(
  data: unknown,
  maxBytes: number = MAX_CLIENT_FRAME_BYTES,
): AckFrame {
  if (typeof data !== "string") {
    throw new TypeError(
      "Cannot decode client frame: binary frames are not accepted",
    );
  }
  if (utf8Exceeds(data, maxBytes)) {
    throw new RangeError(
      `Cannot decode client frame: ${
        utf8Length(data)
      } bytes exceeds the ${maxBytes}-byte limit`,
    );
  }
  const value = parseObject(data, "client frame");
  const { ack_ts, seq } = value;
  if (typeof ack_ts !== "number" || !Number.isFinite(ack_ts)) {
    throw new TypeError(
      "Cannot decode client frame: 'ack_ts' must be a number",
    );
  }
  if (!Number.isSafeInteger(seq)) {
    throw new TypeError("Cannot decode client frame: 'seq' must be an integer");
  }
  return { ack_ts, seq: seq as number };
}

/** Current time as float epoch seconds (sub-millisecond), the unit of `ts_send`. */
export function epochSeconds(): number {
  return (performance.timeOrigin + performance.now()) / 1000;
}

function parseObject(text: string, what: string): Record<string, unknown> {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch {
    throw new TypeError(`Cannot decode ${what}: not valid JSON`);
  }
  if (typeof value !== "object" || value === null || Array.isArray(value)) {
    throw new TypeError(`Cannot decode ${what}: not a JSON object`);
  }
  return value as Record<string, unknown>;
}

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
export function epochGeneration(epoch: string): number {
  const dot = epoch.indexOf(".");
  if (dot <= 0) return 0;
  const g = Number(epoch.slice(0, dot));
  return Number.isSafeInteger(g) && g > 0 ? g : 0;
}

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
export function isOlderEpoch(epoch: string, than: string): boolean {
  return epochGeneration(epoch) < epochGeneration(than);
}
