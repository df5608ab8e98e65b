/**
 * A channel's kept messages (`--history`), by seq, and replays read from
 * them by cursor: a resuming client costs a cursor, never a copy of the
 * history, however long it is.
 *
 * @module
 */
import { encodeControl } from "../../lib/protocol.ts";
import { RingQueue } from "../../lib/ring_queue.ts";
import type { History, ReplayCursor, Resume } from "../core/broker.ts";
import type { OutFrame } from "../core/frame.ts";

/** The last N messages of one channel, oldest first, consecutive seqs. */
export class ChannelHistory {
  readonly #ring: RingQueue<OutFrame> | undefined;

  /** @param size messages to keep; 0 keeps none */
  constructor(size: number) {
    this.#ring = size > 0 ? new RingQueue<OutFrame>(size) : undefined;
  }

  /** Keeps `frame`, evicting the oldest when full. Seqs must be consecutive. */
  push(frame: OutFrame): void {
    this.#ring?.push(frame);
  }

  /** Forgets every kept message. */
  clear(): void {
    this.#ring?.clear();
  }

  /** Seq of the newest message kept, if any. */
  newest(): number | undefined {
    const ring = this.#ring;
    return ring && ring.length > 0 ? ring.at(ring.length - 1)!.seq : undefined;
  }

  /** Seq of the oldest message kept, or `top + 1` when none is. */
  oldest(top: number): number {
    const ring = this.#ring;
    return ring && ring.length > 0 ? ring.peek()!.seq : top + 1;
  }

  /** The kept message with `seq`, if it is still kept. */
  get(seq: number): OutFrame | undefined {
    const ring = this.#ring;
    const first = ring?.peek();
    if (!ring || !first) return undefined;
    return ring.at(seq - first.seq);
  }
}

/**
 * Where a client joins a channel whose stream is `(epoch, top)`: with no
 * `since`, nothing to replay; with a `since` of another epoch, or ahead of
 * `top` (the numbering started over), a `reset` notice and nothing to
 * replay; otherwise a `gap` notice when the history no longer reaches back
 * to `since + 1`, then a cursor over the kept messages up to `top`.
 *
 * @param channel the channel's name (for the notices)
 * @param history its kept messages
 * @param epoch its epoch
 * @param top seq of its last message (live delivery continues after it)
 * @param resume the client's last position, if it has one
 */
export function historyAfter(
  channel: string,
  history: ChannelHistory,
  epoch: string,
  top: number,
  resume: Resume,
): History {
  const { since } = resume;
  if (since === undefined) {
    return { epoch, until: top, notices: [], replay: EMPTY_REPLAY };
  }
  const otherEpoch = resume.epoch !== undefined && resume.epoch !== epoch;
  if (otherEpoch || since > top) {
    return {
      epoch,
      until: top,
      notices: [resetNotice(channel, epoch, top)],
      replay: EMPTY_REPLAY,
    };
  }
  const oldest = history.oldest(top);
  const notices = since + 1 < oldest
    ? [gapNotice(channel, since + 1, oldest - 1)]
    : [];
  return {
    epoch,
    until: top,
    notices,
    replay: new HistoryCursor(
      channel,
      history,
      Math.max(since + 1, oldest),
      top,
    ),
  };
}

/** A replay with nothing in it. */
export const EMPTY_REPLAY: ReplayCursor = Object.freeze({
  next: () => undefined,
  seq: 0,
});

/** The `reset` notice: the stream is now `epoch`, continuing after `lastSeq`. */
export function resetNotice(
  channel: string,
  epoch: string,
  lastSeq: number,
): string {
  return encodeControl({ type: "reset", channel, epoch, last_seq: lastSeq });
}

/** The `gap` notice: messages `from..to` cannot be replayed. */
export function gapNotice(channel: string, from: number, to: number): string {
  return encodeControl({
    type: "gap",
    channel,
    from,
    to,
    missed: to - from + 1,
  });
}

/**
 * Reads `from..until` out of the history as it is sent. When the history
 * evicted messages the cursor had not reached yet (a slow resumer behind a
 * busy channel), it says so with a `gap` notice and goes on from the oldest.
 */
class HistoryCursor implements ReplayCursor {
  readonly #channel: string;
  readonly #history: ChannelHistory;
  #next: number;
  readonly #until: number;
  /** The seq of what {@link next} last returned (0 after a notice). */
  seq = 0;

  constructor(
    channel: string,
    history: ChannelHistory,
    from: number,
    until: number,
  ) {
    this.#channel = channel;
    this.#history = history;
    this.#next = from;
    this.#until = until;
  }

  next(): string | undefined {
    if (this.#next > this.#until) return undefined;
    const frame = this.#history.get(this.#next);
    if (frame) {
      this.seq = this.#next++;
      return frame.text;
    }
    this.seq = 0;
    const oldest = this.#history.oldest(this.#until);
    const from = this.#next;
    this.#next = Math.max(oldest, from + 1);
    return gapNotice(
      this.#channel,
      from,
      Math.min(this.#next, this.#until + 1) - 1,
    );
  }
}
