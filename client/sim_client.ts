/**
 * One simulated subscriber. It reads the socket only when it is ready for the
 * next message, so a slow client really stops reading and the server feels
 * TCP backpressure (a browser-style `WebSocket` would read eagerly and prove
 * nothing).
 *
 * @module
 */
import type { Histogram } from "../lib/histogram.ts";
import { DEFAULT_CHANNEL } from "../lib/protocol.ts";
import {
  Backoff,
  classifyClose,
  CONNECT_TIMEOUT_MS,
  encodeAck,
  INITIAL_BACKOFF_MS,
  MAX_BACKOFF_MS,
} from "../sdk/mod.ts";
import { nowMs, sleep, within } from "./_abortable.ts";
import { ClientStats, type SimClientSnapshot } from "./client_stats.ts";

export type { CloseRecord, SimClientSnapshot } from "./client_stats.ts";

export { INITIAL_BACKOFF_MS, MAX_BACKOFF_MS };
/** How long a client waits for the close handshake it started, ms. */
export const CLOSE_TIMEOUT_MS = 2_000;
const GAVE_UP = Symbol("gave up");

/** The close code a client sends when it stops (normal closure). */
export const CLIENT_STOP_CODE = 1000;

/** Options for {@link SimClient}. */
export interface SimClientOptions {
  /** Name used in reports. @default "cli-0" */
  id?: string;
  /** Processing time per message before the next read, ms. @default 0 */
  slowMs?: number;
  /** Uniform random ± added to `slowMs` per message, ms. @default 0 */
  jitterMs?: number;
  /** Stops the client: it closes with 1000 and stops reading. */
  signal?: AbortSignal;
  /** Called after each data frame is recorded (before the processing delay). */
  onMessage?: (client: SimClient) => void;
  /** Random source in [0, 1) for the jitter. @default Math.random */
  random?: () => number;
  /**
   * Reconnect with `?since=<last seq>&epoch=<its epoch>` so the server
   * replays what was missed (or says `reset` when the stream is another).
   * @default false
   */
  resume?: boolean;
  /** Ask for control frames (`?control=1`): drop notices. @default false */
  control?: boolean;
  /**
   * Ask for several messages per frame (`?batch=1`): each message of an
   * array frame counts, with its own latency; one ACK per frame, for its
   * last message; the processing delay applies per message. @default false
   */
  batch?: boolean;
  /** Called when a connection attempt fails, with the error and the URL tried. */
  onConnectError?: (error: unknown, url: string) => void;
  /** How long a connection may take to open before the attempt counts as failed, ms. @default 10000 */
  connectTimeoutMs?: number;
}

/** The error of an attempt that did not open within the connect deadline. */
export class ConnectTimeout extends Error {
  /** @param ms the deadline, ms */
  constructor(ms: number) {
    super(`connect timeout: no answer within ${ms} ms`);
    this.name = "ConnectTimeout";
  }
}

/**
 * A simulated subscriber over `WebSocketStream`: decodes each data frame,
 * records latency and seq gaps, ACKs it, then "processes" for
 * `slowMs ± jitterMs` before reading again. Reconnects with exponential
 * backoff until stopped, or until a terminal close (4100–4199, 1009: the
 * close-code table's "do not reconnect" rows). Frames are read by the SDK's
 * protocol core (through {@link ClientStats}), the same code as the SDK.
 *
 * @example
 * ```ts ignore
 * import { SimClient } from "./sim_client.ts";
 * await using client = new SimClient("ws://localhost:8765", { slowMs: 200 });
 * client.run();
 * // … later: client.snapshot().messages
 * ```
 */
export class SimClient implements AsyncDisposable {
  /** The client's id, e.g. `cli-0`. */
  readonly id: string;
  /** The server URL. */
  readonly url: string;
  readonly #slowMs: number;
  readonly #jitterMs: number;
  readonly #onMessage: ((client: SimClient) => void) | undefined;
  readonly #random: () => number;
  readonly #stop = new AbortController();
  readonly #signal: AbortSignal;
  readonly #firstAttempt = Promise.withResolvers<void>();
  readonly #stats: ClientStats;
  readonly #resume: boolean;
  readonly #control: boolean;
  readonly #batch: boolean;
  readonly #onConnectError: SimClientOptions["onConnectError"];
  readonly #connectTimeoutMs: number;
  /** The server's `retry_in_ms` hint from the last close, if it gave one. */
  #hintMs: number | undefined;
  #run: Promise<void> | undefined;

  /**
   * @param url `ws://` or `wss://` server URL
   * @param options id, processing delay, stop signal, progress callback
   */
  constructor(url: string, options: SimClientOptions = {}) {
    this.url = url;
    this.id = options.id ?? "cli-0";
    this.#stats = new ClientStats(
      this.id,
      nowMs(),
      new URL(url).searchParams.get("channel") ?? DEFAULT_CHANNEL,
    );
    this.#onConnectError = options.onConnectError;
    this.#connectTimeoutMs = options.connectTimeoutMs ?? CONNECT_TIMEOUT_MS;
    this.#slowMs = options.slowMs ?? 0;
    this.#jitterMs = options.jitterMs ?? 0;
    this.#onMessage = options.onMessage;
    this.#random = options.random ?? Math.random;
    this.#resume = options.resume ?? false;
    this.#control = options.control ?? false;
    this.#batch = options.batch ?? false;
    this.#signal = options.signal
      ? AbortSignal.any([options.signal, this.#stop.signal])
      : this.#stop.signal;
  }

  /** Resolves once the first connection attempt has succeeded or failed. */
  get firstAttempt(): Promise<void> {
    return this.#firstAttempt.promise;
  }

  /**
   * Connects and keeps reconnecting until stopped. Calling it again returns
   * the same promise.
   * @returns a promise that resolves (never rejects) once the client stopped
   */
  run(): Promise<void> {
    this.#run ??= this.#loop();
    return this.#run;
  }

  /** Stops the client and waits until it has. */
  async stop(): Promise<void> {
    this.#stop.abort();
    await this.#run;
  }

  /** Same as {@link stop}, for `await using`. */
  [Symbol.asyncDispose](): Promise<void> {
    return this.stop();
  }

  /** Adds every latency recorded so far to `target` (for swarm totals). */
  mergeLatencyInto(target: Histogram): void {
    this.#stats.mergeLatencyInto(target);
  }

  /** The current statistics; cheap enough to poll while running. */
  snapshot(): SimClientSnapshot {
    return this.#stats.snapshot();
  }

  async #loop(): Promise<void> {
    const backoff = new Backoff();
    while (!this.#signal.aborted) {
      const outcome = await this.#session();
      this.#firstAttempt.resolve();
      // A terminal close (4100-4199, 1009): coming back unchanged would fail again.
      if (outcome === "terminal") break;
      if (outcome === "opened") backoff.reset();
      // The server's hint, spread by up to a quarter more (at most 2 s), wins
      // over the backoff: it paces everyone it closed.
      const hint = this.#hintMs;
      this.#hintMs = undefined;
      const delay = hint === undefined
        ? backoff.next()
        : hint + Math.min(hint / 4, 2_000) * this.#random();
      if (!await sleep(delay, this.#signal)) break;
    }
    this.#firstAttempt.resolve();
  }

  /** The URL of the next connection: resuming from the position held when asked to. */
  #connectUrl(): string {
    if (!this.#resume && !this.#control && !this.#batch) return this.url;
    // A resuming client needs the epoch from the first connection on.
    return this.#stats.stream.connectUrl(this.url, {
      control: this.#control,
      batch: this.#batch,
      resume: this.#resume,
    });
  }

  /**
   * One connection, start to end.
   * @returns whether it opened, and whether its close was terminal
   */
  async #session(): Promise<"failed" | "opened" | "terminal"> {
    const signal = this.#signal;
    // Deno keeps the constructor's abort listener after the handshake and
    // throws BadResource from it on a later abort: give it a signal of its
    // own that is aborted only while the handshake is pending.
    const handshake = new AbortController();
    const abortHandshake = () => handshake.abort();
    let wss: WebSocketStream;
    const url = this.#connectUrl();
    try {
      wss = new WebSocketStream(url, { signal: handshake.signal });
    } catch (error) {
      this.#stats.errors++;
      this.#onConnectError?.(error, url);
      return "failed";
    }
    // Handle `closed` now: it rejects too when the handshake fails.
    const closed = wss.closed.then(
      (info) => ({ info, error: undefined }),
      (error: unknown) => ({ info: undefined, error }),
    );
    signal.addEventListener("abort", abortHandshake, { once: true });
    let connection: WebSocketConnection;
    let deadline: ReturnType<typeof setTimeout> | undefined;
    let timedOut = false;
    try {
      connection = await Promise.race([
        wss.opened,
        new Promise<never>((_, reject) => {
          deadline = setTimeout(() => {
            timedOut = true;
            handshake.abort();
            reject(new ConnectTimeout(this.#connectTimeoutMs));
          }, this.#connectTimeoutMs);
        }),
      ]);
    } catch (error) {
      if (!signal.aborted) {
        this.#stats.errors++;
        this.#onConnectError?.(
          timedOut ? new ConnectTimeout(this.#connectTimeoutMs) : error,
          url,
        );
      }
      wss.opened.catch(() => {});
      await within(closed, CLOSE_TIMEOUT_MS);
      return "failed";
    } finally {
      clearTimeout(deadline);
      signal.removeEventListener("abort", abortHandshake);
    }
    this.#stats.connects++;
    this.#stats.stream.opened();
    this.#stats.connected = true;
    this.#stats.connectedAt = nowMs();
    this.#stats.askedForHistory = new URL(url).searchParams.has("since");
    this.#firstAttempt.resolve();
    const reader = connection.readable.getReader();
    const writer = connection.writable.getWriter();
    let closing = false;
    const close = (code: number, reason: string) => {
      if (closing) return;
      closing = true;
      try {
        // Deno reads `closeCode` (its .d.ts says `code`); pass both.
        wss.close({ closeCode: code, code, reason } as WebSocketCloseInfo);
      } catch { /* already closed */ }
    };
    // Stopping: send our close, then keep reading (and discarding) so the
    // server's close reply, queued behind any unread frames, reaches us.
    // Deno's reader.cancel() is not usable here: a pull already in flight
    // then throws an uncaught "cannot close or enqueue". Each read races a
    // promise of its own: racing one that stays pending for the whole
    // connection would keep every frame read alive (each race leaves a
    // reaction on it), and the client would run out of memory.
    let gaveUp = false;
    let wake: ((v: typeof GAVE_UP) => void) | undefined;
    let giveUpTimer: ReturnType<typeof setTimeout> | undefined;
    const onAbort = () => {
      close(CLIENT_STOP_CODE, "client stopping");
      giveUpTimer ??= setTimeout(() => {
        gaveUp = true;
        wake?.(GAVE_UP);
      }, CLOSE_TIMEOUT_MS);
    };
    signal.addEventListener("abort", onAbort, { once: true });
    if (signal.aborted) onAbort();
    try {
      while (!gaveUp) {
        const stop = new Promise<typeof GAVE_UP>((resolve) => (wake = resolve));
        const result = await Promise.race([reader.read(), stop]);
        wake = undefined;
        if (result === GAVE_UP || result.done) break;
        if (signal.aborted) continue;
        const messages = this.#frame(result.value, writer, close);
        const delay = this.#delayMs() * messages;
        if (delay > 0) await sleep(delay, signal);
      }
    } catch {
      // The read failed: the connection broke; `closed` says how.
    } finally {
      signal.removeEventListener("abort", onAbort);
      clearTimeout(giveUpTimer);
      this.#stats.connected = false;
    }
    if (signal.aborted) {
      await within(closed, CLOSE_TIMEOUT_MS);
      return "opened";
    }
    const end = await within(closed, CLOSE_TIMEOUT_MS) ??
      { info: undefined, error: new Error("connection lost") };
    if (end.info) {
      const info = end.info as WebSocketCloseInfo & { closeCode?: number };
      const code = info.closeCode ?? info.code ?? 1005;
      this.#stats.recordClose(code, info.reason ?? "", nowMs());
      const kind = classifyClose(code, info.reason ?? "");
      this.#hintMs = kind.hintMs;
      return kind.reconnect ? "opened" : "terminal";
    }
    this.#stats.errors++;
    const error = end.error;
    this.#stats.recordClose(
      1006,
      error instanceof Error ? error.message : String(error),
      nowMs(),
    );
    return "opened";
  }

  #frame(
    value: string | Uint8Array,
    writer: WritableStreamDefaultWriter<string | Uint8Array>,
    close: (code: number, reason: string) => void,
  ): number {
    const before = this.#stats.messages;
    const frame = this.#stats.recordFrame(value, nowMs());
    if (!frame) return 1;
    // Not awaited: a pending ACK must never stop us reading.
    writer.write(encodeAck(frame.ts_send, frame.seq)).then(
      () => this.#stats.acksSent++,
      () => close(1011, "ack write failed"),
    );
    this.#onMessage?.(this);
    return Math.max(1, this.#stats.messages - before);
  }

  #delayMs(): number {
    if (this.#jitterMs === 0) return this.#slowMs;
    const jitter = (this.#random() * 2 - 1) * this.#jitterMs;
    return Math.max(0, this.#slowMs + jitter);
  }
}
