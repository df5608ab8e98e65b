/**
 * Test helpers shared by the server suites: deadline waits and fake sinks.
 *
 * @module
 */
import { ManualScheduler } from "../lib/scheduler.ts";
import {
  Hub,
  type HubEvent,
  type HubOptions,
  type Logger,
  MemoryBroker,
  type Mode,
  type PublishBody,
  resolveServerConfig,
  type RunningServer,
  type ServerOptions,
  type Sink,
  startServer,
} from "../server/mod.ts";

/**
 * Resolves once `check()` is truthy; rejects after `timeoutMs` naming `what`.
 * Polls every `everyMs`: this is waiting for a condition, not a fixed sleep.
 */
export async function waitFor<T>(
  what: string,
  check: () =>
    | T
    | undefined
    | false
    | null
    | 0
    | Promise<T | undefined | false | null | 0>,
  timeoutMs = 10_000,
  everyMs = 20,
): Promise<T> {
  const deadline = performance.now() + timeoutMs;
  while (true) {
    const value = await check();
    if (value) return value;
    if (performance.now() > deadline) {
      throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    }
    await new Promise((r) => setTimeout(r, everyMs));
  }
}

/** A sink that records frames and lets the test set its backlog. */
export class FakeSink implements Sink {
  /** Frames sent, in order. */
  readonly frames: string[] = [];
  /** Close calls received. */
  readonly closes: { code: number; reason: string }[] = [];
  /** Bytes the fake transport still holds; tests set it to simulate a slow peer. */
  bufferedAmount = 0;
  /** When true, every sent frame stays buffered (a peer that stopped reading). */
  stalled = false;

  /** Where each data frame was handed over as being (`<epoch>:<seq>`), in order. */
  readonly ids: string[] = [];

  /** Records `text` (and the position it is handed with); buffers it when stalled. */
  send(text: string, seq = 0, epoch = ""): void {
    this.frames.push(text);
    if (seq > 0) this.ids.push(`${epoch}:${seq}`);
    if (this.stalled) this.bufferedAmount += text.length;
  }

  /** Records the close. */
  close(code: number, reason: string): void {
    this.closes.push({ code, reason });
  }
}

/**
 * Asserts that `frames` (a control client's, in order) start with a
 * `position` notice for `channel` and returns it with the frames after it.
 */
export function afterPosition(
  frames: readonly string[],
  channel = "default",
): { position: { epoch: string; last_seq: number }; rest: string[] } {
  const [first, ...rest] = frames;
  const position = JSON.parse(first ?? "null");
  if (position?.type !== "position" || position.channel !== channel) {
    throw new Error(`expected a position notice first, got ${first}`);
  }
  return { position, rest };
}

/**
 * A controllable monotonic clock with timers, ms: `advance()` moves time and
 * runs the timers that fall due (the drain watcher's polls, the batch tick).
 */
export class FakeClock extends ManualScheduler {
  /**
   * Moves time forward by `ms` in 1-ms steps, letting promise callbacks run
   * after each step, as they would between real timers (a drain watcher's
   * wake-up resumes its writer in a promise callback).
   */
  async run(ms: number): Promise<void> {
    for (let t = 0; t < ms; t++) {
      this.advance(1);
      for (let i = 0; i < 3; i++) await Promise.resolve();
    }
  }
}

/** Options of {@link testHub}: the hub's, plus the memory broker's. */
export interface TestHubOptions
  extends Partial<Omit<HubOptions, "mode" | "broker" | "now">> {
  /** Messages kept per channel. @default 50 */
  readonly history?: number;
  /** Channels at once. @default 1000 */
  readonly maxChannels?: number;
}

/**
 * A hub fed by a memory broker, both on `clock`, in `mode`; `events` records
 * the hub's lifecycle events and `publish` publishes one message.
 */
export function testHub(
  mode: Mode,
  clock: FakeClock,
  options: TestHubOptions = {},
) {
  const { history = 50, maxChannels = 1000, ...rest } = options;
  const broker = new MemoryBroker({ history, maxChannels, now: clock.now });
  const hub = new Hub({ mode, broker, now: clock.now, ...rest });
  const events: HubEvent[] = [];
  hub.on((e) => events.push(e));
  const publish = (channel: string, body: PublishBody) =>
    broker.publish(channel, [body]);
  return { hub, broker, events, publish };
}

/**
 * A client that connects with `WebSocketStream` and reads only when told,
 * so it can stall for real (the kernel's buffers fill, then the server's).
 */
export class ManualClient implements AsyncDisposable {
  readonly #wss: WebSocketStream;
  #reader: ReadableStreamDefaultReader<string | Uint8Array> | undefined;
  #writer: WritableStreamDefaultWriter<string | Uint8Array> | undefined;
  /** Frames read so far. */
  received = 0;

  /** @param url server URL */
  constructor(url: string) {
    this.#wss = new WebSocketStream(url);
    // A connection that ends without a close frame rejects `closed`; mark it
    // handled now, drainUntilClosed() still reads it.
    this.#wss.closed.catch(() => {});
  }

  /** Waits for the handshake. */
  async open(): Promise<void> {
    const { readable, writable } = await this.#wss.opened;
    this.#reader = readable.getReader();
    this.#writer = writable.getWriter();
    // Both reject when the connection breaks; the reads and writes report it.
    this.#reader.closed.catch(() => {});
    this.#writer.closed.catch(() => {});
  }

  /** Reads one frame; undefined once the stream ended. */
  async read(): Promise<string | Uint8Array | undefined> {
    const { value, done } = await this.#reader!.read();
    if (done) return undefined;
    this.received++;
    return value;
  }

  /** Sends a frame (an ACK, or garbage). */
  async send(data: string | Uint8Array): Promise<void> {
    await this.#writer!.write(data);
  }

  /**
   * Reads everything until the server's close arrives.
   * @returns the close code and reason (Deno 2.9 reports the code as
   *   `closeCode`, not the typed `code`: both are read)
   */
  async drainUntilClosed(): Promise<{ code: number; reason: string }> {
    try {
      while ((await this.read()) !== undefined) { /* keep reading */ }
    } catch { /* the stream errors when the connection ends */ }
    const info = await this.#wss.closed as WebSocketCloseInfo & {
      closeCode?: number;
    };
    return {
      code: info.closeCode ?? info.code ?? 0,
      reason: info.reason ?? "",
    };
  }

  /**
   * Closes from our side, then keeps reading (and discarding) until the
   * server's close reply arrives: cancelling a pending read instead crashes
   * Deno 2.9's WebSocketStream.
   */
  async [Symbol.asyncDispose](): Promise<void> {
    try {
      // Deno 2.9 reads `closeCode` at run time; the types say `code`.
      this.#wss.close(
        {
          closeCode: 1000,
          code: 1000,
          reason: "test done",
        } as WebSocketCloseInfo,
      );
    } catch { /* already closed */ }
    if (this.#reader) await this.drainUntilClosed().catch(() => {});
    else await this.#wss.closed.catch(() => {});
  }
}

/**
 * A server on a free loopback port, without summaries, logging to `logger`
 * (silent by default) instead of stdout.
 */
export function startTestServer(
  overrides: Partial<ServerOptions>,
  logger: Logger = { log() {} },
): RunningServer {
  return startServer(
    resolveServerConfig({
      host: "127.0.0.1",
      port: 0,
      summaryInterval: 3600,
      ...overrides,
    }),
    { logger },
  );
}

/** A client's close, as it saw it. */
export interface SeenClose {
  readonly code: number;
  readonly reason: string;
}

/**
 * Opens `n` raw WebSockets to `url` that ACK every message, waits until each
 * has received `atLeast` messages, and returns their closes (each resolved
 * as that client's connection ends).
 */
export async function ackingClients(
  url: string,
  n: number,
  atLeast = 2,
  timeoutMs = 60_000,
): Promise<Promise<SeenClose>[]> {
  const counts = Array.from({ length: n }, () => 0);
  const closes = counts.map((_, i) => {
    const ws = new WebSocket(url);
    ws.onmessage = (e) => {
      counts[i]!++;
      const { seq, ts_send } = JSON.parse(e.data);
      if (ws.readyState === WebSocket.OPEN) {
        ws.send(JSON.stringify({ ack_ts: ts_send, seq }));
      }
    };
    ws.onerror = () => {};
    return new Promise<SeenClose>((resolve) => {
      ws.onclose = (e) => resolve({ code: e.code, reason: e.reason });
    });
  });
  await waitFor(
    "every client receiving and ACKing",
    () => counts.every((c) => c >= atLeast),
    timeoutMs,
  );
  return closes;
}
