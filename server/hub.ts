/**
 * The hub: the set of sessions, the broadcast mode, and the server-wide
 * counters. It never touches a socket; sessions talk to sinks.
 *
 * @module
 */
import type { DisconnectReason } from "../lib/close_codes.ts";
import type { Broadcaster } from "./broadcaster.ts";
import type { DrainWatcher } from "./drain_watcher.ts";
import type { OutFrame } from "./frame.ts";
import { Session, type SessionEnd } from "./session.ts";
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
}

/** Totals that outlive the sessions they came from. */
export interface HubTotals {
  /** Messages published. */
  published: number;
  /** Frames handed to sockets, all sessions ever. */
  delivered: number;
  /** Messages dropped, all sessions ever. */
  dropped: number;
  /** Sessions opened. */
  connects: number;
  /** Sessions ended, by reason. */
  readonly disconnects: Map<DisconnectReason, number>;
}

/** Registry of sessions and the entry point of every published frame. */
export class Hub {
  readonly #sessions = new Set<Session>();
  readonly #stall = new WeakMap<Session, StallState>();
  readonly #listeners: ((e: HubEvent) => void)[] = [];
  readonly #options: HubOptions;
  readonly #now: () => number;
  readonly #totals: HubTotals = {
    published: 0,
    delivered: 0,
    dropped: 0,
    connects: 0,
    disconnects: new Map(),
  };
  #nextId = 1;

  /** @param options broadcaster, watcher, clock and stall limit */
  constructor(options: HubOptions) {
    this.#options = options;
    this.#now = options.now ?? (() => performance.now());
  }

  /** The broadcast mode in use. */
  get broadcaster(): Broadcaster {
    return this.#options.broadcaster;
  }

  /** Open sessions. */
  get sessions(): ReadonlySet<Session> {
    return this.#sessions;
  }

  /** Server-wide totals; delivered and dropped include open sessions. */
  totals(): Readonly<HubTotals> {
    let delivered = this.#totals.delivered;
    let dropped = this.#totals.dropped;
    for (const s of this.#sessions) {
      delivered += s.stats.sent;
      dropped += s.stats.drops;
    }
    return { ...this.#totals, delivered, dropped };
  }

  /** Subscribes to lifecycle events. */
  on(listener: (e: HubEvent) => void): void {
    this.#listeners.push(listener);
  }

  /** Registers a new client writing to `sink`. */
  open(sink: Sink, remote: string): Session {
    const now = this.#now();
    const session = new Session(`c${this.#nextId++}`, sink, {
      remote,
      now,
      onEnd: (s, end) => this.#ended(s, end),
    });
    this.#sessions.add(session);
    this.#stall.set(session, newStallState(now));
    this.#options.broadcaster.attach(session);
    this.#totals.connects++;
    this.#emit({ type: "connect", session });
    return session;
  }

  /** Publishes one frame to every open session (awaits clients in naive mode only). */
  broadcast(frame: OutFrame): void | Promise<void> {
    this.#totals.published++;
    return this.#options.broadcaster.broadcast(frame, this.#sessions);
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
    this.#options.broadcaster.detach(session);
    this.#totals.delivered += session.stats.sent;
    this.#totals.dropped += session.stats.drops;
    const d = this.#totals.disconnects;
    d.set(end.reason, (d.get(end.reason) ?? 0) + 1);
    this.#emit({ type: "disconnect", session, end });
  }

  #emit(event: HubEvent): void {
    for (const listener of this.#listeners) listener(event);
  }
}
