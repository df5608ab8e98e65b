/**
 * The contract between the hub and a broadcast mode.
 *
 * @module
 */
import type { OutFrame } from "./frame.ts";
import type { Session } from "./session.ts";

/** What a session receives before the live stream: notices, then replayed history. */
export interface Backlog {
  /** Control frames, already encoded (sent first). */
  readonly control: readonly string[];
  /** History frames to replay, oldest first (sent before any live frame). */
  readonly replay: readonly OutFrame[];
}

/** An empty backlog. */
export const NO_BACKLOG: Backlog = Object.freeze({ control: [], replay: [] });

/** A broadcast mode: how one published frame reaches every session of a channel. */
export interface Broadcaster {
  /** Mode name, for logs and summaries. */
  readonly mode: "naive" | "queue";
  /** A session joined; prepare its per-client state and send its backlog before anything else. */
  attach(session: Session, backlog: Backlog): void;
  /** A session ended; release its state and any wait on it. */
  detach(session: Session): void;
  /**
   * Delivers `frame` to `sessions`. Naive mode resolves when every client
   * has taken it; queue mode returns at once.
   */
  broadcast(frame: OutFrame, sessions: Iterable<Session>): void | Promise<void>;
  /** Periodic check (slow-client policy), called by the hub's housekeeping. */
  tick(sessions: Iterable<Session>, now: number): void;
  /** Messages queued for `session` (0 where the mode has no queue). */
  queueLength(session: Session): number;
  /** Stops all waiting; called on shutdown. */
  stop(): void;
}
