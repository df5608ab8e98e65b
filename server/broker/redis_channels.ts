/**
 * Publishing to and following channels of the Redis engine. A publish runs
 * one script that assigns the channel's next seqs, appends them to its
 * stream and publishes them; each channel a local session subscribes to is
 * followed over pub/sub by a {@link ChannelFollower} (in order, no
 * duplicate, holes repaired from the stream), which feeds the hub. Here:
 * who follows what, the subscriptions, the JOIN loops and the periodic
 * check; the scripts' calls are `channel_scripts.ts`, what their replies
 * mean `engine_reply.ts`.
 *
 * @module
 */
import {
  type BrokerHandler,
  type BrokerStats,
  BrokerUnavailableError,
  type Position,
  type Published,
  type PublishOptions,
} from "../core/broker.ts";
import { DATA_PREFIX } from "../../lib/protocol.ts";
import type { PublishBody } from "../core/frame.ts";
import { ChannelFollower, type StreamRead } from "./channel_follower.ts";
import { ChannelScripts } from "./channel_scripts.ts";
import {
  applyCheckReply,
  applyJoinReply,
  type AskedAt,
  askedAt,
  type EarlyMessage,
  type JoinReply,
  type Lag,
  type Renumber,
} from "./engine_reply.ts";
import { frameFromEngine } from "./message_tag.ts";
import { type RedisConnection, RETRY_AFTER_MS } from "./redis_connection.ts";
import type { ChannelKeys } from "./redis_scripts.ts";
import { Subscriptions } from "./subscriptions.ts";

/** How often every followed channel is compared with the engine, ms. */
export const CHECK_INTERVAL_MS = 2_000;
/** Channels per check script (one round trip each). */
const CHECK_BATCH = 500;
/** How long a subscription nobody wants is kept before UNSUBSCRIBE, ms. */
const DISSOLVE_AFTER_MS = 50;

/** A channel this node follows. */
export interface Followed {
  /** Its follower (position, ring of recent messages). */
  readonly follower: ChannelFollower;
  /** Settles once the follower knows where the stream stands. */
  ready: Promise<void>;
  /** Messages that arrived before that. */
  early: EarlyMessage[] | undefined;
  /**
   * Settles once the follower has an epoch (its first JOIN answered), however
   * many subscribes and JOINs that took; rejects only if the channel is no
   * longer followed first. A client's position waits for this: it never
   * names an empty epoch.
   */
  readonly started: Promise<void>;
  /** What the last check saw this follower behind (the engine's top, its epoch). */
  lag?: Lag | undefined;
  /** Its first subscribe or JOIN failed (a lost reply): the check retries it. */
  failed?: boolean;
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
  /** The most messages one repair hands over at once (a client queue's size); more is a `gap`. */
  readonly catchUp?: number | undefined;
  /** How long an `Idempotency-Key` is remembered, seconds. @default IDEMPOTENCY_WINDOW_S */
  readonly idempotencyWindowS?: number | undefined;
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
  /** Settles {@link Followed.started} of the channels not started yet. */
  readonly #starting = new WeakMap<
    Followed,
    { resolve(): void; reject(err: Error): void }
  >();
  /** The scripts this node runs on Redis (and the highest epoch generation it has seen). */
  readonly scripts: ChannelScripts;

  readonly #subs: Subscriptions;
  #checkTimer: ReturnType<typeof setInterval> | undefined;
  #checking = false;

  /** @param options connection, stats, limits, where to deliver */
  constructor(options: RedisChannelsOptions) {
    this.#o = options;
    this.scripts = new ChannelScripts(options);
    const sub = () => options.connection.sub;
    this.#subs = new Subscriptions({
      subscribe: async (subject) => {
        const channel = this.#channelOf(subject);
        await sub().subscribe(subject, (message: string) => {
          const followed = this.#followed.get(channel);
          if (followed) this.#message(followed, message);
        });
      },
      unsubscribe: async (subject) => {
        await sub().unsubscribe(subject);
      },
    }, DISSOLVE_AFTER_MS);
    this.#checkTimer = setInterval(() => void this.check(), CHECK_INTERVAL_MS);
  }

  /** The channel of one of this node's subjects. */
  #channelOf(subject: string): string {
    return subject.slice(this.#o.prefix.length + 2, -1);
  }

  /** The Redis names of `channel`. */
  keys(channel: string): ChannelKeys {
    return this.scripts.keys(channel);
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
   * Runs the publish script ({@link ChannelScripts.publish}), guarded by
   * the furthest position this node has seen on the channel.
   * @throws {BrokerUnavailableError} while Redis is unreachable
   */
  async publish(
    channel: string,
    bodies: readonly PublishBody[],
    options: PublishOptions = {},
  ): Promise<Published> {
    const published = await this.scripts.publish(
      channel,
      bodies,
      options,
      this.#seenAt(channel),
    );
    if (!published.duplicate) {
      this.#seen.set(channel, { epoch: published.epoch, seq: published.last });
    }
    return published;
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
      notice: (text, epoch) => this.#o.handler()?.notice(channel, text, epoch),
      read: (from, to) => this.#o.read(channel, from, to),
      count: (event) => {
        if (event === "repair") stats.repairs++;
        else if (event === "gap") stats.gaps++;
        else if (event === "stale") stats.staleEpochs++;
        else stats.resets++;
      },
      adopted: (epoch) => this.noteEpoch(epoch),
    }, this.#o.catchUp);
    const started = Promise.withResolvers<void>();
    started.promise.catch(() => {});
    const followed: Followed = {
      follower,
      ready: Promise.resolve(),
      early: [],
      started: started.promise,
    };
    this.#starting.set(followed, started);
    this.#followed.set(channel, followed);
    this.#start(followed);
    return followed.ready;
  }

  /** Subscribes and joins; a failure is retried by the next check (or a resync). */
  #start(followed: Followed): void {
    followed.failed = false;
    followed.ready = (async () => {
      await this.#subs.want(this.keys(followed.follower.channel).subject);
      await this.#joinRetrying(followed);
    })();
    followed.ready.catch(() => followed.failed = true);
  }

  /** Stops following `channel`. */
  unsubscribe(channel: string): void {
    const followed = this.#followed.get(channel);
    if (!followed) return;
    this.#followed.delete(channel);
    this.#abandon(followed);
    this.#subs.drop(this.keys(channel).subject);
  }

  /** `followed` will never start here: whoever waits for it is told. */
  #abandon(followed: Followed): void {
    this.#starting.get(followed)?.reject(
      new Error(`no longer following ${followed.follower.channel}`),
    );
    this.#starting.delete(followed);
  }

  /** The channel's position as this node last delivered it. */
  position(channel: string): Position {
    const f = this.#followed.get(channel)?.follower;
    return f ? { epoch: f.epoch, seq: f.delivered } : { epoch: "", seq: 0 };
  }

  /**
   * Back after an outage: compares every followed channel with Redis
   * (repair, reset or renumber; {@link #join} says how a JOIN meets a
   * SUBSCRIBE still on its way), and first asks again for what the outage
   * cost — a SUBSCRIBE or a first JOIN lost with its connection — rather
   * than leave it to the next check, seconds later.
   */
  resyncAll(): void {
    for (const followed of this.#followed.values()) {
      if (this.#restart(followed)) continue;
      followed.ready = this.#joinRetrying(followed);
      followed.ready.catch(() => {});
    }
  }

  /**
   * Asks again for what a lost command left undone: a follower whose first
   * SUBSCRIBE or JOIN failed starts over (returns true), and a SUBSCRIBE
   * lost with its connection is sent again — also one still on its way
   * for a follower that is starting. It is queued behind that one and
   * re-checked in its turn, so a subscription that is there is left alone.
   */
  #restart(followed: Followed): boolean {
    if (followed.early && followed.failed) {
      this.#start(followed);
      return true;
    }
    const subject = this.keys(followed.follower.channel).subject;
    if (!this.#subs.active(subject)) {
      this.#subs.want(subject).catch(() => {});
    }
    return false;
  }

  /**
   * The engine went away: every follower keeps the last message it handed
   * over as a mark, compared with the stream by the JOIN on its return
   * (it may come back without them: a failover, an empty restart).
   */
  suspectAll(): void {
    for (const followed of this.#followed.values()) {
      followed.follower.suspect();
      // Held for a first JOIN that has not answered: they came from the
      // engine that went away, and the JOIN will be answered by the one that
      // comes back — which may not have them. Its top decides.
      if (followed.early) followed.early = [];
    }
  }

  /** Forgets every followed channel and stops the checks (the broker is closing). */
  clear(): void {
    clearInterval(this.#checkTimer);
    this.#checkTimer = undefined;
    for (const followed of this.#followed.values()) this.#abandon(followed);
    this.#followed.clear();
    this.#subs.clear();
  }

  /**
   * Compares every followed channel with the engine (one script per
   * {@link CHECK_BATCH} channels) and repairs a follower that is in an
   * older epoch, stuck or deaf (behind what the engine had a check ago), or
   * ahead of an engine that lost data; counted per cause. Runs every
   * {@link CHECK_INTERVAL_MS}; one at a time.
   */
  async check(): Promise<void> {
    if (this.#checking || !this.#o.connection.ready) return;
    this.#checking = true;
    try {
      const all = [...this.#followed.values()];
      for (const f of all) this.#restart(f);
      // A follower with a JOIN out is left to that JOIN's reply: a check
      // racing it finds only what the JOIN is about to settle (a channel
      // an empty restart left `missing` until this JOIN makes it again).
      const ready = all.filter((f) => !f.early && !this.#joining.has(f));
      for (let i = 0; i < ready.length; i += CHECK_BATCH) {
        await this.#checkBatch(ready.slice(i, i + CHECK_BATCH));
      }
    } catch {
      this.#o.stats.errors++; // the engine is away: its return resyncs
    } finally {
      this.#checking = false;
    }
  }

  async #checkBatch(batch: readonly Followed[]): Promise<void> {
    const asked = batch.map(({ follower }) => askedAt(follower));
    const reply = await this.scripts.check(
      batch.map((f) => f.follower.channel),
    );
    const repairs = this.#o.stats.followerRepairs;
    batch.forEach((followed, i) => {
      const { follower } = followed;
      if (this.#followed.get(follower.channel) !== followed) return;
      const engine = reply[i]!;
      const step = applyCheckReply(
        follower,
        asked[i]!,
        followed.lag,
        engine,
      );
      followed.lag = step.lag;
      if (step.verify) {
        // Marks the JOIN after the outage has not compared yet (its reply lost).
        followed.ready = this.#joinRetrying(followed);
        followed.ready.catch(() => {});
      }
      if (!step.cause) return;
      repairs[step.cause]++;
      if (step.join) followed.ready = this.#joinRetrying(followed);
      else if (step.renumber) {
        followed.ready = this.renumber(followed, step.renumber);
      }
      // Stuck behind: pub/sub may have lost the subject; subscribe again.
      if (step.renew) {
        const subject = this.keys(follower.channel).subject;
        this.#subs.renew(subject).catch(() => {});
      }
      followed.ready.catch(() => {});
    });
  }

  /** Raises the highest generation this node has seen to `epoch`'s (a client's, a reply's). */
  noteEpoch(epoch: string): void {
    this.scripts.noteEpoch(epoch);
  }

  /** {@link ChannelScripts.join}. */
  joinReply(channel: string, asked?: AskedAt): Promise<JoinReply> {
    return this.scripts.join(channel, asked);
  }

  /**
   * The stream went backwards in `epoch` (below `asOf`, the seq this node
   * had when it asked), or holds other messages than `marks`: asks for a
   * new epoch ({@link ChannelScripts.renumber}, compare-and-set), and
   * resyncs the follower with where the channel stands after it.
   */
  async renumber(followed: Followed, renumber: Renumber): Promise<void> {
    const [now, top] = await this.scripts.renumber(
      followed.follower.channel,
      renumber,
    );
    followed.follower.resync(now, top);
  }

  /** The furthest position this node has seen on `channel`, delivered or published. */
  #seenAt(channel: string): Position {
    const f = this.#followed.get(channel)?.follower;
    const published = this.#seen.get(channel);
    if (!f) return published ?? { epoch: "", seq: 0 };
    const seq = published?.epoch === f.epoch
      ? Math.max(published.seq, f.seen)
      : f.seen;
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

  /**
   * Learns where the channel's stream stands and starts delivering. The
   * reply is compared with the position this node had when it asked (a
   * reply is older than what pub/sub delivered meanwhile): only an engine
   * behind that lost data, and only that renumbers.
   *
   * A JOIN whose channel's SUBSCRIBE is still on its way (sent again after
   * a dropped connection lost it, or on a new connection after a failover)
   * goes out at once all the same — ahead of any publish after Redis'
   * return, so a client that waited through the outage starts before it —
   * and is asked again once that SUBSCRIBE is answered: a message published
   * in between reached no listener, and this second JOIN finds it at once,
   * not the next message or the check seconds later.
   */
  async #join(followed: Followed): Promise<void> {
    const { follower } = followed;
    if (this.#followed.get(follower.channel) !== followed) return;
    const subject = this.keys(follower.channel).subject;
    const sub = this.#o.connection.sub;
    const subscribing = !this.#subs.active(subject) || sub.resubscribing
      ? Promise.allSettled([this.#subs.want(subject), sub.resubscribed])
      : undefined;
    const asked = askedAt(follower);
    const reply = await this.joinReply(follower.channel, asked);
    const early = followed.early;
    followed.early = undefined;
    const renumber = applyJoinReply(follower, asked, reply, early);
    if (early) {
      // The first JOIN answered: the follower has its epoch now.
      this.#starting.get(followed)?.resolve();
      this.#starting.delete(followed);
    }
    if (renumber) await this.renumber(followed, renumber);
    // Not awaited: a client that waited for this channel's first JOIN
    // takes its position now, not after messages the second one finds.
    // After the JOIN loop running this one has ended, or it would be it.
    if (subscribing) {
      void subscribing
        .then(() => this.#joining.get(followed)?.catch(() => {}))
        .then(() => {
          // Failed again: the check sends it once more, and JOINs no sooner.
          if (
            this.#subs.active(subject) && !sub.resubscribing &&
            this.#followed.get(follower.channel) === followed
          ) this.#joinRetrying(followed).catch(() => {});
        });
    }
  }

  /**
   * One pub/sub message: `epoch:seq:` + frame text (+ `\0` + its tag: key,
   * time to live, `critical`; `message_tag.ts`), as the
   * publish script lays it out. The frame is built by the same code as on
   * the memory path (`frameFromRest` through `frameFromEngine`: UTF-8 `bytes`,
   * `ts_send` for ACKs),
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
    const tag = nul < 0 ? "" : message.slice(nul + 1);
    const frame = frameFromEngine(seq, rest, tag, this.#o.now());
    if (followed.early) followed.early.push({ epoch, frame });
    else followed.follower.receive(epoch, frame);
  }
}
