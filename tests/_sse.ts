/**
 * A test-side Server-Sent Events reader over `fetch`: parses the stream
 * into events as they arrive (the way EventSource does, minus reconnects).
 *
 * @module
 */

/** One parsed event. */
export interface SseEvent {
  /** `event:` (default "message"). */
  readonly event: string;
  /** `data:` lines joined by "\n". */
  readonly data: string;
  /** `id:` of this event, if it had one. */
  readonly id: string | undefined;
}

/** Reads an SSE response; `events` grows as they arrive. */
export class SseReader implements AsyncDisposable {
  /** Every event so far. */
  readonly events: SseEvent[] = [];
  /** Every `retry:` value so far (the reconnection delay EventSource would take), in order. */
  readonly retries: number[] = [];
  /** The response. */
  readonly response: Response;
  /** Resolves when the stream ended (or broke). */
  readonly done: Promise<void>;
  /** Why the stream broke, if it did. */
  error: unknown;
  readonly #reader: ReadableStreamDefaultReader<string>;

  private constructor(response: Response) {
    this.response = response;
    this.#reader = response.body!.pipeThrough(new TextDecoderStream())
      .getReader();
    this.done = this.#pump();
  }

  /** Opens `url` with `headers` (e.g. Last-Event-ID). */
  static async open(
    url: string | URL,
    headers: Record<string, string> = {},
  ): Promise<SseReader> {
    const res = await fetch(url, { headers });
    if (!res.body) throw new Error(`no body: ${res.status}`);
    return new SseReader(res);
  }

  /** The data events (`message`), parsed as JSON. */
  data(): Record<string, unknown>[] {
    return this.events.filter((e) => e.event === "message").map((e) =>
      JSON.parse(e.data)
    );
  }

  /** The named events of `type`, their data parsed as JSON. */
  named(type: string): Record<string, unknown>[] {
    return this.events.filter((e) => e.event === type).map((e) =>
      JSON.parse(e.data)
    );
  }

  async #pump(): Promise<void> {
    let buffer = "";
    try {
      while (true) {
        const { value, done } = await this.#reader.read();
        if (done) return;
        buffer += value;
        let end: number;
        while ((end = buffer.indexOf("\n\n")) >= 0) {
          this.#parse(buffer.slice(0, end));
          buffer = buffer.slice(end + 2);
        }
      }
    } catch (err) {
      this.error = err;
    }
  }

  #parse(block: string): void {
    let event = "message";
    const data: string[] = [];
    let id: string | undefined;
    for (const line of block.split("\n")) {
      if (line.startsWith(":")) continue;
      const colon = line.indexOf(":");
      const field = colon < 0 ? line : line.slice(0, colon);
      const value = colon < 0 ? "" : line.slice(colon + 1).replace(/^ /, "");
      if (field === "event") event = value;
      else if (field === "data") data.push(value);
      else if (field === "id") id = value;
      else if (field === "retry" && /^\d+$/.test(value)) {
        this.retries.push(Number(value));
      }
    }
    if (data.length > 0) this.events.push({ event, data: data.join("\n"), id });
  }

  /** Stops reading and closes the connection. */
  async [Symbol.asyncDispose](): Promise<void> {
    await this.#reader.cancel().catch(() => {});
    await this.done;
  }
}
