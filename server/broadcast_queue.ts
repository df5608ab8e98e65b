/**
 * Queue mode: every client gets a bounded drop-oldest queue and its own
 * writer. `broadcast()` pushes to every queue and moves on; it never waits on
 * a client, so a slow client costs the others nothing.
 *
 * @module
 */
import { RingQueue } from "../lib/ring_queue.ts";
import type { Broadcaster } from "./broadcaster.ts";
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
 * is at most this plus one frame, plus `--maxsize` shared frame references.
 */
export const QUEUE_HIGH_WATER_BYTES = 64 * 1024;

/** One client's queue and writer state. */
class QueueWriter {
  readonly queue: RingQueue<OutFrame>;
  readonly slow: SlowState = newSlowState();
  /** True while the writer waits for the socket to drain. */
  waiting = false;

  constructor(limit: number) {
    this.queue = new RingQueue<OutFrame>(limit);
  }
}

/** Options of {@link QueueBroadcaster}. */
export interface QueueBroadcasterOptions {
  /** Per-client queue length (`--maxsize`). */
  readonly maxsize: number;
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

  /** @param options queue size, limits, watcher and clock */
  constructor(options: QueueBroadcasterOptions) {
    this.#options = options;
  }

  /** Gives `session` its queue. */
  attach(session: Session): void {
    this.#writers.set(session, new QueueWriter(this.#options.maxsize));
  }

  /** Drops `session`'s queue and wakes its writer so it exits. */
  detach(session: Session): void {
    const writer = this.#writers.get(session);
    if (!writer) return;
    writer.queue.clear();
    this.#options.watcher.cancel(session.sink);
    this.#writers.delete(session);
  }

  /** Pushes `frame` into every queue (dropping the oldest where full), then lets idle writers run. */
  broadcast(frame: OutFrame, sessions: Iterable<Session>): void {
    const now = this.#options.now();
    for (const session of sessions) {
      const writer = this.#writers.get(session);
      if (!writer || session.closed) continue;
      if (writer.queue.push(frame) !== undefined) {
        session.stats.drops++;
        recordDrop(writer.slow, now);
      }
      noteFull(writer.slow, writer.queue.isFull, now);
      if (!writer.waiting) this.#flush(session, writer);
      if (writer.slow.fullSince !== undefined) {
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

  /** The writer: drains as many frames as the socket's high-water mark allows. */
  #flush(session: Session, writer: QueueWriter): void {
    const { sink } = session;
    while (writer.queue.length > 0 && !session.closed) {
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
      session.write(writer.queue.shift()!, this.#options.now());
      noteFull(writer.slow, false, this.#options.now());
    }
  }
}
