/**
 * The contract between the hub and a broadcast mode (naive or queue). The
 * mode owns every piece of per-client delivery state: the hub hands it a
 * session once, gets an {@link Outlet} back, and from then on only passes
 * frames and reads verdicts. A mode never closes a session itself: it
 * returns a {@link Cut} and the hub, which owns the sessions, closes it.
 *
 * @module
 */
import type { ReplayCursor } from "./broker.ts";
import type { OutFrame } from "./frame.ts";
import type { Session } from "./session.ts";
import type { Verdict } from "./verdict.ts";

export type { Verdict } from "./verdict.ts";

/** A client the mode says must go, and why. */
export interface Cut {
  /** The session to close. */
  readonly session: Session;
  /** Why. */
  readonly verdict: Verdict;
}

/** No cuts: the common answer, shared so the hot path allocates nothing. */
export const NO_CUTS: readonly Cut[] = Object.freeze([]);

/** What a session receives before the live stream: notices, then replayed history. */
export interface Backlog {
  /** Control frames, already encoded (sent first). */
  readonly notices: readonly string[];
  /** History to replay, read from the broker's history as it is sent. */
  readonly replay?: ReplayCursor;
  /**
   * The last seq the backlog covers: live frames up to it, handed over while
   * the backlog was read, are duplicates and are dropped for this client.
   */
  readonly after?: number;
  /**
   * Whether a live frame handed over while the backlog was read belongs to
   * an older numbering than the backlog's epoch: dropped for this client,
   * never sent after the backlog's `position`/`reset` as if it were new.
   */
  readonly stale?: (frame: OutFrame) => boolean;
}

/** A mode's per-client state, as far as anyone outside the mode may see it. */
export interface Outlet {
  /** The session this outlet writes to. */
  readonly session: Session;
  /** Messages waiting for this client in the mode's queue (0 without a queue). */
  readonly queued: number;
  /** Messages the mode dropped for this client (0 without a queue); written only by the outlet. */
  readonly drops: number;
  /** Messages replaced in its queue by a newer one with the same key (`--policy conflate`; not drops). */
  readonly conflated: number;
  /** True while the client's socket is too full to take more (its writer waits for it to drain). */
  readonly blocked: boolean;
  /** The client's tier (`--policy ladder`); undefined elsewhere. */
  readonly tier?: string | undefined;
}

/** A broadcast mode: how one published frame reaches every session of a channel. */
export interface Mode {
  /** Mode name, for logs and summaries. */
  readonly name: "naive" | "queue";
  /**
   * A session joined `channel`. It receives `backlog` before any live frame;
   * while `backlog` is a promise (a history read in flight), live frames for
   * it are held, in order, behind it.
   */
  attach(
    session: Session,
    backlog: Backlog | Promise<Backlog> | undefined,
  ): Outlet;
  /**
   * A session ended: forget its state and release any wait on it.
   * @returns the messages still queued for it, now discarded
   */
  detach(outlet: Outlet): number;
  /**
   * The hub's last session of `channel` has gone (the hub counts each
   * channel's sessions; the mode keeps no count of its own): forget what the
   * mode keeps for the channel.
   */
  release(channel: string): void;
  /**
   * Delivers `frame` to every session of `channel`. Queue mode returns at
   * once with the clients the policy cuts; naive mode resolves when every
   * client has taken the frame.
   */
  broadcast(channel: string, frame: OutFrame): readonly Cut[] | Promise<void>;
  /**
   * Sends a control frame to every control client of `channel`, ahead of
   * the data queued for it (never dropped).
   */
  notify(channel: string, text: string): void;
  /**
   * Periodic check between messages (the slow-client policy's timers).
   * @param overloaded whether the server itself is behind (its event loop
   *   or its source): clients are then judged against each other, not
   *   against what was offered, and what the overload costs is shed evenly
   */
  tick(now: number, overloaded: boolean): readonly Cut[];
  /**
   * Share of the mode's clients behind at once (their oldest waiting message
   * at least `lagMs` old), 0..1; 0 when fewer than `minBehind` are. An
   * overload signal: read by the hub just before {@link tick}.
   */
  behindShare?(now: number, lagMs: number, minBehind: number): number;
  /** Messages dropped because the server was behind, not the client: counted apart, never against the client. */
  readonly shed: number;
  /** Messages not sent because their time to live ran out (queue mode). */
  readonly expired?: number;
  /** Tier changes per tier entered (`--policy ladder`); undefined elsewhere. */
  readonly tierChanges?: Readonly<Record<string, number>> | undefined;
  /** Stops all waiting and timers; called on shutdown. */
  stop(): void;
}
