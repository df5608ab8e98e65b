/**
 * Turns a user's message (a stdin line, an HTTP body) into what the hub
 * publishes: its content as JSON text, and its conflation key.
 *
 * @module
 */

/** A user's message, ready for `hub.publish`. */
export interface UserMessage {
  /** The content as JSON text: the parsed JSON re-serialised, or the text as a JSON string. */
  readonly dataJson: string;
  /** Value of the `--conflate-key` field, when the content is an object that has it. */
  readonly key?: string;
  /** Time to live, ms: the object's `ttl_ms` field (NDJSON lines), when it has a positive number there. */
  readonly ttlMs?: number;
  /** The object's `critical` field, when it is a boolean (NDJSON lines). */
  readonly critical?: boolean;
  /** The object's `idempotency_key` field, when it is a string (NDJSON lines). */
  readonly idempotencyKey?: string;
}

/**
 * Builds a message from text.
 * @param text the message
 * @param options `json`: "require" (invalid JSON is an error), "try" (fall
 *   back to a string), or "never" (always a string); `conflateKey` names the
 *   field to conflate on
 * @throws {SyntaxError} when `json` is "require" and `text` is not JSON
 * @example
 * ```ts
 * import { messageFromText } from "./message_body.ts";
 * const m = messageFromText('{"sym":"AAPL","px":1}', { json: "try", conflateKey: "sym" });
 * if (m.key !== "AAPL" || m.dataJson !== '{"sym":"AAPL","px":1}') throw new Error();
 * ```
 */
export function messageFromText(
  text: string,
  options: {
    json: "require" | "try" | "never";
    conflateKey?: string | undefined;
    /** Read `ttl_ms`, `critical` and `idempotency_key` from the object (NDJSON lines). @default false */
    classes?: boolean;
  },
): UserMessage {
  let value: unknown = text;
  if (options.json !== "never") {
    try {
      value = JSON.parse(text);
    } catch (err) {
      if (options.json === "require") throw err;
    }
  }
  const dataJson = JSON.stringify(value);
  const field = options.conflateKey;
  const object = typeof value === "object" && value !== null
    ? value as Record<string, unknown>
    : undefined;
  const ttl = options.classes ? object?.ttl_ms : undefined;
  const critical = options.classes ? object?.critical : undefined;
  const once = options.classes ? object?.idempotency_key : undefined;
  const classes = {
    ...(typeof ttl === "number" && ttl > 0 ? { ttlMs: ttl } : {}),
    ...(typeof critical === "boolean" ? { critical } : {}),
    ...(typeof once === "string" ? { idempotencyKey: once } : {}),
  };
  if (field !== undefined && object !== undefined && field in object) {
    const key = object[field];
    return {
      dataJson,
      key: typeof key === "string" ? key : JSON.stringify(key),
      ...classes,
    };
  }
  return { dataJson, ...classes };
}
