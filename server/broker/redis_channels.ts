/**
 * Publishing to and following channels of the Redis engine. A publish runs
 * one script that assigns the channel's next seqs, appends them to its
 * stream and publishes them; each channel a local session subscribes to is
 * followed over pub/sub by a {@link ChannelFollower} (in order, no
 * duplicate, holes repaired from the stream), which feeds the hub.
 *
 * @module
 */
import {
  type BrokerHandler,
  type BrokerStats,
  BrokerUnavailableError,
  type Position,
  type Published,
} from "../core/broker.ts";
import { DATA_PREFIX } from "../../lib/protocol.ts";
import {
  frameFromRest,
  frameRest,
  type OutFrame,
  type PublishBody,
} from "../core/frame.ts";
import { ChannelFollower, type StreamRead } from "./channel_follower.ts";
import { newEpoch } from "./epoch.ts";
import { type RedisConnection, RETRY_AFTER_MS } from "./redis_connection.ts";
import {
  type ChannelKeys,
  channelKeys,
  JOIN_LUA,
  PUBLISH_LUA,
  RedisScript,
  RENUMBER_LUA,
} from "./redis_scripts.ts";

/** Seconds a channel's keys live after its last publish (or a node joining it). */
export const CHANNEL_TTL_SECONDS = 86_400;
/** Entries a channel's stream keeps at least, so nodes can repair holes even with `--history 0`. */
export const REPAIR_WINDOW = 256;

const PUBLISH = new RedisScript(PUBLISH_LUA);
const JOIN = new RedisScript(JOIN_LUA);
const RENUMBER = new RedisScript(RENUMBER_LUA);

/** A channel this node follows. */
export interface Followed {
  /** Its follower (position, ring of recent messages). */
  readonly follower: ChannelFollower;
  /** Settles once the follower knows where the stream stands. */
  ready: Promise<void>;
  /** Messages that arrived before that. */
  early: { epoch: string; frame: OutFrame }[] | undefined;
}

/** Options of {@link RedisChannels}. */
export interface RedisChannelsOptions {
  /** The connections. */
  readonly connection: RedisConnection;
  /** Written here: errors, repairs, gaps, resets, publish latency. */
  readonly stats: BrokerStats;
  /** Messages replayable per channel (`--history`). */
  readonly history: number;
  /** Channels this node follows at once (`--max-channels`). */
  readonly maxChannels: number;
  /** Key prefix. */
  readonly prefix: string;
  /** Monotonic clock, ms. */
  readonly now: () => number;
  /** Where delivered messages and notices go (the hub, once bound). */
  readonly handler: () => BrokerHandler | undefined;
  /** Reads seqs `from..to` of a channel's stream (repairs). */
  readonly read: (channel: string, from: number, to: number) => Promise<
    StreamRead
  >;
}

/** The channels this node publishes to and follows. */
export class RedisChannels {
  readonly #o: RedisChannelsOptions;
  readonly #followed = new Map<string, Followed>();
  /** The position this node last saw per channel it published to (for the renumbering guard). */
  readonly #seen = new Map<string, Position>();
  /** JOINs being retried, per followed channel (one loop each). */
  readonly #joining = new WeakMap<Followed, Promise<void>>();

  /** @param options connection, stats, limits, where to deliver */
  constructor(options: RedisChannelsOptions) {
    this.#o = options;
  }

  /** The Redis names of `channel`. */
  keys(channel: string): ChannelKeys {
    return channelKeys(this.#o.prefix, channel);
  }

  /** The channel followed here, if it is. */
  followed(channel: string): Followed | undefined {
    return this.#followed.get(channel);
  }

  /** Whether this node may follow `channel` now (`--max-channels` counts the channels it follows). */
  admits(channel: string): boolean {
    return this.#followed.has(channel) ||
      this.#followed.size < this.#o.maxChannels;
  }

  /**
   * Runs the publish script: one round trip for the whole batch.
   * @throws {BrokerUnavailableError} while Redis is unreachable
   */
  async publish(
    channel: string,
    bodies: readonly PublishBody[],
  ): Promise<Published> {
    const { connection, stats } = this.#o;
    if (!connection.ready) throw connection.unavailable();
    const seen = this.#seenAt(channel);
    const k = this.keys(channel);
    const args = [
      k.subject,
      String(Math.max(this.#o.history, REPAIR_WINDOW)),
      String(CHANNEL_TTL_SECONDS),
      newEpoch(),
      seen.epoch,
      String(seen.seq),
    ];
    for (const body of bodies) {
      args.push(body.key ?? "", frameRest(channel, body));
    }
    const started = this.#o.now();
    let reply: unknown;
    try {
      reply = await PUBLISH.run(connection.client, [k.meta, k.stream], args);
    } catch (err) {
      stats.errors++;
      // Any engine error is an outage for this publish (503, `stored` says
      // whether it may have run); engine-wide ones mark the broker down.
      throw connection.failed(err);
    }
    stats.publishLatency.record(this.#o.now() - started);
    const [first, last, epoch] = reply as [number, number, string, number];
    this.#seen.set(channel, { epoch, seq: last });
    return { channel, epoch, first, last };
  }

  /**
   * Starts following `channel`: subscribes to its subject, learns where the
   * stream stands, then delivers in order.
   * @throws {BrokerUnavailableError} synchronously when `--max-channels` is reached
   */
  subscribe(channel: string): Promise<void> {
    const known = this.#followed.get(channel);
    if (known) return known.ready;
    const { maxChannels, stats } = this.#o;
    if (this.#followed.size >= maxChannels) {
      throw new BrokerUnavailableError(
        `cannot open channel ${channel}: this node follows ${maxChannels} channels (--max-channels)`,
        "too_many_channels",
        1000,
      );
    }
    const follower = new ChannelFollower(channel, this.#o.history, {
      deliver: (frame) => this.#o.handler()?.publication(channel, frame),
      notice: (text) => this.#o.handler()?.notice(channel, text),
      read: (from, to) => this.#o.read(channel, from, to),
      count: (event) => {
        if (event === "repair") stats.repairs++;
        else if (event === "gap") stats.gaps++;
        else stats.resets++;
      },
    });
    const followed: Followed = {
      follower,
      ready: Promise.resolve(),
      early: [],
    };
    this.#followed.set(channel, followed);
    followed.ready = (async () => {
      await this.#o.connection.sub.subscribe(
        this.keys(channel).subject,
        (message: string) => this.#message(followed, message),
      );
      await this.#joinRetrying(followed);
    })();
    followed.ready.catch(() => {}); // a resync after Redis returns retries it
    return followed.ready;
  }

  /** Stops following `channel`. */
  unsubscribe(channel: string): void {
    if (!this.#followed.delete(channel)) return;
    this.#o.connection.sub.unsubscribe(this.keys(channel).subject)
      .catch(() => {});
  }

  /** The channel's position as this node last delivered it. */
  position(channel: string): Position {
    const f = this.#followed.get(channel)?.follower;
    return f ? { epoch: f.epoch, seq: f.delivered } : { epoch: "", seq: 0 };
  }

  /** Back after an outage: compares every followed channel with Redis (repair, reset or renumber). */
  resyncAll(): void {
    for (const followed of this.#followed.values()) {
      followed.ready = this.#joinRetrying(followed);
      followed.ready.catch(() => {});
    }
  }

  /** Forgets every followed channel (the broker is closing). */
  clear(): void {
    this.#followed.clear();
  }

  /** The channel's `(epoch, top)` in Redis now (creating its epoch if it has none). */
  async joinReply(channel: string): Promise<[string, number]> {
    const reply = await JOIN.run(this.#o.connection.client, [
      this.keys(channel).meta,
    ], [
      newEpoch(),
      String(CHANNEL_TTL_SECONDS),
    ]);
    return reply as [string, number];
  }

  /** The stream went backwards in `epoch`: give it a new epoch (unless another node did). */
  async renumber(followed: Followed, epoch: string): Promise<void> {
    const k = this.keys(followed.follower.channel);
    const [now, top] = await RENUMBER.run(
      this.#o.connection.client,
      [k.meta, k.stream],
      [epoch, newEpoch(), String(CHANNEL_TTL_SECONDS)],
    ) as [string, number];
    followed.follower.resync(now, top);
  }

  /** The furthest position this node has seen on `channel`, delivered or published. */
  #seenAt(channel: string): Position {
    const f = this.#followed.get(channel)?.follower;
    const published = this.#seen.get(channel);
    if (!f) return published ?? { epoch: "", seq: 0 };
    const seq = published?.epoch === f.epoch
      ? Math.max(published.seq, f.delivered)
      : f.delivered;
    return { epoch: f.epoch, seq };
  }

  /**
   * {@link #join}, retried while the channel is still followed here: a JOIN
   * refused (READONLY, OOM, LOADING, no reply) marks the engine down, and
   * the channel joins once it is back — it is never left without an epoch.
   * Clients joining meanwhile wait for their position.
   */
  #joinRetrying(followed: Followed): Promise<void> {
    const running = this.#joining.get(followed);
    if (running) return running;
    const { connection, stats } = this.#o;
    const loop = (async () => {
      while (true) {
        try {
          return await this.#join(followed);
        } catch (err) {
          stats.errors++;
          const failure = connection.failed(err);
          const channel = followed.follower.channel;
          if (connection.closed || this.#followed.get(channel) !== followed) {
            throw failure;
          }
          // Up but refused (a script error): wait, not a spin. Down: again
          // as soon as it is back.
          if (connection.ready) {
            await new Promise((r) => setTimeout(r, RETRY_AFTER_MS));
          } else await connection.connected(RETRY_AFTER_MS);
        }
      }
    })().finally(() => this.#joining.delete(followed));
    this.#joining.set(followed, loop);
    return loop;
  }

  /** Learns where the channel's stream stands and starts delivering. */
  async #join(followed: Followed): Promise<void> {
    const [epoch, top] = await this.joinReply(followed.follower.channel);
    const { follower } = followed;
    const early = followed.early;
    followed.early = undefined;
    if (early) {
      follower.start(epoch, top);
      for (const m of early) follower.receive(m.epoch, m.frame);
      return;
    }
    if (follower.resync(epoch, top) === "regressed") {
      await this.renumber(followed, epoch);
    }
  }

  /**
   * One pub/sub message: `epoch:seq:` + frame text (+ `\0` + key), as the
   * publish script lays it out. The frame is built by the same code as on
   * the memory path (`frameFromRest`: UTF-8 `bytes`, `ts_send` for ACKs),
   * from the part after `{"seq":N`.
   */
  #message(followed: Followed, message: string): void {
    const c1 = message.indexOf(":");
    const c2 = message.indexOf(":", c1 + 1);
    const nul = message.indexOf("\0", c2 + 1);
    const epoch = message.slice(0, c1);
    const seqText = message.slice(c1 + 1, c2);
    const seq = Number(seqText);
    const restAt = c2 + 1 + DATA_PREFIX.length + seqText.length;
    const rest = nul < 0 ? message.slice(restAt) : message.slice(restAt, nul);
    const key = nul < 0 ? undefined : message.slice(nul + 1);
    const frame = frameFromRest(seq, rest, key, this.#o.now());
    if (followed.early) followed.early.push({ epoch, frame });
    else followed.follower.receive(epoch, frame);
  }
}
