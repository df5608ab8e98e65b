/**
 * The shared broker (`--broker redis://HOST:PORT[/DB]`): many nodes act as
 * one stream. A publish on any node runs one Lua script that assigns the
 * channel's next seqs atomically, appends them to a capped per-channel Redis
 * stream whose entry ids are the seqs, and publishes them on the channel's
 * pub/sub subject. Each node follows the channels its local clients
 * subscribe to (`channel_follower.ts`: in order, no duplicate, holes
 * repaired from the stream) and feeds its own hub, so queues, policies and
 * isolation work exactly as on one node.
 *
 * What survives what is in the README ("Scale out"). In short: a node loss
 * loses nothing (its clients resume on another node from the stream); a
 * Redis restart with its data (AOF) loses nothing published before it went
 * down (holes are repaired); a Redis restart without it, or a failover to a
 * replica that missed the tail, starts the channel over in a new epoch and
 * clients are told `reset` — never a reused seq under an old epoch.
 *
 * @module
 */
import { createClient } from "@redis/client";
import {
  type Broker,
  type BrokerHandler,
  BrokerStats,
  BrokerUnavailableError,
  type History,
  type Position,
  type Published,
  type ReplayCursor,
  type Resume,
} from "../core/broker.ts";
import {
  frameFromRest,
  frameRest,
  type OutFrame,
  type PublishBody,
} from "../core/frame.ts";
import { ChannelFollower, type StreamRead } from "./channel_follower.ts";
import { newEpoch } from "./epoch.ts";
import {
  EMPTY_REPLAY,
  gapNotice,
  historyAfter,
  resetNotice,
} from "./history.ts";
import {
  JOIN_LUA,
  PUBLISH_LUA,
  READ_LUA,
  RedisScript,
  RENUMBER_LUA,
} from "./redis_scripts.ts";

/** Seconds a channel's keys live after its last publish (or a node joining it). */
export const CHANNEL_TTL_SECONDS = 86_400;
/** Entries a channel's stream keeps at least, so nodes can repair holes even with `--history 0`. */
export const REPAIR_WINDOW = 256;
/** How long a shared history read is reused by other resumers of its channel, ms. */
export const READ_REUSE_MS = 2_000;
/**
 * A history read from Redis reaches at least this many messages back from
 * the top (within `--history`), so one read serves a whole reconnect storm.
 */
export const STORM_SPAN = 1024;
/** How long a publisher is told to wait while Redis is unreachable, ms. */
export const RETRY_AFTER_MS = 1_000;

/** Options of {@link RedisBroker}. */
export interface RedisBrokerOptions {
  /** `redis://[user:pass@]host:port[/db]`. */
  readonly url: string;
  /** Messages replayable per channel (`--history`). @default 0 */
  readonly history?: number;
  /** Channels this node follows at once (`--max-channels`). @default 1000 */
  readonly maxChannels?: number;
  /** Key prefix, so several deployments can share one Redis. @default "fanout" */
  readonly prefix?: string;
  /** Monotonic clock, ms. @default performance.now */
  readonly now?: () => number;
  /** Told once each time the engine goes away or comes back. */
  readonly onStateChange?: (up: boolean, reason: string) => void;
}

/** A node-redis client as this broker configures it. */
function redisClient(url: string) {
  return createClient({
    url,
    RESP: 2,
    // A command while Redis is away fails at once (the publisher is told
    // 503 and retries) instead of waiting in a queue.
    disableOfflineQueue: true,
    pingInterval: 5_000,
    socket: {
      connectTimeout: 3_000,
      socketTimeout: 15_000,
      reconnectStrategy: (retries: number) => Math.min(100 * retries, 1_000),
    },
  });
}
type RedisClient = ReturnType<typeof redisClient>;

const PUBLISH = new RedisScript(PUBLISH_LUA);
const JOIN = new RedisScript(JOIN_LUA);
const RENUMBER = new RedisScript(RENUMBER_LUA);
const READ = new RedisScript(READ_LUA);

/** A channel this node follows. */
interface Followed {
  readonly follower: ChannelFollower;
  /** Settles once the follower knows where the stream stands. */
  ready: Promise<void>;
  /** Messages that arrived before that. */
  early: { epoch: string; frame: OutFrame }[] | undefined;
}

/** A history read other resumers of the channel may share. */
interface SharedRead {
  readonly from: number;
  readonly until: number;
  readonly result: Promise<StreamRead>;
  /** When it settled, ms (reused for {@link READ_REUSE_MS} after). */
  settledAt: number;
}

/** Channels' streams in Redis, followed by this node. */
export class RedisBroker implements Broker {
  /** @inheritdoc */
  readonly kind = "redis";
  /** @inheritdoc */
  readonly stats: BrokerStats = new BrokerStats();
  readonly #client: RedisClient;
  readonly #sub: RedisClient;
  readonly #history: number;
  readonly #maxChannels: number;
  readonly #prefix: string;
  readonly #now: () => number;
  readonly #onStateChange: RedisBrokerOptions["onStateChange"];
  readonly #followed = new Map<string, Followed>();
  /** The position this node last saw per channel it published to (for the renumbering guard). */
  readonly #seen = new Map<string, Position>();
  readonly #reads = new Map<string, SharedRead>();
  #handler: BrokerHandler | undefined;
  #closed = false;
  #everUp = false;
  /** Whether this outage was reported (once per outage, however many retries fail). */
  #reportedDown = false;
  /** Callers of {@link connected} waiting for the engine. */
  readonly #waiting = new Set<(up: boolean) => void>();

  /**
   * Creates the connections (they connect on {@link connect}).
   * @param options where Redis is, history length, channel limit
   */
  constructor(options: RedisBrokerOptions) {
    this.#history = options.history ?? 0;
    this.#maxChannels = options.maxChannels ?? 1000;
    this.#prefix = options.prefix ?? "fanout";
    this.#now = options.now ?? (() => performance.now());
    this.#onStateChange = options.onStateChange;
    const client = redisClient(options.url);
    this.#client = client;
    // The subscriber keeps its offline queue: its SUBSCRIBEs wait for Redis.
    this.#sub = client.duplicate({ disableOfflineQueue: false });
    this.stats.up = false;
    this.stats.downReason = "not connected yet";
    for (const [name, c] of [["client", client], ["sub", this.#sub]] as const) {
      c.on("error", (err: Error) => this.#down(`${name}: ${err.message}`));
      c.on("ready", () => this.#ready());
      // Both connect in the background and keep retrying; until they are
      // up the broker is down: publishes get 503, /readyz says why.
      c.connect().catch(() => {});
    }
  }

  /** @inheritdoc */
  connected(timeoutMs: number): Promise<boolean> {
    if (this.stats.up) return Promise.resolve(true);
    const { promise, resolve } = Promise.withResolvers<boolean>();
    const timer = setTimeout(() => done(false), timeoutMs);
    const done = (up: boolean) => {
      clearTimeout(timer);
      this.#waiting.delete(done);
      resolve(up);
    };
    this.#waiting.add(done);
    return promise;
  }

  /** @inheritdoc */
  bind(handler: BrokerHandler): void {
    this.#handler = handler;
  }

  /** Whether this node may follow `channel` now (`--max-channels` counts the channels it follows). */
  admits(channel: string): boolean {
    return this.#followed.has(channel) ||
      this.#followed.size < this.#maxChannels;
  }

  /**
   * Runs the publish script: one round trip for the whole batch.
   * @throws {BrokerUnavailableError} while Redis is unreachable
   */
  async publish(
    channel: string,
    bodies: readonly PublishBody[],
  ): Promise<Published> {
    if (!this.#client.isReady) throw this.#unavailable();
    const seen = this.#seenAt(channel);
    const args = [
      this.#subject(channel),
      String(Math.max(this.#history, REPAIR_WINDOW)),
      String(CHANNEL_TTL_SECONDS),
      newEpoch(),
      seen.epoch,
      String(seen.seq),
    ];
    for (const body of bodies) {
      args.push(body.key ?? "", frameRest(channel, body));
    }
    const started = this.#now();
    let reply: unknown;
    try {
      reply = await PUBLISH.run(this.#client, this.#keys(channel), args);
    } catch (err) {
      this.stats.errors++;
      if (!this.#client.isReady || isConnectionError(err)) {
        throw this.#unavailable();
      }
      throw err;
    }
    this.stats.publishLatency.record(this.#now() - started);
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
    if (this.#followed.size >= this.#maxChannels) {
      throw new BrokerUnavailableError(
        `cannot open channel ${channel}: this node follows ${this.#maxChannels} channels (--max-channels)`,
        "too_many_channels",
        1000,
      );
    }
    const follower = new ChannelFollower(channel, this.#history, {
      deliver: (frame) => this.#handler?.publication(channel, frame),
      notice: (text) => this.#handler?.notice(channel, text),
      read: (from, to) => this.#read(channel, from, to),
      count: (event) => {
        if (event === "repair") this.stats.repairs++;
        else if (event === "gap") this.stats.gaps++;
        else this.stats.resets++;
      },
    });
    const followed: Followed = {
      follower,
      ready: Promise.resolve(),
      early: [],
    };
    this.#followed.set(channel, followed);
    followed.ready = (async () => {
      await this.#sub.subscribe(
        this.#subject(channel),
        (message: string) => this.#message(followed, message),
      );
      await this.#join(followed);
    })();
    followed.ready.catch(() => {}); // a resync after Redis returns retries it
    return followed.ready;
  }

  /** Stops following `channel`. */
  unsubscribe(channel: string): void {
    if (!this.#followed.delete(channel)) return;
    this.#reads.delete(channel);
    this.#sub.unsubscribe(this.#subject(channel)).catch(() => {});
  }

  /** @inheritdoc */
  position(channel: string): Position {
    const f = this.#followed.get(channel)?.follower;
    return f ? { epoch: f.epoch, seq: f.delivered } : { epoch: "", seq: 0 };
  }

  /**
   * Where a client joins: from this node's recent messages when they reach
   * back far enough, otherwise from the stream in Redis (one shared read
   * per channel while a reconnect storm lasts).
   */
  async history(channel: string, resume: Resume): Promise<History> {
    const followed = this.#followed.get(channel);
    if (!followed) throw new Error(`not following ${channel}`);
    await followed.ready;
    const { follower } = followed;
    const { since } = resume;
    const epoch = follower.epoch;
    const until = follower.delivered;
    if (since === undefined) {
      return { epoch, until, notices: [], replay: EMPTY_REPLAY };
    }
    if (resume.epoch !== undefined && resume.epoch !== epoch) {
      return this.#reset(channel, epoch, until);
    }
    if (since > until) return await this.#ahead(followed, resume);
    const window = this.#history;
    const from = Math.max(since + 1, until - window + 1);
    const notices = since + 1 < from
      ? [gapNotice(channel, since + 1, from - 1)]
      : [];
    if (from > until) return { epoch, until, notices, replay: EMPTY_REPLAY };
    const ring = follower.ring;
    if (ring.oldest(until) <= from) {
      this.stats.replaysFromRing++;
      const h = historyAfter(channel, ring, epoch, until, { since: from - 1 });
      return { epoch, until, notices, replay: h.replay };
    }
    this.stats.replaysFromEngine++;
    // Read a little further back than this client needs, so the clients
    // that reconnect with it (each at its own seq) share the read.
    const readFrom = Math.max(
      until - window + 1,
      Math.min(from, until - STORM_SPAN + 1),
      1,
    );
    const read = await this.#sharedRead(channel, readFrom, until);
    if (read.epoch !== epoch) {
      return this.#reset(channel, follower.epoch, follower.delivered);
    }
    const now = follower.delivered;
    const tail = historyAfter(channel, ring, epoch, now, {
      since: read.until,
    });
    return {
      epoch,
      until: now,
      notices,
      replay: new ArrayCursor(
        channel,
        read.frames,
        from,
        read.until,
        tail.replay,
      ),
    };
  }

  /** Closes both connections. */
  async [Symbol.asyncDispose](): Promise<void> {
    this.#closed = true;
    for (const done of [...this.#waiting]) done(false);
    this.#followed.clear();
    await Promise.allSettled([this.#sub.close(), this.#client.close()]);
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

  /** A client resuming after a seq this node has not delivered yet. */
  async #ahead(followed: Followed, resume: Resume): Promise<History> {
    const { follower } = followed;
    const channel = follower.channel;
    const since = resume.since!;
    const [epoch, top] = await this.#joinReply(channel);
    if (epoch === follower.epoch && since <= top) {
      // Pub/sub has not brought it here yet: the live stream continues after since.
      return { epoch, until: since, notices: [], replay: EMPTY_REPLAY };
    }
    if (epoch === follower.epoch && resume.epoch === epoch) {
      // The client saw more of this epoch than Redis still has: renumber.
      await this.#renumber(followed, epoch);
    }
    return this.#reset(channel, follower.epoch, follower.delivered);
  }

  #reset(channel: string, epoch: string, until: number): History {
    return {
      epoch,
      until,
      notices: [resetNotice(channel, epoch, until)],
      replay: EMPTY_REPLAY,
    };
  }

  /** One read of `from..until` per channel, shared by the resumers that fit in it. */
  #sharedRead(
    channel: string,
    from: number,
    until: number,
  ): Promise<StreamRead & { until: number }> {
    const shared = this.#reads.get(channel);
    const fresh = shared &&
      (shared.settledAt === 0 ||
        this.#now() - shared.settledAt < READ_REUSE_MS);
    if (shared && fresh && shared.from <= from) {
      return shared.result.then((r) => ({ ...r, until: shared.until }));
    }
    const read: SharedRead = {
      from,
      until,
      result: this.#read(channel, from, until),
      settledAt: 0,
    };
    this.#reads.set(channel, read);
    read.result.then(
      () => read.settledAt = this.#now(),
      () => this.#reads.get(channel) === read && this.#reads.delete(channel),
    );
    return read.result.then((r) => ({ ...r, until }));
  }

  /** Reads seqs `from..to` of the channel's stream, with its epoch. */
  async #read(channel: string, from: number, to: number): Promise<StreamRead> {
    this.stats.engineReads++;
    let reply: unknown[];
    try {
      reply = await READ.run(this.#client, this.#keys(channel), [
        String(from),
        String(to),
      ]) as unknown[];
    } catch (err) {
      this.stats.errors++;
      throw err;
    }
    const [epoch, top] = reply as [string, number];
    const frames: OutFrame[] = [];
    const now = this.#now();
    for (let i = 2; i + 2 < reply.length + 1; i += 3) {
      const seq = Number(String(reply[i]).split("-")[0]);
      const key = String(reply[i + 2]);
      frames.push(
        frameFromRest(
          seq,
          String(reply[i + 1]),
          key === "" ? undefined : key,
          now,
        ),
      );
    }
    return { epoch, top, frames };
  }

  /** Learns where the channel's stream stands and starts delivering. */
  async #join(followed: Followed): Promise<void> {
    const [epoch, top] = await this.#joinReply(followed.follower.channel);
    const { follower } = followed;
    const early = followed.early;
    followed.early = undefined;
    if (early) {
      follower.start(epoch, top);
      for (const m of early) follower.receive(m.epoch, m.frame);
      return;
    }
    if (follower.resync(epoch, top) === "regressed") {
      await this.#renumber(followed, epoch);
    }
  }

  async #joinReply(channel: string): Promise<[string, number]> {
    const reply = await JOIN.run(this.#client, [this.#keys(channel)[0]!], [
      newEpoch(),
      String(CHANNEL_TTL_SECONDS),
    ]);
    return reply as [string, number];
  }

  /** The stream went backwards in `epoch`: give it a new epoch (unless another node did). */
  async #renumber(followed: Followed, epoch: string): Promise<void> {
    const channel = followed.follower.channel;
    const [now, top] = await RENUMBER.run(this.#client, this.#keys(channel), [
      epoch,
      newEpoch(),
      String(CHANNEL_TTL_SECONDS),
    ]) as [string, number];
    followed.follower.resync(now, top);
  }

  /** One pub/sub message: `epoch:seq:` + frame text (+ `\0` + key). */
  #message(followed: Followed, message: string): void {
    const c1 = message.indexOf(":");
    const c2 = message.indexOf(":", c1 + 1);
    const nul = message.indexOf("\0", c2 + 1);
    const epoch = message.slice(0, c1);
    const seq = Number(message.slice(c1 + 1, c2));
    const text = nul < 0 ? message.slice(c2 + 1) : message.slice(c2 + 1, nul);
    const key = nul < 0 ? undefined : message.slice(nul + 1);
    const frame: OutFrame = key === undefined
      ? { seq, text, bytes: text.length, enqueuedAt: this.#now() }
      : { seq, text, bytes: text.length, enqueuedAt: this.#now(), key };
    if (followed.early) followed.early.push({ epoch, frame });
    else followed.follower.receive(epoch, frame);
  }

  #ready(): void {
    if (!this.#client.isReady || !this.#sub.isReady || this.#closed) return;
    const wasDown = !this.stats.up;
    this.stats.up = true;
    this.stats.downReason = "";
    if (!wasDown) return;
    this.#reportedDown = false;
    for (const done of [...this.#waiting]) done(true);
    // The first connection is not news; coming back after an outage is.
    if (this.#everUp) this.#onStateChange?.(true, "");
    this.#everUp = true;
    // Back after an outage: compare every followed channel with Redis and
    // repair, reset or renumber (the subscriber re-subscribed by itself).
    for (const followed of this.#followed.values()) {
      followed.ready = this.#join(followed);
      followed.ready.catch(() => {});
    }
  }

  #down(reason: string): void {
    if (this.#closed) return;
    this.stats.up = false;
    this.stats.downReason = reason;
    // Reported once per outage, however many retries fail; an engine never
    // reached yet shows in the listening line, /readyz and the summaries.
    if (this.#everUp && !this.#reportedDown) {
      this.#onStateChange?.(false, reason);
    }
    this.#reportedDown = true;
  }

  #unavailable(): BrokerUnavailableError {
    return new BrokerUnavailableError(
      `the broker (Redis) is unreachable${
        this.stats.downReason ? `: ${this.stats.downReason}` : ""
      }; retry later`,
      "broker_down",
      RETRY_AFTER_MS,
    );
  }

  #keys(channel: string): [string, string] {
    const base = `${this.#prefix}:{${channel}}`;
    return [`${base}:meta`, `${base}:stream`];
  }

  #subject(channel: string): string {
    return `${this.#prefix}:{${channel}}`;
  }
}

/** Errors that mean the connection to Redis is not usable right now. */
function isConnectionError(err: unknown): boolean {
  const name = (err as Error)?.name ?? "";
  return /Offline|Closed|Socket|Timeout|Disconnect|Connection/i.test(name) ||
    /ECONNREFUSED|ECONNRESET|EPIPE|closed|offline/i.test(
      String((err as Error)?.message),
    );
}

/**
 * Replays `from..until` out of frames read from the engine (a `gap` notice
 * where the stream no longer had some), then goes on with `then` (the
 * messages this node delivered since that read).
 */
class ArrayCursor implements ReplayCursor {
  readonly #channel: string;
  readonly #frames: readonly OutFrame[];
  readonly #until: number;
  readonly #then: ReplayCursor;
  #i = 0;
  #next: number;

  constructor(
    channel: string,
    frames: readonly OutFrame[],
    from: number,
    until: number,
    then: ReplayCursor,
  ) {
    this.#channel = channel;
    this.#frames = frames;
    this.#next = from;
    this.#until = until;
    this.#then = then;
    while (this.#i < frames.length && frames[this.#i]!.seq < from) this.#i++;
  }

  next(): string | undefined {
    if (this.#next > this.#until) return this.#then.next();
    const frame = this.#frames[this.#i];
    if (frame && frame.seq === this.#next) {
      this.#i++;
      this.#next++;
      return frame.text;
    }
    const to = Math.min(frame?.seq ?? Infinity, this.#until + 1) - 1;
    const gap = gapNotice(this.#channel, this.#next, to);
    this.#next = to + 1;
    return gap;
  }
}
