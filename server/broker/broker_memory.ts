/**
 * The single-process broker (`--broker memory`, the default): each channel's
 * seq, epoch and history live in this process. A publish is ordered, kept and
 * handed to the hub in one step, so the position a subscriber joins at is
 * exactly what it has been sent.
 *
 * What survives what: nothing survives a restart. A new process gives every
 * channel a new epoch, so a client resuming with the old one is told `reset`
 * instead of being spliced onto a different stream.
 *
 * @module
 */
import {
  type Broker,
  type BrokerHandler,
  BrokerStats,
  BrokerUnavailableError,
  type History,
  IDEMPOTENCY_WINDOW_S,
  type Position,
  type Published,
  type PublishOptions,
  type Resume,
} from "../core/broker.ts";
import { frameOf, type PublishBody } from "../core/frame.ts";
import { ChannelHistory, historyAfter } from "./history.ts";
import { newEpoch } from "./epoch.ts";

/** Options of {@link MemoryBroker}. */
export interface MemoryBrokerOptions {
  /** Messages kept per channel for `?since=` replay (`--history`). @default 0 */
  readonly history?: number;
  /** Channels that may exist at once (`--max-channels`). @default 1000 */
  readonly maxChannels?: number;
  /** Monotonic clock, ms (frames' `enqueuedAt`). @default performance.now */
  readonly now?: () => number;
  /** Makes a channel's epoch. @default {@link newEpoch} */
  readonly epoch?: () => string;
  /** How long an `Idempotency-Key` is remembered, seconds (`--idempotency-window`). @default IDEMPOTENCY_WINDOW_S */
  readonly idempotencyWindowS?: number;
}

/** One channel's stream. */
interface Stream {
  readonly epoch: string;
  seq: number;
  readonly history: ChannelHistory;
}

/** Every channel's stream in this process. */
export class MemoryBroker implements Broker {
  /** @inheritdoc */
  readonly kind = "memory";
  /** @inheritdoc */
  readonly stats: BrokerStats = new BrokerStats();
  readonly #streams = new Map<string, Stream>();
  readonly #history: number;
  readonly #maxChannels: number;
  readonly #now: () => number;
  readonly #epoch: () => string;
  #handler: BrokerHandler | undefined;

  /** Idempotency keys seen within the window, oldest first. */
  readonly #idempotent = new Map<
    string,
    { published: Promise<Published>; at: number }
  >();

  /** @param options history length, channel limit, clock */
  readonly #windowMs: number;

  constructor(options: MemoryBrokerOptions = {}) {
    this.#history = options.history ?? 0;
    this.#maxChannels = options.maxChannels ?? 1000;
    this.#now = options.now ?? (() => performance.now());
    this.#epoch = options.epoch ?? newEpoch;
    this.#windowMs = (options.idempotencyWindowS ?? IDEMPOTENCY_WINDOW_S) *
      1000;
  }

  /** Always connected: the streams are in this process. */
  connected(): Promise<boolean> {
    return Promise.resolve(true);
  }

  /** @inheritdoc */
  bind(handler: BrokerHandler): void {
    this.#handler = handler;
  }

  /** Whether `channel` exists or may be created now. */
  admits(channel: string): boolean {
    return this.#streams.has(channel) ||
      this.#streams.size < this.#maxChannels;
  }

  /**
   * Assigns the next seqs, keeps the frames, and hands each to the hub
   * before the next is assigned; in naive mode it waits for every client.
   * @throws {BrokerUnavailableError} when a new channel would exceed `--max-channels`
   */
  async publish(
    channel: string,
    bodies: readonly PublishBody[],
    options: PublishOptions = {},
  ): Promise<Published> {
    const key = options.idempotencyKey;
    const id = key === undefined ? undefined : `${channel}\0${key}`;
    if (id !== undefined) {
      const now = this.#now();
      for (const [k, v] of this.#idempotent) {
        if (now - v.at < this.#windowMs) break;
        this.#idempotent.delete(k);
      }
      const seen = this.#idempotent.get(id);
      if (seen) return { ...await seen.published, duplicate: true };
    }
    const published = this.#publish(channel, bodies);
    if (id !== undefined) {
      this.#idempotent.set(id, { published, at: this.#now() });
      published.catch(() => this.#idempotent.delete(id));
    }
    return await published;
  }

  async #publish(
    channel: string,
    bodies: readonly PublishBody[],
  ): Promise<Published> {
    const stream = this.#acquire(channel);
    const first = stream.seq + 1;
    for (const body of bodies) {
      const frame = frameOf(channel, ++stream.seq, body, this.#now());
      stream.history.push(frame);
      const delivered = this.#handler?.publication(channel, frame);
      if (delivered) await delivered;
    }
    return { channel, epoch: stream.epoch, first, last: stream.seq };
  }

  /**
   * Creates the channel's stream if needed; nothing else to start.
   * @throws {BrokerUnavailableError} when a new channel would exceed `--max-channels`
   */
  subscribe(channel: string): Promise<void> {
    this.#acquire(channel);
    return Promise.resolve();
  }

  /**
   * Forgets a stream nothing was ever published on: the hub calls this once
   * its last local interest in the channel is gone (it keeps the one count).
   */
  unsubscribe(channel: string): void {
    if (this.#streams.get(channel)?.seq === 0) this.#streams.delete(channel);
  }

  /** @inheritdoc */
  position(channel: string): Position {
    const stream = this.#streams.get(channel);
    return stream
      ? { epoch: stream.epoch, seq: stream.seq }
      : { epoch: "", seq: 0 };
  }

  /** Answers at once: the history is in this process. */
  history(channel: string, resume: Resume): History {
    const stream = this.#acquire(channel);
    return historyAfter(
      channel,
      stream.history,
      stream.epoch,
      stream.seq,
      resume,
    );
  }

  /** Nothing to release: the streams go with the process. */
  [Symbol.asyncDispose](): Promise<void> {
    return Promise.resolve();
  }

  #acquire(channel: string): Stream {
    let stream = this.#streams.get(channel);
    if (stream) return stream;
    if (this.#streams.size >= this.#maxChannels) {
      throw new BrokerUnavailableError(
        `cannot open channel ${channel}: ${this.#maxChannels} channels exist (--max-channels)`,
        "too_many_channels",
        1000,
      );
    }
    stream = {
      epoch: this.#epoch(),
      seq: 0,
      history: new ChannelHistory(this.#history),
    };
    this.#streams.set(channel, stream);
    return stream;
  }
}
