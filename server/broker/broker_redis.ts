/**
 * The shared broker (`--broker redis://HOST:PORT[/DB]`): many nodes act as
 * one stream. A publish on any node runs one Lua script that assigns the
 * channel's next seqs atomically, appends them to a capped per-channel Redis
 * stream whose entry ids are the seqs, and publishes them on the channel's
 * pub/sub subject. Each node follows the channels its local clients
 * subscribe to and feeds its own hub, so queues, policies and isolation work
 * exactly as on one node.
 *
 * This file only assembles the three parts, one concern each:
 * - `redis_connection.ts`: the two connections and whether the engine is up;
 * - `redis_channels.ts`: publishing, and following channels in order;
 * - `redis_replay.ts`: where resuming clients join, and stream reads.
 *
 * What survives what is in the README ("Scale out").
 *
 * @module
 */
import {
  type Broker,
  type BrokerHandler,
  BrokerStats,
  type History,
  type Position,
  type Published,
  type PublishOptions,
  type Resume,
} from "../core/broker.ts";
import type { PublishBody } from "../core/frame.ts";
import { RedisChannels } from "./redis_channels.ts";
import { RedisConnection } from "./redis_connection.ts";
import { RedisReplay } from "./redis_replay.ts";

export { CHANNEL_TTL_SECONDS, REPAIR_WINDOW } from "./channel_scripts.ts";
export {
  DEFAULT_BROKER_TIMEOUT_MS,
  RETRY_AFTER_MS,
} from "./redis_connection.ts";
export { READ_REUSE_MS, STORM_SPAN } from "./redis_replay.ts";

/** Options of {@link RedisBroker}. */
export interface RedisBrokerOptions {
  /** `redis://[user:pass@]host:port[/db]`. */
  readonly url: string;
  /** Messages replayable per channel (`--history`). @default 0 */
  readonly history?: number;
  /** Channels this node follows at once (`--max-channels`). @default 1000 */
  readonly maxChannels?: number;
  /**
   * The most messages one repair of a followed channel hands over at once
   * (the queue mode's `--maxsize`): an engine back after an outage with
   * more than that is announced as an exact `gap` for the rest. @default Infinity
   */
  readonly catchUp?: number;
  /** How long an `Idempotency-Key` is remembered, seconds (`--idempotency-window`). @default IDEMPOTENCY_WINDOW_S */
  readonly idempotencyWindowS?: number;
  /** Key prefix, so several deployments can share one Redis. @default "fanout" */
  readonly prefix?: string;
  /** Monotonic clock, ms. @default performance.now */
  readonly now?: () => number;
  /** Told once each time the engine goes away or comes back. */
  readonly onStateChange?: (up: boolean, reason: string) => void;
  /** A command with no reply this long is an outage (`--broker-timeout-ms`), ms. @default 1000 */
  readonly timeoutMs?: number;
}

/** Channels' streams in Redis, followed by this node. */
export class RedisBroker implements Broker {
  /** @inheritdoc */
  readonly kind = "redis";
  /** @inheritdoc */
  readonly stats: BrokerStats = new BrokerStats();
  readonly #connection: RedisConnection;
  readonly #channels: RedisChannels;
  readonly #replay: RedisReplay;
  #handler: BrokerHandler | undefined;

  /**
   * Creates the connections; they connect in the background and keep trying.
   * @param options where Redis is, history length, channel limit
   */
  constructor(options: RedisBrokerOptions) {
    const history = options.history ?? 0;
    const now = options.now ?? (() => performance.now());
    const stats = this.stats;
    this.#connection = new RedisConnection({
      url: options.url,
      stats,
      timeoutMs: options.timeoutMs,
      probeKey: `${options.prefix ?? "fanout"}:probe`,
      onStateChange: options.onStateChange,
      onBack: () => this.#channels.resyncAll(),
      onAway: () => this.#channels.suspectAll(),
    });
    this.#channels = new RedisChannels({
      connection: this.#connection,
      stats,
      history,
      maxChannels: options.maxChannels ?? 1000,
      catchUp: options.catchUp,
      idempotencyWindowS: options.idempotencyWindowS,
      prefix: options.prefix ?? "fanout",
      now,
      handler: () => this.#handler,
      read: (channel, from, to) => this.#replay.read(channel, from, to),
    });
    this.#replay = new RedisReplay({
      connection: this.#connection,
      stats,
      channels: this.#channels,
      history,
      now,
    });
  }

  /** @inheritdoc */
  connected(timeoutMs: number): Promise<boolean> {
    return this.#connection.connected(timeoutMs);
  }

  /** @inheritdoc */
  bind(handler: BrokerHandler): void {
    this.#handler = handler;
  }

  /** @inheritdoc */
  admits(channel: string): boolean {
    return this.#channels.admits(channel);
  }

  /** @inheritdoc */
  publish(
    channel: string,
    bodies: readonly PublishBody[],
    options?: PublishOptions,
  ): Promise<Published> {
    return this.#channels.publish(channel, bodies, options);
  }

  /** @inheritdoc */
  subscribe(channel: string): Promise<void> {
    return this.#channels.subscribe(channel);
  }

  /** @inheritdoc */
  unsubscribe(channel: string): void {
    this.#replay.forget(channel);
    this.#channels.unsubscribe(channel);
  }

  /** @inheritdoc */
  position(channel: string): Position {
    return this.#channels.position(channel);
  }

  /** @inheritdoc */
  history(channel: string, resume: Resume): Promise<History> {
    return this.#replay.history(channel, resume);
  }

  /** Closes both connections. */
  async [Symbol.asyncDispose](): Promise<void> {
    this.#channels.clear();
    await this.#connection.close();
  }
}
