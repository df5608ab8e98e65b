/**
 * A tiny WebSocket publisher for the clientsim tests: it speaks the fanout
 * wire protocol on 127.0.0.1 and a free port, and records what each
 * connected client did (ACKs, how much the server had to buffer for it).
 *
 * @module
 */
import {
  type AckFrame,
  decodeAck,
  encodeData,
  epochSeconds,
} from "../lib/protocol.ts";

/** Options for {@link WsFixture.start}. */
export interface WsFixtureOptions {
  /** Frames published per second to every open socket. @default 50 */
  rate?: number;
  /** Payload bytes per frame (base64-encoded on the wire). @default 64 */
  payloadBytes?: number;
}

/** What the fixture knows about one accepted client connection. */
export interface FixtureSocket {
  /** Accept order, from 0. */
  readonly index: number;
  /** The server side of the connection. */
  readonly socket: WebSocket;
  /** ACKs received, in arrival order. */
  readonly acks: AckFrame[];
  /** Frames received that were not valid ACKs. */
  badFrames: number;
  /** Largest `bufferedAmount` seen at any publish tick, bytes. */
  maxBufferedAmount: number;
  /** Close code the fixture saw, once closed. */
  closeCode: number | undefined;
}

/**
 * Publishes `encodeData(seq, epochSeconds(), payload)` at a fixed rate to every
 * open socket. Use with `await using`.
 */
export class WsFixture implements AsyncDisposable {
  /** Every socket ever accepted, in accept order. */
  readonly sockets: FixtureSocket[] = [];
  readonly #server: Deno.HttpServer<Deno.NetAddr>;
  readonly #timer: ReturnType<typeof setInterval>;
  readonly #payloadB64: string;
  #seq = 0;

  private constructor(options: WsFixtureOptions) {
    this.#payloadB64 = randomBase64(options.payloadBytes ?? 64);
    this.#server = Deno.serve(
      { port: 0, hostname: "127.0.0.1", onListen() {} },
      (req) => this.#accept(req),
    );
    this.#timer = setInterval(() => this.#tick(), 1000 / (options.rate ?? 50));
  }

  /** Starts a fixture listening on 127.0.0.1 and a free port. */
  static start(options: WsFixtureOptions = {}): WsFixture {
    return new WsFixture(options);
  }

  /** `ws://127.0.0.1:<port>/`. */
  get url(): string {
    return `ws://127.0.0.1:${this.#server.addr.port}/`;
  }

  /** Sockets currently open. */
  get openCount(): number {
    return this.sockets.filter((s) => s.socket.readyState === WebSocket.OPEN)
      .length;
  }

  /** The last seq published. */
  get seq(): number {
    return this.#seq;
  }

  /** Skips `n` seq numbers: the next frame published has seq `seq + n + 1`. */
  skip(n: number): void {
    this.#seq += n;
  }

  /** Restarts numbering, as a restarted server would: next seq is 1. */
  restartSeq(): void {
    this.#seq = 0;
  }

  /** Closes accepted socket `index` with `code` and `reason`. */
  closeClient(index: number, code: number, reason: string): void {
    this.sockets[index]?.socket.close(code, reason);
  }

  /** Sends `data` as-is to every open socket (to test malformed frames). */
  broadcastRaw(data: string | Uint8Array<ArrayBuffer>): void {
    for (const { socket } of this.sockets) {
      if (socket.readyState === WebSocket.OPEN) socket.send(data);
    }
  }

  #accept(req: Request): Response {
    if (req.headers.get("upgrade") !== "websocket") {
      return new Response("websocket only", { status: 400 });
    }
    const { socket, response } = Deno.upgradeWebSocket(req);
    const entry: FixtureSocket = {
      index: this.sockets.length,
      socket,
      acks: [],
      badFrames: 0,
      maxBufferedAmount: 0,
      closeCode: undefined,
    };
    this.sockets.push(entry);
    socket.onmessage = (e) => {
      try {
        entry.acks.push(decodeAck(e.data));
      } catch {
        entry.badFrames++;
      }
    };
    socket.onclose = (e) => entry.closeCode = e.code;
    socket.onerror = () => {};
    return response;
  }

  #tick(): void {
    const text = encodeData(++this.#seq, epochSeconds(), this.#payloadB64);
    for (const entry of this.sockets) {
      const { socket } = entry;
      if (socket.readyState !== WebSocket.OPEN) continue;
      socket.send(text);
      if (socket.bufferedAmount > entry.maxBufferedAmount) {
        entry.maxBufferedAmount = socket.bufferedAmount;
      }
    }
  }

  /** Stops publishing, closes every socket (1001) and the listener. */
  async [Symbol.asyncDispose](): Promise<void> {
    clearInterval(this.#timer);
    for (const { socket } of this.sockets) {
      if (socket.readyState === WebSocket.OPEN) socket.close(1001, "fixture");
    }
    await this.#server.shutdown();
  }
}

function randomBase64(bytes: number): string {
  const payload = new Uint8Array(bytes);
  for (let i = 0; i < bytes; i += 65536) {
    crypto.getRandomValues(payload.subarray(i, i + 65536));
  }
  let binary = "";
  for (const b of payload) binary += String.fromCharCode(b);
  return btoa(binary);
}

/**
 * Resolves once `condition()` is true; polls every 10 ms.
 * @throws {Error} naming `what` when `timeoutMs` passes first
 */
export async function waitFor(
  condition: () => boolean,
  what: string,
  timeoutMs = 10_000,
): Promise<void> {
  const deadline = performance.now() + timeoutMs;
  while (!condition()) {
    if (performance.now() > deadline) {
      throw new Error(`Timed out after ${timeoutMs} ms waiting for ${what}`);
    }
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
}
