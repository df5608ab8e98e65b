/**
 * One published message: what a source hands to the broker, and the frame
 * the broker builds from it, serialised once and shared by every session.
 *
 * @module
 */
import {
  DATA_PREFIX,
  DEFAULT_CHANNEL,
  encodeDataRest,
} from "../../lib/protocol.ts";
import { utf8Length } from "../../lib/utf8.ts";

/** One message to publish: a synthetic payload, or a user's JSON content. */
export interface PublishBody {
  /** When the message was due, epoch seconds. */
  readonly tsSend: number;
  /** Base64 payload (synthetic source). */
  readonly payloadB64?: string;
  /** The message as JSON text (stdin and HTTP sources). */
  readonly dataJson?: string;
  /** Conflation key, when the message has one. */
  readonly key?: string;
  /** Time to live, ms: not sent once older than this (protocol 3). */
  readonly ttlMs?: number;
  /** Never conflated, dropped or expired; always delivered in order (protocol 3). */
  readonly critical?: boolean;
}

/** A message on its way out: the same object goes into every client's queue. */
export interface OutFrame {
  /** Sequence number of the message within its channel's epoch. */
  readonly seq: number;
  /** The encoded JSON text frame, built once per message. */
  readonly text: string;
  /** Size of `text` in bytes (UTF-8: user data may hold any character). */
  readonly bytes: number;
  /** The message's `ts_send` (epoch seconds), so an ACK can be checked against what was sent. */
  readonly tsSend?: number;
  /** When this node took the message for fan-out, monotonic ms (`performance.now()`). */
  readonly enqueuedAt: number;
  /** Conflation key (`--conflate-key` field of the message), when it has one. */
  readonly key?: string;
  /** Not sent after this monotonic ms (its time to live ran out), when it has one. */
  readonly expiresAt?: number;
  /** Never conflated, dropped or expired, when true. */
  readonly critical?: boolean;
}

/**
 * Builds the one frame every subscriber of `channel` receives for `body`.
 *
 * @param channel the channel (named in the frame unless it is the default)
 * @param seq the position the broker assigned
 * @param body what the source published
 * @param now monotonic ms, the frame's `enqueuedAt`
 * @example
 * ```ts
 * import { frameOf } from "./frame.ts";
 * const f = frameOf("prices", 7, { tsSend: 1, dataJson: '{"px":1}' }, 0);
 * if (f.text !== '{"seq":7,"ts_send":1,"channel":"prices","data":{"px":1}}') throw new Error(f.text);
 * ```
 */
export function frameOf(
  channel: string,
  seq: number,
  body: PublishBody,
  now: number,
): OutFrame {
  // ts_send is known here: carried alongside, never read back from the text.
  const frame = frameFromRest(
    seq,
    frameRest(channel, body),
    body.key,
    now,
    body.tsSend,
  );
  if (body.ttlMs === undefined && !body.critical) return frame;
  return {
    ...frame,
    ...(body.ttlMs === undefined ? {} : { expiresAt: now + body.ttlMs }),
    ...(body.critical ? { critical: true } : {}),
  };
}

/**
 * The part of `body`'s frame after its seq (`lib/protocol.ts`
 * `encodeDataRest`): what a shared engine stores and forwards.
 */
export function frameRest(channel: string, body: PublishBody): string {
  return encodeDataRest(body.tsSend, body.payloadB64 ?? "", {
    ...(channel === DEFAULT_CHANNEL ? {} : { channel }),
    ...(body.dataJson === undefined ? {} : { dataJson: body.dataJson }),
  });
}

/** Where `ts_send`'s digits start in a rest: after `,"ts_send":`. */
const TS_AT = ',"ts_send":'.length;

/**
 * The frame of `seq` from the part after its seq, as {@link frameRest} made
 * it: the one way every engine builds a frame (the memory broker through
 * {@link frameOf}, the Redis broker from what pub/sub and the stream carry),
 * with `bytes` in UTF-8 and `tsSend` set, so ACKs and `--max-lag` work on
 * every node. A caller that knows `tsSend` passes it; the Redis engine's
 * envelope (`epoch:seq:` + frame, laid out by its Lua scripts) does not
 * carry it, so it is read from the rest, once per message on the node that
 * receives it.
 *
 * @example
 * ```ts
 * import { frameFromRest, frameOf } from "./frame.ts";
 * const body = { tsSend: 1.25, dataJson: '{"s":"é"}' };
 * const a = frameOf("x", 3, body, 0);
 * const b = frameFromRest(3, a.text.slice('{"seq":3'.length), undefined, 0);
 * if (b.text !== a.text || b.tsSend !== 1.25 || b.bytes !== a.text.length + 1) {
 *   throw new Error(JSON.stringify(b));
 * }
 * ```
 */
export function frameFromRest(
  seq: number,
  rest: string,
  key: string | undefined,
  now: number,
  tsSend: number = tsSendOf(rest),
): OutFrame {
  const text = DATA_PREFIX + seq + rest;
  // Once per message, not per client: user data may hold any character.
  const bytes = utf8Length(text);
  return key === undefined
    ? { seq, text, bytes, enqueuedAt: now, tsSend }
    : { seq, text, bytes, enqueuedAt: now, tsSend, key };
}

/** `ts_send` of a rest built by {@link frameRest} (it always comes first). */
function tsSendOf(rest: string): number {
  const comma = rest.indexOf(",", TS_AT);
  return Number(rest.slice(TS_AT, comma < 0 ? rest.length - 1 : comma));
}
