/**
 * Queue mode: every client gets a bounded queue under the slow-client policy
 * and its own writer (`writer.ts`). `broadcast()` offers the frame to every
 * writer of the channel and moves on; it never waits on a client, so a slow
 * client costs the others nothing. The clients the policy cuts are returned
 * to the hub, which closes them.
 *
 * @module
 */
import {
  REAL_SCHEDULER,
  type Scheduler,
  type TimerHandle,
} from "../../lib/scheduler.ts";
import type { OutFrame } from "../core/frame.ts";
import {
  type Backlog,
  type Cut,
  type Mode,
  NO_CUTS,
  type Outlet,
} from "../core/mode.ts";
import type { Session } from "../core/session.ts";
import { BatchJoiner } from "./batch_joiner.ts";
import type { QueueLimits } from "./client_queue.ts";
import { DrainWatcher } from "./drain_watcher.ts";
import type { SlowLimits } from "./slow_policy.ts";
import { QueueWriter, type WriterContext } from "./writer.ts";

/** How often batching clients are flushed unless `--batch-ms` says otherwise, ms. */
export const DEFAULT_BATCH_MS = 10;
/** A client lags when it drains less than this share of what its reference drained. */
export const LAG_SHARE = 0.5;
/** Under overload, a client is compared with this quantile of its channel's clients. */
export const REFERENCE_QUANTILE = 0.75;

/** The `q` quantile of `values` (nearest rank; sorts them in place); 1 for none. */
function quantile(values: number[], q: number): number {
  if (values.length === 0) return 1;
  values.sort((a, b) => a - b);
  return values[Math.min(values.length - 1, Math.floor(q * values.length))]!;
}

/** Options of {@link QueueMode}. */
export interface QueueModeOptions {
  /** Per-client queue bounds and policy (`--maxsize`, `--max-queue-bytes`, `--policy`). */
  readonly queue: QueueLimits;
  /** Slow-client limits (`--drop-limit`, `--full-timeout`). */
  readonly limits: SlowLimits;
  /** Clock and timers (the drain poller's and the batch tick's). @default REAL_SCHEDULER */
  readonly scheduler?: Scheduler;
  /**
   * How often the one batch timer flushes every `?batch=1` client that has
   * something queued, ms (`--batch-ms`). @default DEFAULT_BATCH_MS
   */
  readonly batchMs?: number;
}

/** Bounded per-client queues, one writer per client, slow clients cut off. */
export class QueueMode implements Mode {
  /** @inheritdoc */
  readonly name = "queue" as const;
  /**
   * Writers per channel, as arrays (each writer knows its index): the
   * broadcast loop runs once per message over every client, and an array
   * walk allocates nothing where a Set's iterator may. A list is not a
   * count: an empty one stays until the hub, which counts each channel's
   * sessions, says the channel is gone ({@link release}).
   */
  readonly #channels = new Map<string, QueueWriter[]>();
  /** Each writer's delivered share of this tick, by its index (reused every tick). */
  readonly #shares: number[] = [];
  /** The same shares, sorted for the reference quantile (reused every tick). */
  readonly #sorted: number[] = [];
  readonly #scheduler: Scheduler;
  readonly #batchMs: number;
  readonly #ctx: WriterContext;
  readonly #joiner = new BatchJoiner();
  readonly #watcher: DrainWatcher;
  #shed = 0;
  /** Batching writers with live frames queued, flushed by the next batch tick. */
  readonly #scheduled = new Set<QueueWriter>();
  #timer: TimerHandle | undefined;

  /** @param options queue bounds and policy, limits, scheduler, batch interval */
  constructor(options: QueueModeOptions) {
    this.#scheduler = options.scheduler ?? REAL_SCHEDULER;
    this.#batchMs = options.batchMs ?? DEFAULT_BATCH_MS;
    this.#watcher = new DrainWatcher(this.#scheduler);
    const scheduler = this.#scheduler;
    this.#ctx = {
      queue: options.queue,
      limits: options.limits,
      watcher: this.#watcher,
      now: () => scheduler.now(),
      joiner: this.#joiner,
      schedule: (writer) => this.#schedule(writer),
    };
  }

  /** Sinks blocked on backpressure right now. */
  get waiting(): number {
    return this.#watcher.waiting;
  }

  /** Gives `session` its writer and starts sending its backlog. */
  attach(
    session: Session,
    backlog: Backlog | Promise<Backlog> | undefined,
  ): Outlet {
    const writer = new QueueWriter(session, backlog, this.#ctx);
    let writers = this.#channels.get(session.channel);
    if (!writers) this.#channels.set(session.channel, writers = []);
    writer.index = writers.push(writer) - 1;
    writer.flush(this.#scheduler.now());
    return writer;
  }

  /** Drops the writer's queue and releases its wait. */
  detach(outlet: Outlet): number {
    if (!(outlet instanceof QueueWriter)) return 0;
    const writer = outlet;
    const writers = this.#channels.get(writer.session.channel);
    if (writers?.[writer.index] !== writer) return 0;
    const last = writers.pop()!;
    if (last !== writer) {
      writers[writer.index] = last;
      last.index = writer.index;
    }
    writer.index = -1;
    this.#scheduled.delete(writer);
    return writer.detach();
  }

  /** Forgets the channel's (empty) list: the hub's last session of it has gone. */
  release(channel: string): void {
    if (this.#channels.get(channel)?.length === 0) {
      this.#channels.delete(channel);
    }
  }

  /** Offers `frame` to every writer of `channel`; returns the clients to cut. */
  broadcast(channel: string, frame: OutFrame): readonly Cut[] {
    const writers = this.#channels.get(channel);
    if (!writers) return NO_CUTS;
    // One clock read per message, not per client.
    const now = this.#scheduler.now();
    let cuts: Cut[] | undefined;
    for (let i = 0; i < writers.length; i++) {
      const writer = writers[i]!;
      if (writer.session.closed) continue;
      const verdict = writer.offer(frame, now);
      if (verdict) (cuts ??= []).push({ session: writer.session, verdict });
    }
    return cuts ?? NO_CUTS;
  }

  /**
   * The batch tick: every batching client with something queued sends it,
   * as few frames as the caps allow, while its socket is under the
   * high-water mark. Runs on the batch timer; tests may call it directly.
   */
  flushBatches(): void {
    if (this.#timer !== undefined) this.#scheduler.clear(this.#timer);
    this.#timer = undefined;
    const now = this.#scheduler.now();
    for (const writer of this.#scheduled) {
      if (writer.idle) writer.flush(now);
    }
    this.#scheduled.clear();
    this.#joiner.clear();
  }

  /** Queues `text` ahead of the data of every control client of `channel`. */
  notify(channel: string, text: string): void {
    for (const writer of this.#channels.get(channel) ?? []) {
      if (!writer.session.closed) writer.notice(text);
    }
  }

  /** Messages shed so far (drops of clients that were not lagging). */
  get shed(): number {
    return this.#shed;
  }

  /**
   * Assesses every client for the tick that ended, then applies the
   * slow-client limits. A client lags when it drained less than
   * {@link LAG_SHARE} of what its reference drained of what it was offered:
   * the reference is everything while the server keeps up, and the
   * channel's {@link REFERENCE_QUANTILE} client while it is overloaded. While
   * the server keeps up every client is charged for its drops; while it is
   * overloaded only a lagging one is — so a writer that never got the CPU to
   * serve its client is not slow, and a client that does not drain while its
   * peers do is. A lagging client's drops are charged at once from then on.
   */
  tick(now: number, overloaded: boolean): readonly Cut[] {
    let cuts: Cut[] | undefined;
    // One share per writer of the channel, by index, in arrays reused every
    // tick (the tick runs four times a second over every client).
    const shares = this.#shares;
    const sorted = this.#sorted;
    for (const writers of this.#channels.values()) {
      shares.length = sorted.length = 0;
      for (const writer of writers) shares.push(writer.deliveredShare());
      let reference = 1;
      if (overloaded) {
        for (const share of shares) sorted.push(share);
        reference = quantile(sorted, REFERENCE_QUANTILE);
      }
      for (const writer of writers) {
        if (writer.session.closed) continue;
        const share = shares[writer.index]!;
        const lagging = writer.behind && share < LAG_SHARE * reference;
        const charge = lagging || !overloaded;
        const assessed = writer.assess(lagging, charge, now);
        this.#shed += assessed.shed;
        const verdict = assessed.verdict ?? writer.judge(now, charge);
        if (verdict) (cuts ??= []).push({ session: writer.session, verdict });
      }
    }
    return cuts ?? NO_CUTS;
  }

  /** Stops the batch timer and releases every drain wait. */
  stop(): void {
    if (this.#timer !== undefined) this.#scheduler.clear(this.#timer);
    this.#timer = undefined;
    this.#scheduled.clear();
    this.#joiner.clear();
    this.#watcher.cancelAll();
  }

  #schedule(writer: QueueWriter): void {
    this.#scheduled.add(writer);
    this.#timer ??= this.#scheduler.set(
      () => this.flushBatches(),
      this.#batchMs,
    );
  }
}
