/**
 * One simulated client's statistics as plain state: frames decoded, latency
 * histogram, drops inferred from seq gaps, connects, closes. No sockets and
 * no clock of its own, so it is testable with plain calls. What a frame
 * means and where the client stands in the stream is the SDK's
 * {@link StreamState}: the one reading of the protocol on the client side.
 *
 * @module
 */
import { Histogram, type LatencySummary } from "../lib/histogram.ts";
import { epochSeconds } from "../lib/protocol.ts";
import { type FanoutMessage, StreamState } from "../sdk/mod.ts";

/** One connection that ended without this client asking it to. */
export interface CloseRecord {
  /** Close code from the server, or 1006 when the connection broke. */
  code: number;
  /** Close reason from the server, or the error that broke the connection. */
  reason: string;
  /** When the close was seen, epoch milliseconds. */
  atMs: number;
}

/** A client's statistics at one moment; plain data, safe to keep. */
export interface SimClientSnapshot {
  /** The client's id, e.g. `cli-0`. */
  id: string;
  /** Data frames received and decoded. */
  messages: number;
  /** Successful connections (handshakes completed). */
  connects: number;
  /** Messages missed, inferred from gaps in `seq`. */
  drops: number;
  /** ACKs written to the socket. */
  acksSent: number;
  /** Frames that were binary, not JSON, or not data frames; skipped. */
  badFrames: number;
  /** Latency (now − ts_send at receipt), ms. */
  latency: LatencySummary;
  /** Every close this client did not start itself, oldest first. */
  closes: CloseRecord[];
  /** Whether a connection is open now. */
  connected: boolean;
  /** Failed connection attempts plus connections that broke (1006). */
  errors: number;
  /** When the client started, epoch ms. */
  startedAt: number;
  /** First data frame, epoch ms, or null before any. */
  firstMessageAt: number | null;
  /** Latest data frame, epoch ms, or null before any. */
  lastMessageAt: number | null;
  /** The seq this client stands at: the last received, or the one the server said its subscription starts after; null before either. */
  lastSeq: number | null;
  /** The epoch `lastSeq` belongs to, from the server's `position`/`reset` notices (control clients), or null. */
  epoch: string | null;
  /** Frames whose seq was not above the last one: duplicates, or a server restart. */
  repeats: number;
  /**
   * Messages replayed from history: received on a connection that asked for
   * them (`?since=`) and published before it opened. A connection that did
   * not ask counts none, even when the publisher ran late.
   */
  recovered: number;
  /** What the server's control frames announced. */
  notices: {
    /** Messages the server said it dropped for this client. */
    dropped: number;
    /** Messages a resume could not replay (older than the history). */
    missed: number;
    /** Times the server said the stream started over (a new epoch). */
    resets: number;
    /** Messages the server said outlived their time to live (protocol 3). */
    expired: number;
    /** Times the server moved this client to another tier (`--policy ladder`). */
    tierChanges: number;
  };
}

/**
 * Mutable counters for one client; {@link ClientStats.snapshot} copies them
 * out as a {@link SimClientSnapshot}.
 *
 * @example
 * ```ts
 * import { ClientStats } from "./client_stats.ts";
 * const stats = new ClientStats("cli-0", 0);
 * stats.recordFrame('{"seq":1,"ts_send":1,"payload_b64":""}', 10);
 * stats.recordFrame('{"seq":4,"ts_send":1,"payload_b64":""}', 20);
 * if (stats.snapshot().drops !== 2) throw new Error("2 and 3 were missed");
 * ```
 */
export class ClientStats {
  /** Data frames received and decoded. */
  messages = 0;
  /** Successful connections. */
  connects = 0;
  /** Messages missed, from seq gaps. */
  drops = 0;
  /** ACKs written. */
  acksSent = 0;
  /** Malformed frames skipped. */
  badFrames = 0;
  /** Failed connects and broken connections. */
  errors = 0;
  /** Whether a connection is open now. */
  connected = false;
  readonly #id: string;
  readonly #startedAt: number;
  readonly #latency = new Histogram();
  readonly #closes: CloseRecord[] = [];
  readonly #stream: StreamState;
  #repeats = 0;
  #recovered = 0;
  readonly #notices = {
    dropped: 0,
    missed: 0,
    resets: 0,
    expired: 0,
    tierChanges: 0,
  };
  /** When the current connection opened, epoch ms (set by the client on connect). */
  connectedAt = 0;
  /** Whether the current connection asked for history (`?since=`): only its messages can be replayed ones. */
  askedForHistory = false;
  #firstMessageAt: number | null = null;
  #lastMessageAt: number | null = null;

  /**
   * @param id the client's id
   * @param startedAt when the client started, epoch ms
   * @param channel the channel subscribed to
   */
  constructor(id: string, startedAt: number, channel?: string) {
    this.#id = id;
    this.#startedAt = startedAt;
    this.#stream = new StreamState(
      channel === undefined ? {} : { channel },
    );
  }

  /** Where the client stands in the stream; it builds the resume URL. */
  get stream(): StreamState {
    return this.#stream;
  }

  /**
   * Decodes and records one received frame: latency now − ts_send, seq gaps
   * as drops, a seq at or below the last one as a repeat (the SDK's
   * {@link StreamState} decides both, and moves the position).
   * Control frames update the notices. Malformed or binary frames only bump
   * `badFrames`. An array frame (`?batch=1`) records each of its messages.
   *
   * @param data the frame as the socket delivered it
   * @param atMs when it was read, epoch ms
   * @returns the decoded message (to ACK; an array frame's last message),
   *   or undefined for control and malformed frames
   */
  recordFrame(
    data: string | Uint8Array,
    atMs: number,
  ): FanoutMessage | undefined {
    if (typeof data !== "string") {
      this.badFrames++;
      return undefined;
    }
    const got = this.#stream.receive(data);
    if (got.kind === "bad") {
      this.badFrames++;
      return undefined;
    }
    if (got.kind === "control") {
      const control = got.frame;
      if (control.type === "dropped") this.#notices.dropped += control.count;
      else if (control.type === "gap") this.#notices.missed += control.missed;
      else if (control.type === "reset") this.#notices.resets++;
      else if (control.type === "expired") {
        this.#notices.expired += control.count;
      } else if (control.type === "tier") this.#notices.tierChanges++;
      return undefined;
    }
    const now = epochSeconds();
    for (const { message, missed, repeat } of got.deliveries) {
      this.#latency.record((now - message.ts_send) * 1000);
      this.messages++;
      this.#firstMessageAt ??= atMs;
      this.#lastMessageAt = atMs;
      if (this.askedForHistory && message.ts_send * 1000 < this.connectedAt) {
        this.#recovered++;
      }
      this.drops += missed;
      if (repeat) this.#repeats++;
    }
    return got.deliveries[got.deliveries.length - 1]?.message;
  }

  /** Records a connection that ended without this client asking it to. */
  recordClose(code: number, reason: string, atMs: number): void {
    this.#closes.push({ code, reason, atMs: Math.round(atMs) });
  }

  /** Adds every latency recorded so far to `target`. */
  mergeLatencyInto(target: Histogram): void {
    target.merge(this.#latency);
  }

  /** A copy of the current values, safe to keep. */
  snapshot(): SimClientSnapshot {
    return {
      id: this.#id,
      messages: this.messages,
      connects: this.connects,
      drops: this.drops,
      acksSent: this.acksSent,
      badFrames: this.badFrames,
      latency: this.#latency.summary(),
      closes: this.#closes.map((c) => ({ ...c })),
      connected: this.connected,
      errors: this.errors,
      startedAt: this.#startedAt,
      firstMessageAt: this.#firstMessageAt,
      lastMessageAt: this.#lastMessageAt,
      lastSeq: this.#stream.seq ?? null,
      epoch: this.#stream.epoch ?? null,
      repeats: this.#repeats,
      recovered: this.#recovered,
      notices: { ...this.#notices },
    };
  }
}
