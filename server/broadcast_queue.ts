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

/** A batching client's frame holds at most this many messages (`?batch=1`). */
export const BATCH_MAX_MESSAGES = 256;
/** A batching client's frame stops growing once it holds this many bytes (`?batch=1`). */
export const BATCH_MAX_BYTES = 1024 * 1024;
/** How often batching clients are flushed unless `--batch-ms` says otherwise, ms. */
export const DEFAULT_BATCH_MS = 10;

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
  /** True for a `?batch=1` client: live frames leave on the batch timer, several per frame. */
  readonly batch: boolean;
  /** True while the writer is in the broadcaster's set of batching writers to flush. */
  pending = false;

  constructor(limits: QueueLimits, backlog: Backlog, batch: boolean) {
    this.queue = createClientQueue(limits);
    this.control = [...backlog.control];
    this.replay = backlog.replay;
    this.batch = batch;
  }

  /** True when notices or replayed history wait ahead of the live queue. */
  hasPriority(): boolean {
    return this.control.length > 0 || this.unannounced > 0 ||
      this.replayed < this.replay.length;
  }

  /** The next notice or replayed frame, in priority order; undefined when none. */
  nextPriority(session: Session): string | undefined {
    if (this.control.length > 0) return this.control.shift()!;
    if (this.unannounced > 0) {
      const count = this.unannounced;
      this.unannounced = 0;
      return encodeControl({
        type: "dropped",
        channel: session.channel,
        count,
      });
    }
    if (this.replayed < this.replay.length) {
      // Replayed history is sent as is: its enqueue time is not this client's.
      return this.replay[this.replayed++]!.text;
    }
    return undefined;
  }
}

/** A joined batch text, cached for the other clients holding the same run of frames. */
interface BatchText {
  readonly last: OutFrame;
  readonly count: number;
  readonly text: string;
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
  /**
   * How often the one batch timer flushes every `?batch=1` client that has
   * something queued, ms (`--batch-ms`). @default DEFAULT_BATCH_MS
   */
  readonly batchMs?: number;
}

/** Bounded per-client queues, one writer per client, slow clients cut off. */
export class QueueBroadcaster implements Broadcaster {
  /** @inheritdoc */
  readonly mode = "queue" as const;
  readonly #options: QueueBroadcasterOptions;
  readonly #batchMs: number;
  /** Batching writers with live frames queued, flushed by the next batch tick. */
  readonly #pending = new Set<Session>();
  #timer: ReturnType<typeof setTimeout> | undefined;
  /** Joined batch texts of this tick, by the run's first frame. */
  readonly #batchTexts = new Map<OutFrame, BatchText>();
  /** Scratch array of the frames going into one batch. */
  readonly #taken: OutFrame[] = [];

  /** @param options queue bounds and policy, limits, watcher, clock, batch interval */
  constructor(options: QueueBroadcasterOptions) {
    this.#options = options;
    this.#batchMs = options.batchMs ?? DEFAULT_BATCH_MS;
  }

  /** Gives `session` its queue and starts sending its backlog. */
  attach(session: Session, backlog: Backlog): void {
    const writer = new QueueWriter(this.#options.queue, backlog, session.batch);
    session.modeState = writer;
    this.#flush(session, writer, this.#options.now());
  }

  /** Drops `session`'s queue and wakes its writer so it exits. */
  detach(session: Session): void {
    const writer = writerOf(session);
    if (!writer) return;
    writer.queue.clear();
    this.#pending.delete(session);
    this.#options.watcher.cancel(session.sink);
    session.modeState = undefined;
  }

  /** Offers `frame` to every queue under the policy, then lets idle writers run. */
  broadcast(frame: OutFrame, sessions: Iterable<Session>): void {
    // One clock read per message, not per client.
    const now = this.#options.now();
    for (const session of sessions) {
      const writer = writerOf(session);
      if (!writer || session.closed) continue;
      // Fast path: an idle, non-batching writer with room in its socket
      // sends at once; queueing and unqueueing the frame would change nothing.
      if (
        !writer.batch && !writer.waiting && writer.queue.length === 0 &&
        !writer.hasPriority() &&
        session.sink.bufferedAmount < QUEUE_HIGH_WATER_BYTES
      ) {
        session.write(frame, now);
        writer.slow.fullSince = undefined;
        continue;
      }
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
      if (writer.batch) {
        if (!writer.pending && !writer.waiting) this.#schedule(session, writer);
      } else if (!writer.waiting) this.#flush(session, writer, now);
      if (writer.slow.fullSince !== undefined || dropped > 0) {
        this.#judge(session, writer, now);
      }
    }
  }

  /**
   * The batch tick: every batching client with something queued sends it,
   * as few frames as the caps allow, while its socket is under the
   * high-water mark. Runs on the batch timer; tests may call it directly.
   */
  flushBatches(): void {
    if (this.#timer !== undefined) clearTimeout(this.#timer);
    this.#timer = undefined;
    const now = this.#options.now();
    for (const session of this.#pending) {
      const writer = writerOf(session);
      if (writer) {
        writer.pending = false;
        if (!writer.waiting) this.#flush(session, writer, now);
      }
    }
    this.#pending.clear();
    this.#batchTexts.clear();
  }

  /** Applies the full-timeout rule between messages. */
  tick(sessions: Iterable<Session>, now: number): void {
    for (const session of sessions) {
      const writer = writerOf(session);
      if (writer && !session.closed) this.#judge(session, writer, now);
    }
  }

  /** Messages waiting in `session`'s queue. */
  queueLength(session: Session): number {
    return writerOf(session)?.queue.length ?? 0;
  }

  /** Stops the batch timer; the hub cancels the watcher. */
  stop(): void {
    if (this.#timer !== undefined) clearTimeout(this.#timer);
    this.#timer = undefined;
    for (const session of this.#pending) {
      const writer = writerOf(session);
      if (writer) writer.pending = false;
    }
    this.#pending.clear();
    this.#batchTexts.clear();
  }

  #schedule(session: Session, writer: QueueWriter): void {
    writer.pending = true;
    this.#pending.add(session);
    this.#timer ??= setTimeout(() => this.flushBatches(), this.#batchMs);
  }

  #judge(session: Session, writer: QueueWriter, now: number): void {
    const verdict = judgeSlow(writer.slow, this.#options.limits, now);
    if (verdict) session.close(verdict.reason, verdict.detail);
  }

  /**
   * The writer: sends as much as the socket's high-water mark allows —
   * notices and replay first, one frame each, then the live queue (one frame
   * per message, or for a batching client one array frame per batch).
   */
  #flush(session: Session, writer: QueueWriter, now: number): void {
    const { sink } = session;
    while (!session.closed) {
      const priority = writer.hasPriority();
      if (!priority && writer.queue.length === 0) return;
      if (sink.bufferedAmount >= QUEUE_HIGH_WATER_BYTES) {
        writer.waiting = true;
        this.#options.watcher.waitBelow(sink, QUEUE_HIGH_WATER_BYTES - 1).then(
          (drained) => {
            writer.waiting = false;
            if (drained) this.#flush(session, writer, this.#options.now());
          },
        );
        return;
      }
      if (priority) session.writeRaw(writer.nextPriority(session)!);
      else if (writer.batch) this.#sendBatch(session, writer, now);
      else session.write(writer.queue.shift()!, now);
      noteFull(writer.slow, writer.queue.isFull, now);
    }
  }

  /** Sends up to the batch caps of `writer`'s queue as one JSON array frame. */
  #sendBatch(session: Session, writer: QueueWriter, now: number): void {
    const taken = this.#taken;
    const queue = writer.queue;
    let bytes = 0;
    while (
      taken.length < BATCH_MAX_MESSAGES && bytes < BATCH_MAX_BYTES &&
      queue.length > 0
    ) {
      const frame = queue.shift()!;
      taken.push(frame);
      bytes += frame.bytes;
    }
    const first = taken[0]!;
    const last = taken[taken.length - 1]!;
    const count = taken.length;
    // Only a contiguous run (seq first..last, in order) is the same text for
    // every client that holds it; conflated queues hold other runs.
    const shareable = this.#options.queue.policy !== "conflate" &&
      last.seq - first.seq + 1 === count;
    let text: string | undefined;
    if (shareable) {
      const cached = this.#batchTexts.get(first);
      if (cached && cached.last === last && cached.count === count) {
        text = cached.text;
      }
    }
    if (text === undefined) {
      text = joinBatch(taken);
      if (shareable) this.#batchTexts.set(first, { last, count, text });
    }
    session.writeBatch(taken, text, now);
    taken.length = 0;
  }
}

/** Queue mode's per-session writer, kept on the session (no map lookup per message). */
function writerOf(session: Session): QueueWriter | undefined {
  return session.modeState as QueueWriter | undefined;
}

/** `[frame,frame,…]`: the frames' JSON texts as one JSON array. */
function joinBatch(frames: readonly OutFrame[]): string {
  let text = "[";
  for (let i = 0; i < frames.length; i++) {
    if (i > 0) text += ",";
    text += frames[i]!.text;
  }
  return text + "]";
}
