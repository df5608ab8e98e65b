/**
 * The hub: the local sessions and the channels they subscribe to. The broker
 * hands it each channel's messages in order; it passes them to the broadcast
 * mode, closes the clients the mode cuts, and keeps the totals. It never
 * touches a socket (sessions talk to sinks) and never orders messages (the
 * broker does).
 *
 * @module
 */
import type { DisconnectReason } from "../../lib/close_codes.ts";
import {
  DEFAULT_CHANNEL,
  encodeControl,
  epochSeconds,
} from "../../lib/protocol.ts";
import type { Broker, BrokerHandler, History, ReplayCursor } from "./broker.ts";
import type { OutFrame } from "./frame.ts";
import type { Backlog, Cut, Mode } from "./mode.ts";
import { OverloadMonitor, type OverloadSignals } from "./overload.ts";
import { Session, type SessionEnd } from "./session.ts";
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
  /** Send control frames (drop notices); implied by `since`. @default false */
  readonly control?: boolean;
  /** Several messages per frame, as a JSON array (`?batch=1`; queue mode only). @default false */
  readonly batch?: boolean;
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

/** Registry of local sessions and their channels; the broker's handler. */
export class Hub implements BrokerHandler {
  readonly #subscribers = new Map<Session, Subscriber>();
  /** Local sessions per channel: the broker is subscribed while this is above 0. */
  readonly #channels = new Map<string, number>();
  readonly #replayDone = new WeakMap<Session, () => void>();
  readonly #listeners: ((e: HubEvent) => void)[] = [];
  readonly #mode: Mode;
  readonly #broker: Broker;
  readonly #options: HubOptions;
  readonly #now: () => number;
  readonly #totals = new Totals();
  readonly #overload = new OverloadMonitor();
  #nextId = 1;

  /** @param options mode, broker, clock, limits */
  constructor(options: HubOptions) {
    this.#options = options;
    this.#mode = options.mode;
    this.#broker = options.broker;
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
    return this.#totals.read(this.#subscribers.keys());
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

  /** Latency of every session ever, merged now (new histograms each call). */
  latency(): ServerLatency {
    return this.#totals.latency(this.#subscribers.keys());
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
    try {
      this.#join(channel);
    } catch {
      return undefined;
    }
    let held = true;
    return () => {
      if (!held) return;
      held = false;
      this.#leave(channel);
    };
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
    this.#join(channel);
    const control = request.control === true || request.since !== undefined;
    const session = new Session(`c${this.#nextId++}`, sink, {
      remote: request.remote,
      channel,
      control,
      batch: request.batch === true,
      maxFrameBytes: this.#options.maxFrameBytes,
      maxInboundRate: this.#options.maxInboundRate,
      expiresAt: request.expiresAt === undefined
        ? undefined
        : this.#now() + (request.expiresAt - epochSeconds()) * 1000,
      now: this.#now,
      onEnd: (s, end) => this.#ended(s, end),
    });
    const replayDone = once(request.replayDone);
    if (replayDone) this.#replayDone.set(session, replayDone);
    const outlet = this.#mode.attach(
      session,
      this.#backlog(channel, request, control, replayDone),
    );
    const subscriber = new Subscriber(outlet);
    this.#subscribers.set(session, subscriber);
    this.#totals.connected();
    this.#emit({ type: "connect", subscriber });
    return session;
  }

  /** The broker's hand-off: one message for the local subscribers of `channel`. */
  publication(channel: string, frame: OutFrame): void | Promise<void> {
    this.#totals.broadcast();
    const outcome = this.#mode.broadcast(channel, frame);
    if (outcome instanceof Promise) return outcome;
    this.#cut(outcome);
  }

  /** The broker's notice for the channel's control clients (`reset`, `gap`). */
  notice(channel: string, text: string): void {
    this.#mode.notify(channel, text);
  }

  /** Messages the mode shed because the server was behind (not counted against any client). */
  get shed(): number {
    return this.#mode.shed;
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
    const now = this.#now();
    const overloaded = this.#overload.update(signals, now);
    this.#cut(this.#mode.tick(now, overloaded));
    const limit = this.#options.stallTimeoutMs ?? 0;
    for (const session of this.#subscribers.keys()) {
      if (session.closed) continue;
      if (session.expiresAt <= now) {
        session.close(
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
        session.close(
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
    for (const session of [...this.#subscribers.keys()]) {
      session.close(reason, detail);
    }
    this.#mode.stop();
  }

  /**
   * What a control client receives before the live stream: its position
   * (`epoch`, and the seq the live stream continues after), then what the
   * broker's history says about its `since`. A history the broker cannot
   * read becomes a `gap` notice for everything asked for: the client is
   * told, never resumed silently.
   */
  #backlog(
    channel: string,
    request: OpenRequest,
    control: boolean,
    replayDone: (() => void) | undefined,
  ): Backlog | Promise<Backlog> | undefined {
    if (!control) {
      replayDone?.();
      return undefined;
    }
    const { since, epoch } = request;
    const history = this.#broker.history(channel, { since, epoch });
    const backlog = (h: History): Backlog => ({
      notices: [
        encodeControl({
          type: "position",
          channel,
          epoch: h.epoch,
          last_seq: h.until,
        }),
        ...h.notices,
        ...(request.notices ?? []),
      ],
      replay: replayDone ? watched(h.replay, replayDone) : h.replay,
      after: h.until,
    });
    if (!(history instanceof Promise)) return backlog(history);
    return history.then(backlog, (): Backlog => {
      replayDone?.();
      const { epoch, seq } = this.#broker.position(channel);
      const notices = [
        encodeControl({ type: "position", channel, epoch, last_seq: seq }),
        ...(request.notices ?? []),
      ];
      if (since !== undefined && since < seq) {
        notices.push(encodeControl({
          type: "gap",
          channel,
          from: since + 1,
          to: seq,
          missed: seq - since,
        }));
      }
      return { notices, after: seq };
    });
  }

  #cut(cuts: readonly Cut[]): void {
    for (const { session, verdict } of cuts) {
      session.close(verdict.reason, verdict.detail);
    }
  }

  /**
   * One more local interest in `channel`; the first subscribes the broker.
   * @throws {import("./broker.ts").BrokerUnavailableError} before anything
   *   is registered when the channel cannot be opened
   */
  #join(channel: string): void {
    const local = this.#channels.get(channel) ?? 0;
    if (local === 0) this.#broker.subscribe(channel).catch(() => {});
    this.#channels.set(channel, local + 1);
  }

  /** One less local interest in `channel`; the last unsubscribes the broker. */
  #leave(channel: string): void {
    const local = (this.#channels.get(channel) ?? 1) - 1;
    if (local > 0) this.#channels.set(channel, local);
    else {
      this.#channels.delete(channel);
      this.#broker.unsubscribe(channel);
    }
  }

  #ended(session: Session, end: SessionEnd): void {
    const subscriber = this.#subscribers.get(session);
    if (!subscriber) return;
    this.#subscribers.delete(session);
    this.#replayDone.get(session)?.();
    this.#leave(session.channel);
    this.#totals.ended(session, end, this.#mode.detach(subscriber.outlet));
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

/** `cursor`, calling `done` once it has nothing more to give. */
function watched(cursor: ReplayCursor, done: () => void): ReplayCursor {
  return {
    next() {
      const text = cursor.next();
      if (text === undefined) done();
      return text;
    },
  };
}
