/**
 * Naive mode: for each message, each client in turn, send and wait until that
 * client has taken it. One slow client therefore delays every other client —
 * the problem `fanout` exists to show, implemented honestly.
 *
 * @module
 */
import type { Backlog, Broadcaster } from "./broadcaster.ts";
import type { DrainWatcher } from "./drain_watcher.ts";
import type { OutFrame } from "./frame.ts";
import type { Session } from "./session.ts";

/**
 * A client "has taken" a frame once its socket buffers at most this many
 * bytes, the write limit of the seed's Python `websockets` server order of
 * magnitude. Frames up to this size never wait on a client that reads.
 */
export const NAIVE_LOW_WATER_BYTES = 64 * 1024;

/** Sequential, awaited send to every client. */
export class NaiveBroadcaster implements Broadcaster {
  /** @inheritdoc */
  readonly mode = "naive" as const;
  readonly #watcher: DrainWatcher;
  readonly #now: () => number;

  /**
   * @param watcher the shared drain poller
   * @param now monotonic clock, ms
   */
  constructor(watcher: DrainWatcher, now: () => number) {
    this.#watcher = watcher;
    this.#now = now;
  }

  /** Sends the backlog at once; naive mode keeps no per-client state. */
  attach(session: Session, backlog: Backlog): void {
    for (const text of backlog.control) session.writeRaw(text);
    const now = this.#now();
    for (const frame of backlog.replay) session.write(frame, now);
  }

  /** Releases a broadcast blocked on this session. */
  detach(session: Session): void {
    this.#watcher.cancel(session.sink);
  }

  /** Sends to each session in turn, awaiting each one's drain. */
  async broadcast(frame: OutFrame, sessions: Iterable<Session>): Promise<void> {
    for (const session of [...sessions]) {
      if (session.closed) continue;
      session.write(frame, this.#now());
      await this.#watcher.waitBelow(session.sink, NAIVE_LOW_WATER_BYTES);
    }
  }

  /** No policy in naive mode: a slow client is never cut off for being slow. */
  tick(): void {}

  /** Naive mode has no queue. */
  queueLength(): number {
    return 0;
  }

  /** Nothing of its own to stop; the hub cancels the watcher. */
  stop(): void {}
}
