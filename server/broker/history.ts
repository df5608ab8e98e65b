/**
 * A channel's kept messages (`--history`), by seq, and replays read from
 * them by cursor: a resuming client costs a cursor, never a copy of the
 * history, however long it is.
 *
 * @module
 */
import { encodeControl } from "../../lib/protocol.ts";
import { RingQueue } from "../../lib/ring_queue.ts";
import type { History, ReplayCursor } from "../core/broker.ts";
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
 * What a client resuming after `since` receives: a `reset` notice when
 * `since` is ahead of the channel (its numbering started over), a `gap`
 * notice when the history no longer reaches back to `since + 1`, then a
 * cursor over the kept messages up to `until`.
 *
 * @param channel the channel's name (for the notices)
 * @param history its kept messages
 * @param epoch its epoch
 * @param top seq of its last message
 * @param since the client's last seq
 * @param until the last seq to replay (the position live delivery starts after)
 */
export function historyAfter(
  channel: string,
  history: ChannelHistory,
  epoch: string,
  top: number,
  since: number,
  until: number,
): History {
  if (since > top) {
    return {
      epoch,
      notices: [encodeControl({ type: "reset", channel, last_seq: top })],
      replay: EMPTY_REPLAY,
    };
  }
  const oldest = history.oldest(top);
  const notices = since + 1 < oldest
    ? [gapNotice(channel, since + 1, oldest - 1)]
    : [];
  return {
    epoch,
    notices,
    replay: new HistoryCursor(
      channel,
      history,
      Math.max(since + 1, oldest),
      until,
    ),
  };
}

/** A replay with nothing in it. */
const EMPTY_REPLAY: ReplayCursor = Object.freeze({ next: () => undefined });

function gapNotice(channel: string, from: number, to: number): string {
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
      this.#next++;
      return frame.text;
    }
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
