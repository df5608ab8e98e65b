/**
 * What a queue-mode writer sends a client ahead of its live queue, in this
 * order: control notices, one `dropped` notice for the drops not announced
 * yet, a due `lag` frame, then replayed history. Nothing here is ever
 * dropped; most clients have none of it, so nothing is allocated until
 * something waits.
 *
 * @module
 */
import { encodeControl } from "../../lib/protocol.ts";
import type { ReplayCursor } from "../core/broker.ts";
import type { Backlog } from "../core/mode.ts";
import type { Session } from "../core/session.ts";

/**
 * One client's priority lane.
 *
 * @example
 * ```ts
 * import { PriorityLane } from "./priority_lane.ts";
 * const lane = new PriorityLane();
 * lane.notice('{"type":"tier"}');
 * lane.announceDrops(3);
 * if (!lane.pending) throw new Error("two frames wait");
 * ```
 */
export class PriorityLane {
  /** Control frames to send before anything else (undefined when none). */
  #notices: string[] | undefined;
  /** Drops not yet announced to a client that asked for control frames. */
  #unannounced = 0;
  /** A `lag` frame is due (built when it is sent, so it is current). */
  #lagDue = false;
  /** History still to replay before live frames. */
  #replay: ReplayCursor | undefined;

  /** True when anything waits ahead of the live queue. */
  get pending(): boolean {
    return this.#notices !== undefined || this.#unannounced > 0 ||
      this.#lagDue || this.#replay !== undefined;
  }

  /** Queues a control frame. */
  notice(text: string): void {
    (this.#notices ??= []).push(text);
  }

  /** Counts `n` drops for the next `dropped` notice. */
  announceDrops(n: number): void {
    this.#unannounced += n;
  }

  /** Marks a `lag` frame due (at most one waits). */
  lagDue(): void {
    this.#lagDue = true;
  }

  /**
   * Takes the client's backlog, its notices and replay, in place of any
   * notice queued while it was read (the backlog was read after them and
   * says where the client stands now).
   */
  setBacklog(backlog: Backlog): void {
    this.#notices = backlog.notices.length > 0
      ? [...backlog.notices]
      : undefined;
    this.#replay = backlog.replay;
  }

  /** Forgets the replay (the client is leaving). */
  dropReplay(): void {
    this.#replay = undefined;
  }

  /**
   * Sends the next frame waiting, in priority order.
   * @param lagFrame builds the `lag` frame when its turn comes
   */
  sendNext(session: Session, lagFrame: () => string): void {
    const notices = this.#notices;
    if (notices !== undefined) {
      const text = notices.shift()!;
      if (notices.length === 0) this.#notices = undefined;
      session.writeRaw(text);
      return;
    }
    if (this.#unannounced > 0) {
      const count = this.#unannounced;
      this.#unannounced = 0;
      session.writeRaw(encodeControl({
        type: "dropped",
        channel: session.channel,
        count,
      }));
      return;
    }
    if (this.#lagDue) {
      this.#lagDue = false;
      session.writeRaw(lagFrame());
      return;
    }
    // Replayed history is sent as is: its enqueue time is not this client's.
    const replay = this.#replay;
    const text = replay?.next();
    if (text === undefined) this.#replay = undefined;
    else session.writeRaw(text, replay!.seq);
  }
}
