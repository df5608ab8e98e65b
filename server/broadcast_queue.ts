/**
 * Queue mode: every client gets a bounded queue under the slow-client policy
 * and its own writer. `broadcast()` offers the frame to every queue and moves
 * on; it never waits on a client, so a slow client costs the others nothing.
 *
 * @module
 */
import { encodeControl } from "../lib/protocol.ts";
import type { Backlog, Broadcaster } from "./broadcaster.ts";
import {
  type ClientQueue,
  createClientQueue,
  type QueueLimits,
} from "./client_queue.ts";
import type { DrainWatcher } from "./drain_watcher.ts";
import type { OutFrame } from "./frame.ts";
import type { Session } from "./session.ts";
import {
  judgeSlow,
  newSlowState,
  noteFull,
  recordDrop,
  type SlowLimits,
  type SlowState,
} from "./slow_policy.ts";

/**
 * The writer hands frames to the socket only while the socket buffers fewer
 * bytes than this. Without this gate Deno buffers without limit and the
 * bounded queue bounds nothing (DESIGN.md, trap 1). Server memory per client
 * is at most this plus one frame, plus the queue's shared frame references.
 */
export const QUEUE_HIGH_WATER_BYTES = 64 * 1024;

/** One client's writer: its queue, its pending notices and replay, its policy state. */
class QueueWriter {
  readonly queue: ClientQueue;
  readonly slow: SlowState = newSlowState();
  /** Control frames to send before anything else. */
  readonly control: string[];
  /** History to replay before live frames, and how far it got. */
  readonly replay: readonly OutFrame[];
  replayed = 0;
  /** Drops not yet announced to a client that asked for control frames. */
  unannounced = 0;
  /** True while the writer waits for the socket to drain. */
  waiting = false;

  constructor(limits: QueueLimits, backlog: Backlog) {
    this.queue = createClientQueue(limits);
    this.control = [...backlog.control];
    this.replay = backlog.replay;
  }

  /** The next text to send, in priority order, or undefined when idle. */
  next(session: Session): { text: string; frame?: OutFrame } | undefined {
    if (this.control.length > 0) return { text: this.control.shift()! };
    if (this.unannounced > 0) {
      const count = this.unannounced;
      this.unannounced = 0;
      return {
        text: encodeControl({
          type: "dropped",
          channel: session.channel,
          count,
        }),
      };
    }
    if (this.replayed < this.replay.length) {
      // Replayed history is sent as is: its enqueue time is not this client's.
      return { text: this.replay[this.replayed++]!.text };
    }
    const frame = this.queue.shift();
    return frame && { text: frame.text, frame };
  }
}

/** Options of {@link QueueBroadcaster}. */
export interface QueueBroadcasterOptions {
  /** Per-client queue bounds and policy (`--maxsize`, `--max-queue-bytes`, `--policy`). */
  readonly queue: QueueLimits;
  /** Slow-client limits (`--drop-limit`, `--full-timeout`). */
  readonly limits: SlowLimits;
  /** The shared drain poller. */
  readonly watcher: DrainWatcher;
  /** Monotonic clock, ms. */
  readonly now: () => number;
}

/** Bounded per-client queues, one writer per client, slow clients cut off. */
export class QueueBroadcaster implements Broadcaster {
  /** @inheritdoc */
  readonly mode = "queue" as const;
  readonly #writers = new WeakMap<Session, QueueWriter>();
  readonly #options: QueueBroadcasterOptions;

  /** @param options queue bounds and policy, limits, watcher and clock */
  constructor(options: QueueBroadcasterOptions) {
    this.#options = options;
  }

  /** Gives `session` its queue and starts sending its backlog. */
  attach(session: Session, backlog: Backlog): void {
    const writer = new QueueWriter(this.#options.queue, backlog);
    this.#writers.set(session, writer);
    this.#flush(session, writer);
  }

  /** Drops `session`'s queue and wakes its writer so it exits. */
  detach(session: Session): void {
    const writer = this.#writers.get(session);
    if (!writer) return;
    writer.queue.clear();
    this.#options.watcher.cancel(session.sink);
    this.#writers.delete(session);
  }

  /** Offers `frame` to every queue under the policy, then lets idle writers run. */
  broadcast(frame: OutFrame, sessions: Iterable<Session>): void {
    const now = this.#options.now();
    for (const session of sessions) {
      const writer = this.#writers.get(session);
      if (!writer || session.closed) continue;
      const { dropped, overflow } = writer.queue.push(frame);
      if (overflow) {
        session.stats.drops++;
        session.close(
          "slow_overflow",
          `slow client: queue full (${writer.queue.length} msgs, ${writer.queue.bytes} B) under --policy disconnect`,
        );
        continue;
      }
      if (dropped > 0) {
        session.stats.drops += dropped;
        recordDrop(writer.slow, now, dropped);
        if (session.control) writer.unannounced += dropped;
      }
      noteFull(writer.slow, writer.queue.isFull, now);
      if (!writer.waiting) this.#flush(session, writer);
      if (writer.slow.fullSince !== undefined || dropped > 0) {
        this.#judge(session, writer, now);
      }
    }
  }

  /** Applies the full-timeout rule between messages. */
  tick(sessions: Iterable<Session>, now: number): void {
    for (const session of sessions) {
      const writer = this.#writers.get(session);
      if (writer && !session.closed) this.#judge(session, writer, now);
    }
  }

  /** Messages waiting in `session`'s queue. */
  queueLength(session: Session): number {
    return this.#writers.get(session)?.queue.length ?? 0;
  }

  /** Nothing of its own to stop; the hub cancels the watcher. */
  stop(): void {}

  #judge(session: Session, writer: QueueWriter, now: number): void {
    const verdict = judgeSlow(writer.slow, this.#options.limits, now);
    if (verdict) session.close(verdict.reason, verdict.detail);
  }

  /** The writer: sends as much as the socket's high-water mark allows. */
  #flush(session: Session, writer: QueueWriter): void {
    const { sink } = session;
    while (!session.closed) {
      if (sink.bufferedAmount >= QUEUE_HIGH_WATER_BYTES) {
        writer.waiting = true;
        this.#options.watcher.waitBelow(sink, QUEUE_HIGH_WATER_BYTES - 1).then(
          (drained) => {
            writer.waiting = false;
            if (drained) this.#flush(session, writer);
          },
        );
        return;
      }
      const next = writer.next(session);
      if (!next) return;
      if (next.frame) session.write(next.frame, this.#options.now());
      else session.writeRaw(next.text);
      noteFull(writer.slow, writer.queue.isFull, this.#options.now());
    }
  }
}
