/**
 * The hub: the local sessions and the channels they subscribe to. The broker
 * hands it each channel's messages in order; it passes them to the broadcast
 * mode, closes the clients the mode cuts, and keeps the totals. It never
 * touches a socket (sessions talk to sinks) and never orders messages (the
 * broker does).
 *
 * One owner, one exit: the hub is the only code that closes a session. The
 * session and the modes return verdicts; the transport adapters report what
 * the peer sent ({@link Hub.receive}) and that it went ({@link Hub.peerClosed}).
 * What an ended session leaves behind (its channel place in the broker, the
 * totals, the `disconnect` event) is settled once the hub is out of the
 * broker's hands: a close decided while the broker delivers a message is
 * settled in a microtask after that delivery returns, so the broker is never
 * re-entered from inside its own publish.
 *
 * @module
 */
import {
  CLOSE_CODES,
  type DisconnectReason,
  fitCloseReason,
} from "../../lib/close_codes.ts";
import {
  DEFAULT_CHANNEL,
  epochSeconds,
  isOlderEpoch,
} from "../../lib/protocol.ts";
import { readBacklog } from "./backlog.ts";
import { ChannelCounts } from "./channels.ts";
import { Exits } from "./exits.ts";
import type { Broker, BrokerHandler } from "./broker.ts";
import type { OutFrame } from "./frame.ts";
import type { Cut, Mode } from "./mode.ts";
import {
  OVERLOAD_CLIENT_LAG_MS,
  OVERLOAD_MIN_BEHIND,
  OverloadMonitor,
  type OverloadSignals,
} from "./overload.ts";
import { Session } from "./session.ts";
import { attributeClose, type SessionEnd } from "./session_end.ts";
import type { Sink } from "./sink.ts";
import { checkStall } from "./stall_watch.ts";
import { Subscriber, type SubscriberView } from "./subscriber.ts";
import { type HubTotals, type ServerLatency, Totals } from "./totals.ts";

export type { HubTotals, ServerLatency } from "./totals.ts";

const NO_LAG: OverloadSignals = Object.freeze({ loopLagMs: 0, sourceLagMs: 0 });

/** Lifecycle events, for logs and metrics; per-message work is never an event. */
export type HubEvent =
  | { readonly type: "connect"; readonly subscriber: SubscriberView }
  | {
    readonly type: "disconnect";
    readonly subscriber: SubscriberView;
    readonly end: SessionEnd;
  };

/** Options of {@link Hub}. */
export interface HubOptions {
  /** The broadcast mode. */
  readonly mode: Mode;
  /** The broker that orders messages and keeps history; the hub binds itself to it. */
  readonly broker: Broker;
  /** Monotonic clock, ms. @default performance.now */
  readonly now?: () => number;
  /**
   * Close a client whose buffered data has not moved for this long, ms
   * (`--ping-interval` + `--ping-timeout`); 0 disables. @default 0
   */
  readonly stallTimeoutMs?: number;
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
  /** The epoch `since` belongs to (`?epoch=`): another epoch gets `reset`, not a replay. */
  readonly epoch?: string;
  /** The `ts_send` of the message the client holds at `since` (`?since_ts=`). */
  readonly sinceTs?: number;
  /** Send control frames (drop notices); implied by `since`. @default false */
  readonly control?: boolean;
  /** Several messages per frame, as a JSON array (`?batch=1`; queue mode only). @default false */
  readonly batch?: boolean;
  /** Batch frames only when messages queued up, no timer (`?batch=auto`; queue mode only). @default false */
  readonly coalesce?: boolean;
  /** Called once when the replay of `since` is complete, or the session ended before it was. */
  readonly replayDone?: () => void;
  /** When the client's credentials expire, epoch seconds (a JWT's `exp`): the session is closed then (`token_expired`). */
  readonly expiresAt?: number;
  /** Control frames (encoded) sent right after `position`, e.g. `last_close`; control clients only. */
  readonly notices?: readonly string[];
}

/** What waits for the open sessions right now. */
export interface BacklogTotals {
  /** Messages in the sessions' queues (queue mode). */
  queued: number;
  /** Bytes handed to sockets and not yet written out. */
  bufferedBytes: number;
}

/** ACKs still on their way, see {@link Hub.awaitingAcks}. */
export interface AwaitingAcks {
  /** Open sessions owing the ACK of their latest frame. */
  sessions: number;
  /** Frames received from the open sessions' clients so far. */
  received: number;
}

/** Registry of local sessions and their channels; the broker's handler. */
export class Hub implements BrokerHandler {
  readonly #subscribers = new Map<Session, Subscriber>();
  /** Local sessions (and holds) per channel: the one membership count. */
  readonly #channels: ChannelCounts;
  readonly #replayDone = new WeakMap<Session, () => void>();
  /** Backlogs being read: while any is, live frames are tagged with their epoch. */
  #reading = 0;
  /** The epoch each live frame was delivered in, while a backlog is read. */
  readonly #frameEpochs = new WeakMap<OutFrame, string>();
  readonly #listeners: ((e: HubEvent) => void)[] = [];
  readonly #mode: Mode;
  readonly #broker: Broker;
  readonly #options: HubOptions;
  readonly #now: () => number;
  readonly #totals = new Totals();
  readonly #overload = new OverloadMonitor();
  /** Sessions closed and not yet settled: when they are (see exits.ts). */
  readonly #exits = new Exits<Session>((session) => this.#settle(session));
  #nextId = 1;

  /** @param options mode, broker, clock, limits */
  constructor(options: HubOptions) {
    this.#options = options;
    this.#mode = options.mode;
    this.#broker = options.broker;
    this.#channels = new ChannelCounts(this.#broker, this.#mode);
    this.#now = options.now ?? (() => performance.now());
    this.#broker.bind(this);
  }

  /** The broadcast mode's name. */
  get mode(): Mode["name"] {
    return this.#mode.name;
  }

  /** The broker this hub is fed by. */
  get broker(): Broker {
    return this.#broker;
  }

  /** Open sessions, all channels (for the server's own use and tests; observers use {@link subscribers}). */
  get sessions(): ReadonlySet<Session> {
    return new Set(this.#subscribers.keys());
  }

  /** Sessions open now. */
  get size(): number {
    return this.#subscribers.size;
  }

  /** Read-only views of the open sessions. */
  subscribers(): IterableIterator<SubscriberView> {
    return this.#subscribers.values();
  }

  /** Server-wide totals; per-session counts include open sessions. */
  totals(): Readonly<HubTotals> {
    return this.#totals.read(this.#subscribers.values());
  }

  /** Messages queued and bytes buffered across the open sessions. */
  backlog(): BacklogTotals {
    let queued = 0;
    let bufferedBytes = 0;
    for (const view of this.#subscribers.values()) {
      queued += view.queued;
      bufferedBytes += view.bufferedBytes;
    }
    return { queued, bufferedBytes };
  }

  /**
   * How many open sessions have a client that ACKs and still owes the ACK
   * of the latest frame it was sent, and how many frames the open sessions
   * received in all (it grows while those ACKs arrive): a graceful stop
   * waits for these before closing.
   */
  awaitingAcks(): AwaitingAcks {
    let sessions = 0;
    let received = 0;
    for (const session of this.#subscribers.keys()) {
      received += session.stats.received;
      if (!session.closed && session.awaitsAck) sessions++;
    }
    return { sessions, received };
  }

  /** Latency of every session ever, merged now (new histograms each call). */
  latency(): ServerLatency {
    return this.#totals.latency(this.#subscribers.values());
  }

  /** Counts a request refused before it became a session (for metrics and logs). */
  reject(reason: string): void {
    this.#totals.reject(reason);
  }

  /** Whether a session may subscribe to `channel` now (`--max-channels`). */
  admits(channel: string): boolean {
    return this.#channels.has(channel) || this.#broker.admits(channel);
  }

  /**
   * Holds `channel` open (in the broker, counted against `--max-channels`)
   * until the returned function is called: a client being admitted keeps
   * its channel's place while its credentials are checked, and a source
   * keeps the channel it publishes to. Never throws.
   * @returns the release function (idempotent), or undefined when the
   *   channel cannot be opened now
   */
  holdChannel(channel: string): (() => void) | undefined {
    return this.#channels.hold(channel);
  }

  /** Subscribes to lifecycle events. */
  on(listener: (e: HubEvent) => void): void {
    this.#listeners.push(listener);
  }

  /**
   * Registers a new client writing to `sink`. With `since`, it first receives
   * what the broker's history holds after `since` (or the notice saying why
   * it cannot), then the live stream, with nothing missing in between.
   * @throws {import("./broker.ts").BrokerUnavailableError} when the channel
   *   would exceed `--max-channels`
   */
  open(sink: Sink, request: OpenRequest): Session {
    const channel = request.channel ?? DEFAULT_CHANNEL;
    this.#channels.join(channel);
    const control = request.control === true || request.since !== undefined;
    const session = new Session(`c${this.#nextId++}`, sink, {
      remote: request.remote,
      channel,
      control,
      batch: request.batch === true,
      coalesce: request.coalesce === true,
      maxFrameBytes: this.#options.maxFrameBytes,
      maxInboundRate: this.#options.maxInboundRate,
      expiresAt: request.expiresAt === undefined
        ? undefined
        : this.#now() + (request.expiresAt - epochSeconds()) * 1000,
      now: this.#now,
    });
    const replayDone = once(request.replayDone);
    if (replayDone) this.#replayDone.set(session, replayDone);
    const outlet = this.#mode.attach(
      session,
      readBacklog(this.#broker, session, request, replayDone, {
        reading: (delta) => this.#reading += delta,
        stale: (frame, epoch) => this.#stale(frame, epoch),
      }, request.notices),
    );
    const subscriber = new Subscriber(outlet);
    this.#subscribers.set(session, subscriber);
    this.#totals.connected();
    this.#emit({ type: "connect", subscriber });
    return session;
  }

  /**
   * The broker's hand-off: one message for the local subscribers of
   * `channel`. The clients the mode cuts are closed now and settled after
   * the broker's delivery returns.
   */
  publication(channel: string, frame: OutFrame): void | Promise<void> {
    this.#totals.broadcast();
    if (this.#reading > 0) {
      this.#frameEpochs.set(frame, this.#broker.position(channel).epoch);
    }
    this.#exits.enter();
    try {
      const outcome = this.#mode.broadcast(channel, frame);
      if (outcome instanceof Promise) return outcome;
      this.#cut(outcome);
    } finally {
      this.#exits.leave(true);
    }
  }

  /**
   * Closes `session` for `reason`, once (later calls are ignored): the close
   * frame is started, never awaited (a stalled peer may never finish the
   * handshake). The only way a session is closed.
   */
  close(
    session: Session,
    reason: DisconnectReason,
    detail: string = CLOSE_CODES[reason].meaning,
  ): void {
    const code = CLOSE_CODES[reason].code;
    if (!session.recordEnd({ reason, detail, code })) return;
    session.sink.close(code, fitCloseReason(detail));
    this.#exits.push(session);
  }

  /**
   * A frame from the client of `session` (its transport adapter's call):
   * the session checks it, and the hub closes the session on its verdict.
   */
  receive(session: Session, data: unknown): void {
    const verdict = session.receive(data);
    if (verdict) this.close(session, verdict.reason, verdict.detail);
  }

  /**
   * The transport of `session` ended without the server closing it (its
   * adapter's call): the peer's close frame, Deno's ping timer, a lost
   * connection or a protocol error, named by `error` (see
   * {@link attributeClose}). Ignored once the session has ended.
   */
  peerClosed(session: Session, code: number, reason: string, error = ""): void {
    if (session.recordEnd(attributeClose(code, reason, error))) {
      this.#exits.push(session);
    }
  }

  /**
   * The broker's notice for the channel's control clients (`reset`, `gap`).
   * A `reset` names the new epoch (`epoch`), and the channel's sessions
   * move to it.
   */
  notice(channel: string, text: string, epoch?: string): void {
    if (epoch !== undefined) {
      for (const session of this.#subscribers.keys()) {
        if (session.channel === channel) session.epoch = epoch;
      }
    }
    this.#mode.notify(channel, text);
  }

  /** Messages the mode shed because the server was behind (not counted against any client). */
  get shed(): number {
    return this.#mode.shed;
  }

  /** Messages the mode did not send because their time to live ran out. */
  get expired(): number {
    return this.#mode.expired ?? 0;
  }

  /** Tier changes per tier entered (`--policy ladder`); undefined for other policies. */
  get tierChanges(): Readonly<Record<string, number>> | undefined {
    return this.#mode.tierChanges;
  }

  /** Whether the server itself is behind, and for how long it has been. */
  get overload(): OverloadMonitor {
    return this.#overload;
  }

  /**
   * Periodic housekeeping: reads the overload signals, then the mode's
   * slow-client assessment and timers, expired credentials and the stall
   * check.
   * @param signals how late the event loop and the source are
   */
  tick(signals: OverloadSignals = NO_LAG): void {
    this.#exits.enter();
    try {
      this.#sweep(signals);
    } finally {
      this.#exits.leave(false);
    }
  }

  #sweep(signals: OverloadSignals): void {
    const now = this.#now();
    const behindShare = this.#mode.behindShare?.(
      now,
      OVERLOAD_CLIENT_LAG_MS,
      OVERLOAD_MIN_BEHIND,
    ) ?? 0;
    const overloaded = this.#overload.update(
      behindShare > 0 ? { ...signals, behindShare } : signals,
      now,
    );
    this.#cut(this.#mode.tick(now, overloaded));
    const limit = this.#options.stallTimeoutMs ?? 0;
    for (const session of this.#subscribers.keys()) {
      if (session.closed) continue;
      if (session.expiresAt <= now) {
        this.close(
          session,
          "token_expired",
          "credentials expired (JWT exp): reconnect with a fresh token",
        );
        continue;
      }
      if (limit <= 0) continue;
      const stalled = checkStall(
        session.stall,
        session.stats.bytesSent,
        session.sink.bufferedAmount,
        now,
        limit,
      );
      if (stalled > 0) {
        this.close(
          session,
          "ping_timeout",
          `ping timeout: client read nothing for ${
            (stalled / 1000).toFixed(1)
          } s`,
        );
      }
    }
  }

  /** Closes every session with `reason` and stops the mode's waits and timers. */
  closeAll(reason: DisconnectReason, detail?: string): void {
    this.#exits.enter();
    for (const session of this.#subscribers.keys()) {
      this.close(session, reason, detail);
    }
    this.#exits.leave(false);
    this.#mode.stop();
  }

  /** A frame delivered in another epoch than `epoch` and not a newer one: never spliced after it. */
  #stale(frame: OutFrame, epoch: string): boolean {
    const delivered = this.#frameEpochs.get(frame);
    if (
      delivered === undefined || delivered === epoch ||
      isOlderEpoch(epoch, delivered)
    ) return false;
    this.#broker.stats.staleEpochs++;
    return true;
  }

  #cut(cuts: readonly Cut[]): void {
    for (const { session, verdict } of cuts) {
      this.close(session, verdict.reason, verdict.detail);
    }
  }

  /**
   * The bookkeeping of an ended session: its mode state detached, its
   * channel place given back (the last one unsubscribes the broker), its
   * counts moved into the totals, and the `disconnect` event.
   */
  #settle(session: Session): void {
    const subscriber = this.#subscribers.get(session);
    if (!subscriber) return;
    this.#subscribers.delete(session);
    this.#replayDone.get(session)?.();
    this.#channels.leave(session.channel);
    const end = session.end!;
    this.#totals.ended(subscriber, end, this.#mode.detach(subscriber.outlet));
    this.#emit({ type: "disconnect", subscriber, end });
  }

  #emit(event: HubEvent): void {
    for (const listener of this.#listeners) listener(event);
  }
}

/** `fn`, callable once; undefined stays undefined. */
function once(fn: (() => void) | undefined): (() => void) | undefined {
  if (!fn) return undefined;
  let called = false;
  return () => {
    if (called) return;
    called = true;
    fn();
  };
}
