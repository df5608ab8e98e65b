/**
 * The client side of the protocol, with no transport: what a received frame
 * means, where the client stands in the stream — its position `(epoch,
 * seq)` — and the URL that resumes from there. The SDK's `FanoutClient`
 * (over a browser-style `WebSocket`) and clientsim's `SimClient` (over
 * `WebSocketStream`) both use it, so the protocol is read in one place.
 *
 * @module
 */
import {
  type ControlFrame,
  type DataFrame,
  decodeDataFrames,
  DEFAULT_CHANNEL,
  isOlderEpoch,
  parseControl,
} from "../lib/protocol.ts";

/** A place in a channel's stream: one numbering (`epoch`) and the last seq had in it. */
export interface StreamPosition {
  /** The numbering: a new one after the server restarted (memory broker). */
  readonly epoch: string;
  /** The last seq received, or the one the subscription started after. */
  readonly seq: number;
  /**
   * The `ts_send` of the message received at `seq`, when one was: sent as
   * `?since_ts=` on resume, so a server on a shared engine can tell the
   * client holds a message the engine lost (a failover) and says `reset`.
   */
  readonly ts?: number;
}

/** One published message, as the application gets it. */
export interface FanoutMessage {
  /** Its seq, +1 per message of the channel. */
  readonly seq: number;
  /** The epoch its seq belongs to (undefined until the server named one: a client without control frames). */
  readonly epoch: string | undefined;
  /** The channel it was published on. */
  readonly channel: string;
  /** When it was published, float epoch seconds. */
  readonly ts_send: number;
  /** The message a user published (stdin or `POST /publish`), as its JSON value; undefined for the synthetic source. */
  readonly data: unknown;
  /** The synthetic source's random payload, base64 (`""` for user messages). */
  readonly payload_b64: string;
}

/** One message of a data frame, and how it follows the position before it. */
export interface Delivery {
  /** The message. */
  readonly message: FanoutMessage;
  /** Seqs skipped right before it (0 when it is the next one). */
  readonly missed: number;
  /**
   * True when its seq is not above the position: a duplicate when the server
   * named the epoch on this connection (the position stays), else possibly a
   * restarted numbering (the position follows it).
   */
  readonly repeat: boolean;
}

/** What one received text frame was. */
export type Incoming =
  | {
    /** Data: one message, or (`?batch=1`) an array of them, oldest first. */
    readonly kind: "data";
    readonly deliveries: readonly Delivery[];
  }
  | {
    /** A control frame (`position`, `gap`, `reset`, `dropped`), already applied to the position. */
    readonly kind: "control";
    readonly frame: ControlFrame;
  }
  | {
    /** Neither: not JSON, or not a frame of this protocol. */
    readonly kind: "bad";
    readonly error: string;
  };

/** What a connection asks for, as URL parameters. */
export interface ConnectRequest {
  /** Control frames (`?control=1`); implied by `resume`. @default false */
  readonly control?: boolean;
  /** Live messages as JSON arrays: `true` `?batch=1`, `"auto"` `?batch=auto` (what one turn published or what waited). @default false */
  readonly batch?: boolean | "auto";
  /** Resume from the position held (`?since=&epoch=`) once there is one. @default false */
  readonly resume?: boolean;
  /** Subscriber token or JWT (`?token=`; browsers cannot set headers on a WebSocket). */
  readonly token?: string | undefined;
}

/** Options of {@link StreamState}. */
export interface StreamStateOptions {
  /** The channel. @default "default" */
  readonly channel?: string;
  /** A position saved earlier, to resume from on the first connection. */
  readonly position?: StreamPosition | undefined;
}

/**
 * Where a client stands in one channel's stream, updated by every frame it
 * receives.
 *
 * - a `position` notice names the epoch; on a fresh subscription it also
 *   sets the seq the live stream continues after, so a cut before the first
 *   message still resumes with nothing lost;
 * - a `reset` notice moves to the new epoch, after its `last_seq`;
 * - each data message moves the seq forward; a seq not above it is a repeat.
 *
 * @example
 * ```ts
 * import { StreamState } from "./stream_state.ts";
 * const s = new StreamState({ channel: "prices" });
 * s.receive('{"type":"position","channel":"prices","epoch":"E1","last_seq":40}');
 * const got = s.receive('{"seq":41,"ts_send":1700000000,"channel":"prices","data":{"px":1}}');
 * if (got.kind !== "data" || got.deliveries[0]!.missed !== 0) throw new Error();
 * const url = s.connectUrl("ws://localhost:8765/", { resume: true });
 * if (url !== "ws://localhost:8765/?channel=prices&control=1&since=41&epoch=E1&since_ts=1700000000") throw new Error(url);
 * ```
 */
export class StreamState {
  /** The channel. */
  readonly channel: string;
  #epoch: string | undefined;
  #seq: number | undefined;
  /** The `ts_send` of the message received at {@link seq}, if one was. */
  #ts: number | undefined;
  /** Whether the server named the epoch on the current connection. */
  #aware = false;
  /**
   * `position`/`reset` notices of an older epoch than the one the server
   * named on this connection, ignored: a connection never moves back.
   */
  staleDiscarded = 0;

  /** @param options the channel, and a position to start from */
  constructor(options: StreamStateOptions = {}) {
    this.channel = options.channel ?? DEFAULT_CHANNEL;
    this.#epoch = options.position?.epoch;
    this.#seq = options.position?.seq;
    this.#ts = options.position?.ts;
  }

  /** The epoch held, once the server named one. */
  get epoch(): string | undefined {
    return this.#epoch;
  }

  /** The seq held: the last received, or the one the subscription started after. */
  get seq(): number | undefined {
    return this.#seq;
  }

  /**
   * Moves the position back to `seq` when it is ahead of it: the client
   * stopped in the middle of an array, and the messages after `seq` were
   * never handed to the application.
   */
  rewindTo(seq: number, ts?: number): void {
    if (this.#seq !== undefined && seq < this.#seq) {
      this.#seq = seq;
      this.#ts = ts;
    }
  }

  /** The position held, once both its parts are known (save it to resume later). */
  get position(): StreamPosition | undefined {
    if (this.#epoch === undefined || this.#seq === undefined) return undefined;
    return this.#ts === undefined
      ? { epoch: this.#epoch, seq: this.#seq }
      : { epoch: this.#epoch, seq: this.#seq, ts: this.#ts };
  }

  /**
   * The URL of the next connection: `base` with the channel, the options
   * asked for and, when resuming from a position held, `since` and `epoch`.
   *
   * @param base an absolute `ws:`, `wss:`, `http:` or `https:` URL (http
   *   becomes ws) of the server's subscribe path
   * @param request control frames, batches, resume, token
   * @returns the URL, as text
   * @throws {TypeError} when `base` is not an absolute URL
   */
  connectUrl(base: string | URL, request: ConnectRequest = {}): string {
    const url = new URL(base);
    if (url.protocol === "http:") url.protocol = "ws:";
    else if (url.protocol === "https:") url.protocol = "wss:";
    const q = url.searchParams;
    if (this.channel !== DEFAULT_CHANNEL || q.has("channel")) {
      q.set("channel", this.channel);
    }
    if (request.token !== undefined) q.set("token", request.token);
    if (request.control || request.resume) q.set("control", "1");
    if (request.batch) {
      q.set("batch", request.batch === "auto" ? "auto" : "1");
    }
    if (request.resume && this.#seq !== undefined) {
      q.set("since", String(this.#seq));
      if (this.#epoch !== undefined) q.set("epoch", this.#epoch);
      else q.delete("epoch");
      if (this.#ts !== undefined) q.set("since_ts", String(this.#ts));
      else q.delete("since_ts");
    }
    return url.href;
  }

  /** A new connection opened: until its `position` notice, its numbering is unknown. */
  opened(): void {
    this.#aware = false;
  }

  /**
   * Reads one text frame and moves the position.
   * @param text the frame as received
   * @returns data (each message with what it skipped or repeated), a
   *   control frame, or why it was neither
   */
  receive(text: string): Incoming {
    const control = parseControl(text);
    if (control) {
      if (this.#older(control)) {
        this.staleDiscarded++;
        return {
          kind: "bad",
          error:
            `ignored a ${control.type} to an older epoch than ${this.#epoch}`,
        };
      }
      this.#apply(control);
      return { kind: "control", frame: control };
    }
    let frames: DataFrame[];
    try {
      frames = decodeDataFrames(text);
    } catch (err) {
      return { kind: "bad", error: (err as Error).message };
    }
    return { kind: "data", deliveries: frames.map((f) => this.#deliver(f)) };
  }

  /** A notice that would move this connection to an older epoch than the server named on it. */
  #older(frame: ControlFrame): boolean {
    return (frame.type === "position" || frame.type === "reset") &&
      this.#aware && this.#epoch !== undefined &&
      isOlderEpoch(frame.epoch, this.#epoch);
  }

  #apply(frame: ControlFrame): void {
    if (frame.type === "position") {
      // Another numbering than the one held (a subscription that did not
      // resume): the live stream continues after last_seq. A fresh
      // subscription starts there too.
      if (
        this.#seq === undefined ||
        (this.#epoch !== undefined && frame.epoch !== this.#epoch)
      ) {
        this.#seq = frame.last_seq;
        this.#ts = undefined;
      }
      this.#epoch = frame.epoch;
      this.#aware = true;
    } else if (frame.type === "reset") {
      this.#epoch = frame.epoch;
      this.#seq = frame.last_seq;
      this.#ts = undefined;
      this.#aware = true;
    }
  }

  #deliver(frame: DataFrame): Delivery {
    const last = this.#seq;
    let missed = 0;
    let repeat = false;
    if (last === undefined || frame.seq > last) {
      missed = last === undefined ? 0 : frame.seq - last - 1;
      this.#seq = frame.seq;
      this.#ts = frame.ts_send;
    } else {
      repeat = true;
      // Without the server's word on the numbering, a lower seq may be a
      // restarted stream: follow it rather than skip everything after.
      if (!this.#aware) {
        this.#seq = frame.seq;
        this.#ts = frame.ts_send;
      }
    }
    return {
      message: {
        seq: frame.seq,
        epoch: this.#epoch,
        channel: frame.channel ?? this.channel,
        ts_send: frame.ts_send,
        data: frame.data,
        payload_b64: frame.payload_b64,
      },
      missed,
      repeat,
    };
  }
}
