/**
 * The wire protocol, compatible with the original Python implementation.
 *
 * Server → client, one JSON text frame per message:
 * `{"seq": int, "ts_send": epoch seconds, "payload_b64": base64}`.
 * Client → server ACK: `{"ack_ts": <ts_send received>, "seq": int}`.
 *
 * @module
 */

/** A data frame as the server sends it. */
export interface DataFrame {
  /** Sequence number, +1 per published message, starting at 1. */
  readonly seq: number;
  /** Publish time, float epoch seconds. */
  readonly ts_send: number;
  /** Base64 of the payload bytes. */
  readonly payload_b64: string;
}

/** An acknowledgement a client sends for a data frame. */
export interface AckFrame {
  /** The `ts_send` of the frame acknowledged. */
  readonly ack_ts: number;
  /** The `seq` of the frame acknowledged. */
  readonly seq: number;
}

/** Largest client frame the server accepts, bytes. An ACK is ~50 bytes. */
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
): string {
  // Hand-built: the three fields need no escaping (ints, floats, base64).
  return `{"seq":${seq},"ts_send":${tsSend},"payload_b64":"${payloadB64}"}`;
}

/**
 * Parses a data frame received from a server.
 * @throws {TypeError} when `text` is not a JSON object with an integer `seq`
 *   and a numeric `ts_send`
 */
export function decodeData(text: string): DataFrame {
  const value = parseObject(text, "data frame");
  const { seq, ts_send, payload_b64 } = value;
  if (!Number.isSafeInteger(seq)) {
    throw new TypeError("Cannot decode data frame: 'seq' must be an integer");
  }
  if (typeof ts_send !== "number" || !Number.isFinite(ts_send)) {
    throw new TypeError("Cannot decode data frame: 'ts_send' must be a number");
  }
  return {
    seq: seq as number,
    ts_send,
    payload_b64: typeof payload_b64 === "string" ? payload_b64 : "",
  };
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
 * @throws {RangeError} for frames larger than {@link MAX_CLIENT_FRAME_BYTES}
 */
export function decodeAck(data: unknown): AckFrame {
  if (typeof data !== "string") {
    throw new TypeError(
      "Cannot decode client frame: binary frames are not accepted",
    );
  }
  if (data.length > MAX_CLIENT_FRAME_BYTES) {
    throw new RangeError(
      `Cannot decode client frame: ${data.length} bytes exceeds the ${MAX_CLIENT_FRAME_BYTES}-byte limit`,
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
