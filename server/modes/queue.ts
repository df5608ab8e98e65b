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
import {
  DEFAULT_ACK_WINDOW_BYTES,
  DEFAULT_ACK_WINDOW_FRAMES,
} from "./ack_pacer.ts";
import {
  DEFAULT_LADDER_DOWN_MS,
  DEFAULT_LADDER_DOWN_MSGS,
  DEFAULT_LADDER_UP_MS,
  type LadderLimits,
  type Tier,
  type TierChange,
} from "./ladder.ts";
import type { SlowLimits } from "./slow_policy.ts";
import { QueueWriter, type WriterContext } from "./writer.ts";

/** How often batching clients are flushed unless `--batch-ms` says otherwise, ms. */
export const DEFAULT_BATCH_MS = 10;
/** A client lags when it drains less than this share of what its reference drained. */
export const LAG_SHARE = 0.5;
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
  /** The ladder's thresholds; required by `--policy ladder`, ignored otherwise. */
  readonly ladder?: LadderLimits;
  /** Default time to live per channel, ms (`--channel-ttl`). */
  readonly channelTtlMs?: ReadonlyMap<string, number>;
  /** Every how many ms control clients get a `lag` frame; 0 for never (`--lag-interval`). @default 0 */
  readonly lagIntervalMs?: number;
  /** Told of every tier change (`--policy ladder`), for the log. */
  readonly onTierChange?: (session: Session, change: TierChange) => void;
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
  readonly #scheduler: Scheduler;
  readonly #batchMs: number;
  readonly #ctx: WriterContext;
  readonly #joiner = new BatchJoiner();
  readonly #watcher: DrainWatcher;
  #shed = 0;
  #overloaded = false;
  #expired = 0;
  readonly #tierChanges: Record<Tier, number> | undefined;
  /** Batching writers with live frames queued, flushed by the next batch tick. */
  readonly #scheduled = new Set<QueueWriter>();
  #timer: TimerHandle | undefined;
  /** Coalescing writers with live frames queued, flushed at the end of this turn. */
  readonly #soon = new Set<QueueWriter>();
  #soonTimer: TimerHandle | undefined;

  /** @param options queue bounds and policy, limits, scheduler, batch interval */
  constructor(options: QueueModeOptions) {
    this.#scheduler = options.scheduler ?? REAL_SCHEDULER;
    this.#batchMs = options.batchMs ?? DEFAULT_BATCH_MS;
    this.#watcher = new DrainWatcher(this.#scheduler);
    const scheduler = this.#scheduler;
    const ladder = options.queue.policy === "ladder"
      ? options.ladder ?? {
        downMsgs: DEFAULT_LADDER_DOWN_MSGS,
        downMs: DEFAULT_LADDER_DOWN_MS,
        upMs: DEFAULT_LADDER_UP_MS,
        ackWindow: {
          frames: DEFAULT_ACK_WINDOW_FRAMES,
          bytes: DEFAULT_ACK_WINDOW_BYTES,
        },
      }
      : undefined;
    const counts = ladder
      ? { full: 0, coalesced: 0, conflated: 0, dropping: 0 }
      : undefined;
    this.#tierChanges = counts;
    const onTier = options.onTierChange;
    this.#ctx = {
      queue: options.queue,
      limits: options.limits,
      watcher: this.#watcher,
      now: () => scheduler.now(),
      joiner: this.#joiner,
      schedule: (writer) => this.#schedule(writer),
      scheduleSoon: (writer) => this.#scheduleSoon(writer),
      overloaded: () => this.#overloaded,
      expired: (count) => this.#expired += count,
      lagIntervalMs: options.lagIntervalMs ?? 0,
      ...(options.channelTtlMs ? { channelTtlMs: options.channelTtlMs } : {}),
      ...(ladder ? { ladder } : {}),
      tierChanged: (writer, change) => {
        if (counts) counts[change.to]++;
        onTier?.(writer.session, change);
      },
    };
  }

  /** Messages not sent because their time to live ran out. */
  get expired(): number {
    return this.#expired;
  }

  /** Tier changes per tier entered (`--policy ladder`); undefined otherwise. */
  get tierChanges(): Readonly<Record<Tier, number>> | undefined {
    return this.#tierChanges;
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
    this.#soon.delete(writer);
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
      writer.scheduled = false;
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
   * Assesses every client for the tick that ended, moves ladder clients on
   * their ladder, then applies the slow-client limits. A client lags when it
   * drained less than {@link LAG_SHARE} of what it was offered; its drops
   * are then charged at once from then on. While the server itself is
   * overloaded nobody is charged — not by the drop window, the full timeout
   * or `--max-lag`: every queue fills at once, what cannot be sent is shed
   * (counted apart), and a client still slow once the server keeps up is
   * judged then.
   */
  tick(now: number, overloaded: boolean): readonly Cut[] {
    this.#overloaded = overloaded;
    let cuts: Cut[] | undefined;
    for (const writers of this.#channels.values()) {
      for (const writer of writers) {
        if (writer.session.closed) continue;
        const share = writer.deliveredShare();
        writer.climb(now);
        writer.lagTick(now);
        writer.paceTick(now);
        const lagging = !overloaded && writer.behind && share < LAG_SHARE;
        const assessed = writer.assess(lagging, !overloaded, now);
        this.#shed += assessed.shed;
        const verdict = assessed.verdict ??
          (overloaded ? undefined : writer.judge(now));
        if (verdict) (cuts ??= []).push({ session: writer.session, verdict });
      }
    }
    return cuts ?? NO_CUTS;
  }

  /** @inheritdoc */
  behindShare(now: number, lagMs: number, minBehind: number): number {
    let total = 0;
    let behind = 0;
    for (const writers of this.#channels.values()) {
      for (const writer of writers) {
        if (writer.session.closed) continue;
        total++;
        if (writer.lagMs(now) >= lagMs) behind++;
      }
    }
    return behind < minBehind ? 0 : behind / total;
  }

  /** Stops the batch timer and releases every drain wait. */
  stop(): void {
    if (this.#timer !== undefined) this.#scheduler.clear(this.#timer);
    this.#timer = undefined;
    if (this.#soonTimer !== undefined) this.#scheduler.clear(this.#soonTimer);
    this.#soonTimer = undefined;
    for (const writer of this.#soon) writer.scheduled = false;
    this.#soon.clear();
    for (const writer of this.#scheduled) writer.scheduled = false;
    this.#scheduled.clear();
    this.#joiner.clear();
    this.#watcher.cancelAll();
  }

  #scheduleSoon(writer: QueueWriter): void {
    writer.scheduled = true;
    this.#soon.add(writer);
    // 0 ms: the next turn of the event loop, after this burst of offers.
    this.#soonTimer ??= this.#scheduler.set(() => this.flushSoon(), 0);
  }

  /**
   * Sends what this turn of the event loop queued for coalescing clients,
   * one array frame each (the texts shared by clients holding the same
   * run). Runs on a 0-ms timer; tests may call it directly.
   */
  flushSoon(): void {
    if (this.#soonTimer !== undefined) this.#scheduler.clear(this.#soonTimer);
    this.#soonTimer = undefined;
    const now = this.#scheduler.now();
    for (const writer of this.#soon) {
      writer.scheduled = false;
      if (writer.idle) writer.flush(now);
    }
    this.#soon.clear();
    this.#joiner.clear();
  }

  #schedule(writer: QueueWriter): void {
    writer.scheduled = true;
    this.#scheduled.add(writer);
    this.#timer ??= this.#scheduler.set(
      () => this.flushBatches(),
      this.#batchMs,
    );
  }
}
