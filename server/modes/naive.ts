/**
 * Naive mode: for each message, each client in turn, send and wait until that
 * client has taken it. One slow client therefore delays every other client —
 * the problem `fanout` exists to show, implemented honestly.
 *
 * @module
 */
import { REAL_SCHEDULER, type Scheduler } from "../../lib/scheduler.ts";
import type { OutFrame } from "../core/frame.ts";
import { type Backlog, type Cut, type Mode, NO_CUTS } from "../core/mode.ts";
import type { Outlet } from "../core/mode.ts";
import type { Session } from "../core/session.ts";
import { DrainWatcher } from "./drain_watcher.ts";

/**
 * A client "has taken" a frame once its socket buffers at most this many
 * bytes, the write limit of the seed's Python `websockets` server order of
 * magnitude. Frames up to this size never wait on a client that reads.
 */
export const NAIVE_LOW_WATER_BYTES = 64 * 1024;

/** Naive mode keeps no queue: only frames held while a backlog is read. */
class NaiveOutlet implements Outlet {
  /** True while a broadcast waits on this client (naive mode blocks everyone then). */
  blocked = false;
  readonly session: Session;
  /** Live frames that arrived while the backlog was read (undefined once sent). */
  held: OutFrame[] | undefined;
  readonly queued = 0;
  readonly drops = 0;
  readonly conflated = 0;

  constructor(session: Session, held: boolean) {
    this.session = session;
    this.held = held ? [] : undefined;
  }
}

/** Sequential, awaited send to every client. */
export class NaiveMode implements Mode {
  /** @inheritdoc */
  readonly name = "naive" as const;
  /** Outlets per channel; an empty set stays until the hub says the channel is gone ({@link release}). */
  readonly #channels = new Map<string, Set<NaiveOutlet>>();
  readonly #watcher: DrainWatcher;
  readonly #scheduler: Scheduler;

  /** @param scheduler clock and timers (the drain poller's) @default REAL_SCHEDULER */
  constructor(scheduler: Scheduler = REAL_SCHEDULER) {
    this.#scheduler = scheduler;
    this.#watcher = new DrainWatcher(scheduler);
  }

  /** Sends the backlog at once (once it is read); naive mode keeps no queue. */
  attach(
    session: Session,
    backlog: Backlog | Promise<Backlog> | undefined,
  ): Outlet {
    const outlet = new NaiveOutlet(session, backlog instanceof Promise);
    let outlets = this.#channels.get(session.channel);
    if (!outlets) this.#channels.set(session.channel, outlets = new Set());
    outlets.add(outlet);
    if (backlog instanceof Promise) {
      backlog.then((b) => {
        const held = outlet.held ?? [];
        outlet.held = undefined;
        this.#sendBacklog(session, b);
        const now = this.#scheduler.now();
        const after = b.after ?? 0;
        for (const frame of held) {
          if (session.closed || frame.seq <= after || b.stale?.(frame)) {
            continue;
          }
          session.write(frame, now);
        }
      });
    } else if (backlog) this.#sendBacklog(session, backlog);
    return outlet;
  }

  /** Releases a broadcast blocked on this session. */
  detach(outlet: Outlet): number {
    if (!(outlet instanceof NaiveOutlet)) return 0;
    this.#channels.get(outlet.session.channel)?.delete(outlet);
    outlet.held = undefined;
    this.#watcher.cancel(outlet.session.sink);
    return 0;
  }

  /** Forgets the channel's (empty) set: the hub's last session of it has gone. */
  release(channel: string): void {
    if (this.#channels.get(channel)?.size === 0) this.#channels.delete(channel);
  }

  /** Sends to each session of `channel` in turn, awaiting each one's drain. */
  async broadcast(channel: string, frame: OutFrame): Promise<void> {
    const outlets = this.#channels.get(channel);
    if (!outlets) return;
    for (const outlet of [...outlets]) {
      const session = outlet.session;
      if (session.closed) continue;
      if (outlet.held) {
        outlet.held.push(frame);
        continue;
      }
      session.write(frame, this.#scheduler.now());
      if (session.sink.bufferedAmount <= NAIVE_LOW_WATER_BYTES) continue;
      outlet.blocked = true;
      await this.#watcher.waitBelow(session.sink, NAIVE_LOW_WATER_BYTES);
      outlet.blocked = false;
    }
  }

  /** Sends `text` to every control client of `channel` at once. */
  notify(channel: string, text: string): void {
    for (const outlet of this.#channels.get(channel) ?? []) {
      const session = outlet.session;
      if (session.control && !session.closed && !outlet.held) {
        session.writeRaw(text);
      }
    }
  }

  /** No policy in naive mode: a slow client is never cut off for being slow. */
  tick(): readonly Cut[] {
    return NO_CUTS;
  }

  /** Naive mode drops nothing: everyone waits instead. */
  readonly shed = 0;

  /** Releases every wait. */
  stop(): void {
    this.#watcher.cancelAll();
  }

  #sendBacklog(session: Session, backlog: Backlog): void {
    for (const text of backlog.notices) session.writeRaw(text);
    const replay = backlog.replay;
    if (!replay) return;
    for (let t = replay.next(); t !== undefined && !session.closed;) {
      session.writeRaw(t, replay.seq);
      t = replay.next();
    }
  }
}
