/**
 * The Server-Sent Events wire format of fanout's frames: one event per
 * frame (`id: <epoch>:<seq>:<ts_send>` on data, `event: <type>` on control frames),
 * encoded once per server for all the subscribers a frame goes to, and the
 * `retry:` line every stream starts with.
 *
 * @module
 */
const enc = new TextEncoder();

/**
 * The `ts_send` a data frame's text carries right after its seq
 * (`{"seq":N,"ts_send":T,…`, as `lib/protocol.ts` writes every data
 * frame), kept as written so it reads back as the same number.
 */
const TS_SEND = /^\{"seq":\d+,"ts_send":([0-9][0-9.eE+-]{0,31})[,}]/;

/**
 * The SSE event for one frame: a data frame (`seq` above 0) with
 * `id: <epoch>:<seq>:<ts_send>`, a control frame as `event: <type>` (its
 * `type` field, which a control frame's text starts with). The position
 * comes from the caller; the `ts_send` from the frame, so that the
 * `Last-Event-ID` an EventSource resumes with names the message it holds
 * there, as the SDK's `?since_ts=` does (a Redis node compares it with its
 * stream: see `docs/PROTOCOL.md`, "Resume"). Frames are JSON text
 * without raw line breaks; any there would be split into `data:` lines.
 *
 * @param text the frame
 * @param seq its seq in the channel's stream; 0 for a control frame
 * @param epoch the channel's epoch, for the id
 * @returns the event, ending with its blank line
 * @example
 * ```ts
 * import { sseEvent } from "./sse_event.ts";
 * const e = sseEvent('{"seq":7,"ts_send":1.5,"payload_b64":""}', 7, "E1");
 * if (e !== 'id: E1:7:1.5\ndata: {"seq":7,"ts_send":1.5,"payload_b64":""}\n\n') throw new Error(e);
 * if (!sseEvent('{"type":"gap","channel":"a"}', 0, "E1").startsWith("event: gap\n")) throw new Error();
 * ```
 */
export function sseEvent(text: string, seq: number, epoch: string): string {
  const data = /[\r\n]/.test(text)
    ? text.split(/\r\n|\r|\n/).join("\ndata: ")
    : text;
  if (seq > 0) {
    if (epoch === "") return `id: ${seq}\ndata: ${data}\n\n`;
    const ts = TS_SEND.exec(text)?.[1];
    const id = ts === undefined ? `${epoch}:${seq}` : `${epoch}:${seq}:${ts}`;
    return `id: ${id}\ndata: ${data}\n\n`;
  }
  const type = /^\{"type":"([a-z_]+)"/.exec(text)?.[1];
  if (type !== undefined) return `event: ${type}\ndata: ${data}\n\n`;
  return `data: ${data}\n\n`;
}

/**
 * Encodes events once for every SSE subscriber of one server: its
 * subscribers of a channel are handed the same frame one after another, so
 * the last event encoded is kept and reused while the next frame is the same.
 */
export class SseEncoder {
  #text = "";
  #seq = -1;
  #epoch = "";
  #bytes = new Uint8Array();

  /** The event for `text` at `seq` in `epoch`, as bytes (shared: never modified). */
  encode(text: string, seq: number, epoch: string): Uint8Array {
    if (text !== this.#text || seq !== this.#seq || epoch !== this.#epoch) {
      this.#bytes = enc.encode(sseEvent(text, seq, epoch));
      this.#text = text;
      this.#seq = seq;
      this.#epoch = epoch;
    }
    return this.#bytes;
  }
}

/** The `retry:` line of each reconnect delay in use, encoded once. */
const retryLines = new Map<number, Uint8Array>();

/** The `retry:` line for `ms`, shared by every stream that uses it (never modified). */
export function retryLine(ms: number): Uint8Array {
  let line = retryLines.get(ms);
  if (!line) retryLines.set(ms, line = enc.encode(`retry: ${ms}\n\n`));
  return line;
}
