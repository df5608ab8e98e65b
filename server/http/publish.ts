/**
 * The HTTP source: `POST /publish?channel=NAME` with the message as the body,
 * answered with the position it was given (`seq` and `epoch`). `application/x-ndjson` publishes a batch,
 * one message per line. Protected by the publish token.
 *
 * @module
 */
import {
  checkChannelName,
  DEFAULT_CHANNEL,
  epochSeconds,
} from "../../lib/protocol.ts";
import { BrokerUnavailableError } from "../core/broker.ts";
import { bearerOf, safeEqual } from "./auth.ts";
import { publishEach } from "./publish_each.ts";
import { messageFromText, type UserMessage } from "../sources/message_body.ts";
import type { HttpSource } from "../sources/source_http.ts";

/** Options of {@link createPublishHandler}. */
export interface PublishOptions {
  /** Token a publisher must present (`--publish-token`). */
  readonly publishToken: string;
  /** Largest request body, bytes (`--max-message-bytes`). */
  readonly maxBodyBytes: number;
  /** Field of JSON messages to conflate on (`--conflate-key`). */
  readonly conflateKey?: string | undefined;
  /** Counts a refused request by label (`fanout_rejections_total`). @default nothing */
  readonly reject?: (label: string) => void;
  /** How long the body may take to arrive, ms (`--handshake-timeout`): a trickled body holds no connection. @default 5000 */
  readonly bodyTimeoutMs?: number;
}

const TOO_BIG = Symbol("too big");
const TOO_SLOW = Symbol("too slow");

/** Reads at most `limit` bytes of the body within `timeoutMs`. */
async function readLimited(
  req: Request,
  limit: number,
  timeoutMs: number,
): Promise<string | typeof TOO_BIG | typeof TOO_SLOW> {
  const declared = Number(req.headers.get("content-length") ?? NaN);
  if (declared > limit) return TOO_BIG;
  if (!req.body) return "";
  const chunks: Uint8Array[] = [];
  let size = 0;
  const reader = req.body.getReader();
  let late = false;
  const timer = setTimeout(() => {
    late = true;
    reader.cancel().catch(() => {});
  }, timeoutMs);
  try {
    while (true) {
      const { value, done } = await reader.read();
      if (late) return TOO_SLOW;
      if (done) break;
      size += value.length;
      if (size > limit) return TOO_BIG;
      chunks.push(value);
    }
  } catch {
    if (late) return TOO_SLOW;
    throw new SyntaxError("the request body could not be read");
  } finally {
    clearTimeout(timer);
    if (!late) reader.releaseLock();
  }
  const all = new Uint8Array(size);
  let at = 0;
  for (const c of chunks) {
    all.set(c, at);
    at += c.length;
  }
  return new TextDecoder().decode(all);
}

/** Parses the body into messages by content type. @throws {SyntaxError} naming the bad line */
function parseBody(
  body: string,
  contentType: string,
  conflateKey: string | undefined,
): UserMessage[] {
  const type = contentType.split(";")[0]!.trim().toLowerCase();
  if (body.trim() === "") return [];
  if (type === "application/x-ndjson") {
    const messages: UserMessage[] = [];
    body.split("\n").forEach((line, i) => {
      if (line.trim() === "") return;
      try {
        messages.push(
          messageFromText(line, {
            json: "require",
            conflateKey,
            classes: true,
          }),
        );
      } catch {
        throw new SyntaxError(`line ${i + 1} is not valid JSON`);
      }
    });
    return messages;
  }
  if (type === "application/json") {
    try {
      return [messageFromText(body, { json: "require", conflateKey })];
    } catch {
      throw new SyntaxError("body is not valid JSON");
    }
  }
  return [messageFromText(body, { json: "never", conflateKey })];
}

/**
 * The loss class and deadline a request's headers give all its messages
 * (protocol 3): `Fanout-TTL-Ms: <ms>`, `Fanout-Critical: 1`. An NDJSON
 * line's own `ttl_ms`/`critical` fields win.
 * @throws {SyntaxError} naming the bad header
 */
function classesOf(headers: Headers): { ttlMs?: number; critical?: boolean } {
  const ttl = headers.get("fanout-ttl-ms");
  const critical = headers.get("fanout-critical");
  const out: { ttlMs?: number; critical?: boolean } = {};
  if (ttl !== null) {
    const ms = Number(ttl);
    if (!(Number.isInteger(ms) && ms > 0)) {
      throw new SyntaxError(
        `Fanout-TTL-Ms must be a whole number of ms above 0, got ${
          JSON.stringify(ttl)
        }`,
      );
    }
    out.ttlMs = ms;
  }
  if (critical !== null) {
    if (critical !== "1" && critical !== "0") {
      throw new SyntaxError(
        `Fanout-Critical must be 1 or 0, got ${JSON.stringify(critical)}`,
      );
    }
    if (critical === "1") out.critical = true;
  }
  return out;
}

/** An `Idempotency-Key`: 1–200 printable ASCII characters. */
const IDEMPOTENCY_KEY = /^[\x21-\x7e]{1,200}$/;

/**
 * Builds the `POST /publish` handler: it reads and checks the request, and
 * hands the messages to the HTTP source, which publishes and counts them.
 */
export function createPublishHandler(
  source: HttpSource,
  options: PublishOptions,
): (req: Request, url: URL) => Promise<Response> {
  /** A JSON error response, counted as a rejection. */
  const refuse = (
    status: number,
    reason: string,
    label: string,
    headers: Record<string, string> = {},
    extra: Record<string, unknown> = {},
  ): Response => {
    options.reject?.(label);
    return Response.json({ error: reason, ...extra }, { status, headers });
  };
  return async (req, url) => {
    if (req.method !== "POST") {
      return Response.json(
        {
          error: "use POST /publish?channel=NAME with the message as the body",
        },
        { status: 405, headers: { allow: "POST" } },
      );
    }
    // Header only: a token in a URL ends up in proxy and access logs.
    const credential = bearerOf(req);
    if (
      credential === undefined || !safeEqual(credential, options.publishToken)
    ) {
      return refuse(
        401,
        url.searchParams.has("token")
          ? "publishing needs the publish token in Authorization: Bearer <token>, not ?token= (URLs end up in logs)"
          : "publishing needs the publish token: Authorization: Bearer <token>",
        "publish_unauthorized",
      );
    }
    let channel: string;
    try {
      channel = checkChannelName(
        url.searchParams.get("channel") ?? DEFAULT_CHANNEL,
      );
    } catch (err) {
      return refuse(400, (err as Error).message, "bad_channel");
    }
    if (!source.admits(channel)) {
      return refuse(
        503,
        `cannot create channel ${channel}: channel limit reached (--max-channels)`,
        "too_many_channels",
      );
    }
    let body;
    try {
      body = await readLimited(
        req,
        options.maxBodyBytes,
        options.bodyTimeoutMs ?? 5000,
      );
    } catch (err) {
      return refuse(400, (err as Error).message, "bad_publish");
    }
    if (body === TOO_BIG) {
      return refuse(
        413,
        `body over --max-message-bytes ${options.maxBodyBytes}`,
        "publish_too_big",
      );
    }
    if (body === TOO_SLOW) {
      return refuse(
        408,
        `body not complete within --handshake-timeout ${
          (options.bodyTimeoutMs ?? 5000) / 1000
        } s`,
        "publish_too_slow",
      );
    }
    let messages: UserMessage[];
    try {
      messages = parseBody(
        body,
        req.headers.get("content-type") ?? "text/plain",
        options.conflateKey,
      );
    } catch (err) {
      return refuse(400, (err as Error).message, "bad_publish");
    }
    if (messages.length === 0) {
      return refuse(
        400,
        "nothing to publish: the body is empty",
        "bad_publish",
      );
    }
    let classes: { ttlMs?: number; critical?: boolean };
    try {
      classes = classesOf(req.headers);
    } catch (err) {
      return refuse(400, (err as Error).message, "bad_publish");
    }
    const idempotencyKey = req.headers.get("idempotency-key") ?? undefined;
    if (
      idempotencyKey !== undefined && !IDEMPOTENCY_KEY.test(idempotencyKey)
    ) {
      return refuse(
        400,
        "Idempotency-Key must be 1-200 printable ASCII characters",
        "bad_publish",
      );
    }
    const tsSend = epochSeconds();
    const keyed = messages.filter((m) => m.idempotencyKey !== undefined);
    if (keyed.length > 0) {
      if (keyed.length < messages.length || idempotencyKey !== undefined) {
        return refuse(
          400,
          "idempotency_key: give it on every NDJSON line, or one Idempotency-Key header for the whole batch, not both",
          "bad_publish",
        );
      }
      if (keyed.some((m) => !IDEMPOTENCY_KEY.test(m.idempotencyKey!))) {
        return refuse(
          400,
          "idempotency_key must be 1-200 printable ASCII characters",
          "bad_publish",
        );
      }
      const each = await publishEach(
        source,
        channel,
        messages.map(({ idempotencyKey: key, ...m }) => ({
          body: { tsSend, ...classes, ...m },
          key: key!,
        })),
      );
      if (!each.ok) {
        const err = each.error;
        return refuse(503, err.message, err.label, {
          "retry-after": String(
            Math.max(1, Math.ceil(err.retryAfterMs / 1000)),
          ),
        }, { stored: err.stored, published: each.published });
      }
      const { epoch, seqs, duplicates } = each;
      return Response.json({
        channel,
        count: messages.length,
        seqs,
        epoch,
        duplicates,
      });
    }
    let published;
    try {
      // In naive mode this waits for every client, like every publisher.
      published = await source.publish(
        channel,
        messages.map((m) => ({ tsSend, ...classes, ...m })),
        { idempotencyKey },
      );
    } catch (err) {
      if (!(err instanceof BrokerUnavailableError)) throw err;
      // `stored` tells a publisher whether a retry could duplicate: false
      // (never sent, or refused before writing) or "unknown" (sent, no answer).
      return refuse(503, err.message, err.label, {
        "retry-after": String(Math.max(1, Math.ceil(err.retryAfterMs / 1000))),
      }, { stored: err.stored });
    }
    const { first, last, epoch, duplicate } = published;
    const again = duplicate ? { duplicate: true } : {};
    return Response.json(
      messages.length === 1
        ? { channel, seq: first, epoch, ...again }
        : { channel, count: messages.length, first, last, epoch, ...again },
    );
  };
}
