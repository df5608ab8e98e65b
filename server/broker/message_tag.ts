/**
 * A message's delivery class on a shared engine: its conflation key, time to
 * live and `critical` mark, carried beside its frame in one string (the
 * engine's scripts store and forward it as is, in the slot a key alone used
 * to fill). A plain key stays itself, so what an older node stored still
 * reads the same; a message with a time to live or a `critical` mark (or a
 * key that starts with the separator) is `\x01ttl\x01critical\x01key`.
 *
 * @module
 */
import type { OutFrame, PublishBody } from "../core/frame.ts";
import { frameFromRest } from "../core/frame.ts";

const SEP = "\x01";

/** What a tag says of its message. */
export interface MessageClass {
  /** Conflation key. */
  readonly key?: string;
  /** Time to live, ms. */
  readonly ttlMs?: number;
  /** Never conflated, dropped or expired. */
  readonly critical?: boolean;
}

/**
 * The tag of `body` ("" when it has no key, time to live or mark).
 *
 * @example
 * ```ts
 * import { decodeTag, encodeTag } from "./message_tag.ts";
 * const tag = encodeTag({ tsSend: 1, key: "EURUSD", ttlMs: 500, critical: true });
 * const c = decodeTag(tag);
 * if (c.key !== "EURUSD" || c.ttlMs !== 500 || !c.critical) throw new Error(tag);
 * if (encodeTag({ tsSend: 1, key: "k" }) !== "k") throw new Error("plain key");
 * ```
 */
export function encodeTag(body: PublishBody): string {
  const key = body.key ?? "";
  if (body.ttlMs === undefined && !body.critical && !key.startsWith(SEP)) {
    return key;
  }
  return SEP + (body.ttlMs ?? "") + SEP + (body.critical ? "1" : "") + SEP +
    key;
}

/** What `tag` says ({@link encodeTag}'s inverse; "" says nothing). */
export function decodeTag(tag: string): MessageClass {
  if (!tag.startsWith(SEP)) return tag === "" ? {} : { key: tag };
  const a = tag.indexOf(SEP, 1);
  const b = tag.indexOf(SEP, a + 1);
  if (a < 0 || b < 0) return { key: tag };
  const ttl = tag.slice(1, a);
  const key = tag.slice(b + 1);
  return {
    ...(key === "" ? {} : { key }),
    ...(ttl === "" ? {} : { ttlMs: Number(ttl) }),
    ...(tag.slice(a + 1, b) === "1" ? { critical: true } : {}),
  };
}

/**
 * The frame of `seq` as an engine forwards it (its rest and tag): the one
 * frame builder, with the tag's key, time to live (counted from `now`, when
 * this node received it) and mark.
 */
export function frameFromEngine(
  seq: number,
  rest: string,
  tag: string,
  now: number,
): OutFrame {
  const c = decodeTag(tag);
  const frame = frameFromRest(seq, rest, c.key, now);
  if (c.ttlMs === undefined && !c.critical) return frame;
  return {
    ...frame,
    ...(c.ttlMs === undefined ? {} : { expiresAt: now + c.ttlMs }),
    ...(c.critical ? { critical: true } : {}),
  };
}
