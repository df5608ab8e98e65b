/**
 * The hub: channels and their sessions, the broadcast mode, and the
 * server-wide counters. It never touches a socket; sessions talk to sinks.
 *
 * @module
 */
import type { DisconnectReason } from "../lib/close_codes.ts";
import { Histogram } from "../lib/histogram.ts";
import { DEFAULT_CHANNEL, encodeData } from "../lib/protocol.ts";
import type { Broadcaster } from "./broadcaster.ts";
import { ChannelRegistry } from "./channels.ts";
import type { DrainWatcher } from "./drain_watcher.ts";
import { type ServerLatency, Session, type SessionEnd } from "./session.ts";
import type { Sink } from "./sink.ts";
import { checkStall, newStallState, type StallState } from "./stall_watch.ts";

/** Lifecycle events, for logs and metrics; per-message work is never an event. */
export type HubEvent =
  | { readonly type: "connect"; readonly session: Session }
  | {
    readonly type: "disconnect";
    readonly session: Session;
    readonly end: SessionEnd;
  };

/** Options of {@link Hub}. */
export interface HubOptions {
  /** The broadcast mode. */
  readonly broadcaster: Broadcaster;
  /** The drain poller shared with the broadcaster. */
  readonly watcher: DrainWatcher;
  /** Monotonic clock, ms. @default performance.now */
  readonly now?: () => number;
  /**
   * Close a client whose buffered data has not moved for this long, ms
   * (`--ping-interval` + `--ping-timeout`); 0 disables. @default 0
   */
  readonly stallTimeoutMs?: number;
  /** Messages kept per channel for `?since=` replay (`--history`). @default 0 */
  readonly history?: number;
  /** Channels that may exist at once (`--max-channels`). @default 1000 */
  readonly maxChannels?: number;
  /** Largest client frame accepted, bytes (`--max-frame-bytes`). */
  readonly maxFrameBytes?: number;
  /** Client frames per second accepted (`--max-inbound-rate`). @default Infinity */
  readonly maxInboundRate?: number;
}

/** A subscriber's request, from its URL. */
export interface OpenRequest {
  /** Peer address, for logs. */
  readonly remote: string;
  /** Channel to subscribe to. @default DEFAULT_CHANNEL */
  readonly channel?: string;
  /** Replay every kept message after this seq first (`?since=`). */
  readonly since?: number;
  /** Send control frames (drop notices); implied by `since`. @default false */
  readonly control?: boolean;
  /** Several messages per frame, as a JSON array (`?batch=1`; queue mode only). @default false */
  readonly batch?: boolean;
}

/** One message to publish: a synthetic payload, or a user's JSON content. */
export interface PublishBody {
  /** When the message was due, epoch seconds. @default now */
  readonly tsSend: number;
  /** Base64 payload (synthetic source). */
  readonly payloadB64?: string;
  /** The message as JSON text (stdin and HTTP sources). */
  readonly dataJson?: string;
  /** Conflation key, when the message has one. */
  readonly key?: string;
}

/** Totals that outlive the sessions they came from. */
export interface HubTotals {
  /** Messages published. */
  published: number;
  /** Frames handed to sockets, all sessions ever. */
  delivered: number;
  /** Messages dropped (queue full, oldest dropped), all sessions ever. */
  dropped: number;
  /** Messages still queued for a session when it ended, discarded with it. */
  discarded: number;
  /** Valid ACKs received, all sessions ever. */
  acks: number;
  /** Malformed or oversized client frames, all sessions ever. */
  badFrames: number;
  /** Sessions opened. */
  connects: number;
  /** Sessions ended, by reason. */
  readonly disconnects: Map<DisconnectReason, number>;
  /** Requests refused before a session existed (auth, limits, bad input), by reason. */
  readonly rejections: Map<string, number>;
}

/** What waits for the open sessions right now. */
export interface BacklogTotals {
  /** Messages in the sessions' queues (queue mode). */
  queued: number;
  /** Bytes handed to sockets and not yet written out. */
  bufferedBytes: number;
}

/** Registry of sessions and channels, and the entry point of every published message. */
export class Hub {
  readonly #sessions = new Set<Session>();
  readonly #channels: ChannelRegistry;
  readonly #stall = new WeakMap<Session, StallState>();
  readonly #listeners: ((e: HubEvent) => void)[] = [];
  readonly #options: HubOptions;
  readonly #now: () => number;
  readonly #totals: HubTotals = {
    published: 0,
    delivered: 0,
    dropped: 0,
    discarded: 0,
    acks: 0,
    badFrames: 0,
    connects: 0,
    disconnects: new Map(),
    rejections: new Map(),
  };
  /** Server-wide latency, all sessions ever; never reset (the summaries reset their own). */
  readonly latency: ServerLatency = {
    send: new Histogram(),
    e2e: new Histogram(),
  };
  #nextId = 1;

  /** @param options broadcaster, watcher, clock, limits */
  constructor(options: HubOptions) {
    this.#options = options;
    this.#now = options.now ?? (() => performance.now());
    this.#channels = new ChannelRegistry({
      history: options.history ?? 0,
      maxChannels: options.maxChannels ?? 1000,
    });
  }

  /** The broadcast mode in use. */
  get broadcaster(): Broadcaster {
    return this.#options.broadcaster;
  }

  /** Open sessions, all channels. */
  get sessions(): ReadonlySet<Session> {
    return this.#sessions;
  }

  /** The channels. */
  get channels(): ChannelRegistry {
    return this.#channels;
  }

  /** Server-wide totals; per-session counts include open sessions. */
  totals(): Readonly<HubTotals> {
    let { delivered, dropped, acks, badFrames } = this.#totals;
    for (const s of this.#sessions) {
      delivered += s.stats.sent;
      dropped += s.stats.drops;
      acks += s.stats.acks;
      badFrames += s.stats.badFrames;
    }
    return { ...this.#totals, delivered, dropped, acks, badFrames };
  }

  /** Messages queued and bytes buffered across the open sessions. */
  backlog(): BacklogTotals {
    let queued = 0;
    let bufferedBytes = 0;
    for (const s of this.#sessions) {
      queued += this.#options.broadcaster.queueLength(s);
      bufferedBytes += s.sink.bufferedAmount;
    }
    return { queued, bufferedBytes };
  }

  /** Counts a request refused before it became a session (for metrics and logs). */
  reject(reason: string): void {
    const r = this.#totals.rejections;
    r.set(reason, (r.get(reason) ?? 0) + 1);
  }

  /** Subscribes to lifecycle events. */
  on(listener: (e: HubEvent) => void): void {
    this.#listeners.push(listener);
  }

  /**
   * Registers a new client writing to `sink`, sends it what `?since=` asks
   * for (or the gap it cannot replay), then the live stream.
   * @throws {RangeError} when the channel would exceed `--max-channels`
   */
  open(sink: Sink, request: OpenRequest): Session {
    const channel = this.#channels.acquire(request.channel ?? DEFAULT_CHANNEL);
    const session = new Session(`c${this.#nextId++}`, sink, {
      remote: request.remote,
      channel: channel.name,
      control: request.control === true || request.since !== undefined,
      batch: request.batch === true,
      maxFrameBytes: this.#options.maxFrameBytes,
      maxInboundRate: this.#options.maxInboundRate,
      now: this.#now,
      onEnd: (s, end) => this.#ended(s, end),
      latency: this.latency,
    });
    this.#sessions.add(session);
    channel.sessions.add(session);
    this.#stall.set(session, newStallState(this.#now()));
    this.#options.broadcaster.attach(session, channel.backlog(request.since));
    this.#totals.connects++;
    this.#emit({ type: "connect", session });
    return session;
  }

  /**
   * Publishes one message to every session of `channel` (naive mode awaits
   * each client; queue mode returns at once).
   * @returns the message's seq, and a promise in naive mode
   * @throws {RangeError} when the channel would exceed `--max-channels`
   */
  publish(
    channelName: string,
    body: PublishBody,
  ): { seq: number; done: void | Promise<void> } {
    const channel = this.#channels.acquire(channelName);
    const seq = channel.seq + 1;
    const text = encodeData(seq, body.tsSend, body.payloadB64 ?? "", {
      ...(channelName === DEFAULT_CHANNEL ? {} : { channel: channelName }),
      ...(body.dataJson === undefined ? {} : { dataJson: body.dataJson }),
    });
    const frame = {
      seq,
      text,
      bytes: text.length,
      enqueuedAt: this.#now(),
      ...(body.key === undefined ? {} : { key: body.key }),
    };
    channel.record(frame);
    this.#totals.published++;
    return {
      seq,
      done: this.#options.broadcaster.broadcast(frame, channel.sessions),
    };
  }

  /** Periodic housekeeping: slow-client policy and the stall check. */
  tick(): void {
    const now = this.#now();
    this.#options.broadcaster.tick(this.#sessions, now);
    const limit = this.#options.stallTimeoutMs ?? 0;
    if (limit <= 0) return;
    for (const session of this.#sessions) {
      const state = this.#stall.get(session);
      if (!state || session.closed) continue;
      const stalled = checkStall(
        state,
        session.stats.bytesSent,
        session.sink.bufferedAmount,
        now,
        limit,
      );
      if (stalled > 0) {
        session.close(
          "ping_timeout",
          `ping timeout: client read nothing for ${
            (stalled / 1000).toFixed(1)
          } s`,
        );
      }
    }
  }

  /** Closes every session with `reason` and releases all waits. */
  closeAll(reason: DisconnectReason, detail?: string): void {
    for (const session of [...this.#sessions]) session.close(reason, detail);
    this.#options.watcher.cancelAll();
    this.#options.broadcaster.stop();
  }

  #ended(session: Session, end: SessionEnd): void {
    if (!this.#sessions.delete(session)) return;
    this.#channels.release(session);
    this.#totals.discarded += this.#options.broadcaster.queueLength(session);
    this.#options.broadcaster.detach(session);
    this.#totals.delivered += session.stats.sent;
    this.#totals.dropped += session.stats.drops;
    this.#totals.acks += session.stats.acks;
    this.#totals.badFrames += session.stats.badFrames;
    const d = this.#totals.disconnects;
    d.set(end.reason, (d.get(end.reason) ?? 0) + 1);
    this.#emit({ type: "disconnect", session, end });
  }

  #emit(event: HubEvent): void {
    for (const listener of this.#listeners) listener(event);
  }
}
