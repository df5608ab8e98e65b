/**
 * Replays for clients that resume on a Redis node: from this node's recent
 * messages when they reach back far enough, otherwise from the channel's
 * stream in Redis — one shared read per channel while a reconnect storm
 * lasts, so a thousand resuming clients cost one round trip.
 *
 * @module
 */
import type {
  BrokerStats,
  History,
  ReplayCursor,
  Resume,
} from "../core/broker.ts";
import type { OutFrame } from "../core/frame.ts";
import { frameFromEngine } from "./message_tag.ts";
import type { StreamRead } from "./channel_follower.ts";
import {
  EMPTY_REPLAY,
  gapNotice,
  historyAfter,
  resetNotice,
} from "./history.ts";
import type { Followed, RedisChannels } from "./redis_channels.ts";
import type { RedisConnection } from "./redis_connection.ts";
import { READ_LUA, RedisScript, SCRIPT_KEYS } from "./redis_scripts.ts";

/** How long a shared history read is reused by other resumers of its channel, ms. */
export const READ_REUSE_MS = 2_000;
/**
 * A history read from Redis reaches at least this many messages back from
 * the top (within `--history`), so one read serves a whole reconnect storm.
 */
export const STORM_SPAN = 1024;

const READ = new RedisScript(READ_LUA);

/** A history read other resumers of the channel may share. */
interface SharedRead {
  readonly from: number;
  readonly until: number;
  readonly result: Promise<StreamRead>;
  /** When it settled, ms (reused for {@link READ_REUSE_MS} after). */
  settledAt: number;
}

/** Options of {@link RedisReplay}. */
export interface RedisReplayOptions {
  /** The connections. */
  readonly connection: RedisConnection;
  /** Written here: errors, engine reads, replays by where they came from. */
  readonly stats: BrokerStats;
  /** The channels followed here. */
  readonly channels: RedisChannels;
  /** Messages replayable per channel (`--history`). */
  readonly history: number;
  /** Monotonic clock, ms. */
  readonly now: () => number;
}

/** Where resuming clients join, and the stream reads behind it. */
export class RedisReplay {
  readonly #o: RedisReplayOptions;
  readonly #reads = new Map<string, SharedRead>();

  /** @param options connection, stats, channels, history length, clock */
  constructor(options: RedisReplayOptions) {
    this.#o = options;
  }

  /** Forgets the shared read of `channel` (no longer followed). */
  forget(channel: string): void {
    this.#reads.delete(channel);
  }

  /**
   * Where a client joins: from this node's recent messages when they reach
   * back far enough, otherwise from the stream in Redis.
   */
  async history(channel: string, resume: Resume): Promise<History> {
    const followed = this.#o.channels.followed(channel);
    if (!followed) throw new Error(`not following ${channel}`);
    // A first follow that failed (Redis lost with the SUBSCRIBE or JOIN in
    // flight) is retried by the checks and after the outage: the client
    // waits for it rather than being told a position without an epoch.
    await followed.started;
    await followed.ready;
    const { follower } = followed;
    const { since } = resume;
    // A client may hold a newer generation than any node (all restarted):
    // an epoch created from now on must exceed it.
    if (resume.epoch !== undefined) this.#o.channels.noteEpoch(resume.epoch);
    const epoch = follower.epoch;
    const until = follower.delivered;
    if (since === undefined) {
      return { epoch, until, notices: [], replay: EMPTY_REPLAY };
    }
    if (resume.epoch !== undefined && resume.epoch !== epoch) {
      return reset(channel, epoch, until);
    }
    if (since > until) return await this.#ahead(followed, resume);
    // The client says which message it holds at `since` (its `ts_send`):
    // one the stream holds otherwise was lost by the engine and published
    // over (a failover), so the client's position is not in this stream.
    const check = resume.sinceTs !== undefined && since > 0
      ? resume.sinceTs
      : undefined;
    const window = this.#o.history;
    const from = Math.max(since + 1, until - window + 1);
    const notices = since + 1 < from
      ? [gapNotice(channel, since + 1, from - 1)]
      : [];
    const ring = follower.ring;
    const stats = this.#o.stats;
    const first = check === undefined ? from : Math.min(from, since);
    if (ring.oldest(until) <= first) {
      if (check !== undefined && ring.get(since)?.tsSend !== check) {
        return this.#diverged(channel, epoch, until);
      }
      if (from > until) return { epoch, until, notices, replay: EMPTY_REPLAY };
      stats.replaysFromRing++;
      const h = historyAfter(channel, ring, epoch, until, { since: from - 1 });
      return { epoch, until, notices, replay: h.replay };
    }
    if (from > until && check === undefined) {
      return { epoch, until, notices, replay: EMPTY_REPLAY };
    }
    stats.replaysFromEngine++;
    // Read a little further back than this client needs, so the clients
    // that reconnect with it (each at its own seq) share the read.
    const readFrom = Math.max(
      until - window + 1,
      Math.min(from, until - STORM_SPAN + 1),
      1,
    );
    // And the entry at `since` when the client named its message there: the
    // stream keeps it beyond `--history` (at least REPAIR_WINDOW entries),
    // so the check works with `--history 0` too; the replay still starts
    // at `from`.
    const read = await this.#sharedRead(
      channel,
      check === undefined ? readFrom : Math.max(1, Math.min(readFrom, since)),
      until,
    );
    if (read.epoch !== epoch) {
      return reset(channel, follower.epoch, follower.delivered);
    }
    const held = read.frames.find((f) => f.seq === since);
    if (check !== undefined && held && held.tsSend !== check) {
      return this.#diverged(channel, epoch, until);
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

  /**
   * A client holds another message at its position than the stream: it is
   * told `reset` (its epoch's numbering goes on here without what it has),
   * and only it — a client's word never renumbers the channel for others.
   */
  #diverged(channel: string, epoch: string, until: number): History {
    this.#o.stats.resumesDiverged++;
    return reset(channel, epoch, until);
  }

  /** Reads seqs `from..to` of the channel's stream, with its epoch. */
  async read(channel: string, from: number, to: number): Promise<StreamRead> {
    const { stats, connection, channels } = this.#o;
    stats.engineReads++;
    const k = channels.keys(channel);
    let reply: unknown[];
    try {
      reply = await READ.run(connection.client, SCRIPT_KEYS.read(k), [
        String(from),
        String(to),
      ]) as unknown[];
    } catch (err) {
      stats.errors++;
      throw err;
    }
    const [epoch, top] = reply as [string, number];
    const frames: OutFrame[] = [];
    const now = this.#o.now();
    for (let i = 2; i + 2 < reply.length + 1; i += 3) {
      const seq = Number(String(reply[i]).split("-")[0]);
      frames.push(
        frameFromEngine(seq, String(reply[i + 1]), String(reply[i + 2]), now),
      );
    }
    return { epoch, top, frames };
  }

  /** A client resuming after a seq this node has not delivered yet. */
  async #ahead(followed: Followed, resume: Resume): Promise<History> {
    const { follower } = followed;
    const channel = follower.channel;
    const since = resume.since!;
    const channels = this.#o.channels;
    const { epoch, top } = await channels.joinReply(channel);
    if (epoch === follower.epoch && since <= top) {
      // Pub/sub has not brought it here yet: the live stream continues after since.
      return { epoch, until: since, notices: [], replay: EMPTY_REPLAY };
    }
    if (epoch === follower.epoch && resume.epoch === epoch) {
      // The client saw more of this epoch than Redis still has: renumber.
      await channels.renumber(followed, { epoch, asOf: since });
    }
    return reset(channel, follower.epoch, follower.delivered);
  }

  /** One read of `from..until` per channel, shared by the resumers that fit in it. */
  #sharedRead(
    channel: string,
    from: number,
    until: number,
  ): Promise<StreamRead & { until: number }> {
    const now = this.#o.now;
    const shared = this.#reads.get(channel);
    const fresh = shared &&
      (shared.settledAt === 0 || now() - shared.settledAt < READ_REUSE_MS);
    if (shared && fresh && shared.from <= from) {
      return shared.result.then((r) => ({ ...r, until: shared.until }));
    }
    const read: SharedRead = {
      from,
      until,
      result: this.read(channel, from, until),
      settledAt: 0,
    };
    this.#reads.set(channel, read);
    read.result.then(
      () => read.settledAt = now(),
      () => this.#reads.get(channel) === read && this.#reads.delete(channel),
    );
    return read.result.then((r) => ({ ...r, until }));
  }
}

function reset(channel: string, epoch: string, until: number): History {
  return {
    epoch,
    until,
    notices: [resetNotice(channel, epoch, until)],
    replay: EMPTY_REPLAY,
  };
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
  #seq = 0;
  /** Whether {@link next} has moved on to `then`. */
  #inTail = false;

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

  /** The seq of what {@link next} last returned (0 after a notice). */
  get seq(): number {
    return this.#inTail ? this.#then.seq : this.#seq;
  }

  next(): string | undefined {
    if (this.#next > this.#until) {
      this.#inTail = true;
      return this.#then.next();
    }
    const frame = this.#frames[this.#i];
    if (frame && frame.seq === this.#next) {
      this.#i++;
      this.#seq = this.#next++;
      return frame.text;
    }
    this.#seq = 0;
    const to = Math.min(frame?.seq ?? Infinity, this.#until + 1) - 1;
    const gap = gapNotice(this.#channel, this.#next, to);
    this.#next = to + 1;
    return gap;
  }
}
