/**
 * The scripts a channel's life goes through in Redis — PUBLISH, JOIN,
 * RENUMBER and CHECK — with their keys and arguments laid out as
 * `redis_scripts.ts` reads them, and the highest epoch generation this
 * node has seen, passed to every script that may make an epoch and raised
 * by every reply. No follower state here: `redis_channels.ts` decides what
 * to ask and what a reply means (`engine_reply.ts`); this file asks.
 *
 * @module
 */
import {
  type BrokerStats,
  IDEMPOTENCY_WINDOW_S,
  type Position,
  type Published,
  type PublishOptions,
} from "../core/broker.ts";
import { epochGeneration } from "../../lib/protocol.ts";
import { frameRest, type PublishBody } from "../core/frame.ts";
import { newEpoch } from "./epoch.ts";
import {
  type AskedAt,
  type JoinReply,
  markArgs,
  type Renumber,
} from "./engine_reply.ts";
import { encodeTag } from "./message_tag.ts";
import type { RedisConnection } from "./redis_connection.ts";
import {
  type ChannelKeys,
  channelKeys,
  CHECK_LUA,
  JOIN_LUA,
  PUBLISH_LUA,
  RedisScript,
  RENUMBER_LUA,
  SCRIPT_KEYS,
} from "./redis_scripts.ts";

/** Seconds a channel's keys live after its last publish (or a node joining it). */
export const CHANNEL_TTL_SECONDS = 86_400;
/** Entries a channel's stream keeps at least, so nodes can repair holes even with `--history 0`. */
export const REPAIR_WINDOW = 256;

const PUBLISH = new RedisScript(PUBLISH_LUA);
const JOIN = new RedisScript(JOIN_LUA);
const RENUMBER = new RedisScript(RENUMBER_LUA);
const CHECK = new RedisScript(CHECK_LUA);

/** Options of {@link ChannelScripts}. */
export interface ChannelScriptsOptions {
  /** The connections. */
  readonly connection: RedisConnection;
  /** Written here: errors and publish latency. */
  readonly stats: BrokerStats;
  /** Messages replayable per channel (`--history`): the stream keeps at least this many. */
  readonly history: number;
  /** How long an `Idempotency-Key` is remembered, seconds. @default IDEMPOTENCY_WINDOW_S */
  readonly idempotencyWindowS?: number | undefined;
  /** Key prefix. */
  readonly prefix: string;
  /** Monotonic clock, ms. */
  readonly now: () => number;
}

/** One node's calls of the channel scripts. */
export class ChannelScripts {
  readonly #o: ChannelScriptsOptions;
  /** The highest epoch generation this node has seen. */
  #generation = 0;

  /** @param options connection, stats, history, prefix, clock */
  constructor(options: ChannelScriptsOptions) {
    this.#o = options;
  }

  /** The Redis names of `channel`. */
  keys(channel: string): ChannelKeys {
    return channelKeys(this.#o.prefix, channel);
  }

  /** Raises the highest generation this node has seen to `epoch`'s (a client's, a reply's). */
  noteEpoch(epoch: string): void {
    this.#generation = Math.max(this.#generation, epochGeneration(epoch));
  }

  /**
   * Runs the publish script: one round trip for the whole batch. `seen` is
   * the furthest position this node has seen on the channel: a stream
   * behind it went backwards, and the script gives it a new epoch first.
   * @throws {BrokerUnavailableError} while Redis is unreachable, and for any
   *   engine error (`stored` says whether the script may have run)
   */
  async publish(
    channel: string,
    bodies: readonly PublishBody[],
    options: PublishOptions,
    seen: Position,
  ): Promise<Published> {
    const { connection, stats } = this.#o;
    if (!connection.ready) throw connection.unavailable();
    const k = this.keys(channel);
    const args = [
      k.subject,
      String(Math.max(this.#o.history, REPAIR_WINDOW)),
      String(CHANNEL_TTL_SECONDS),
      newEpoch(),
      seen.epoch,
      String(seen.seq),
      String(this.#generation),
      String(this.#o.idempotencyWindowS ?? IDEMPOTENCY_WINDOW_S),
    ];
    const keys = SCRIPT_KEYS.publish(k, options.idempotencyKey);
    for (const body of bodies) {
      args.push(encodeTag(body), frameRest(channel, body));
    }
    const started = this.#o.now();
    let reply: unknown;
    try {
      reply = await PUBLISH.run(connection.client, keys, args);
    } catch (err) {
      stats.errors++;
      // Any engine error is an outage for this publish (503, `stored` says
      // whether it may have run); engine-wide ones mark the broker down.
      throw connection.failed(err);
    }
    stats.publishLatency.record(this.#o.now() - started);
    const [first, last, epoch, , duplicate] = reply as [
      number,
      number,
      string,
      number,
      number,
    ];
    this.noteEpoch(epoch);
    return duplicate === 1
      ? { channel, epoch, first, last, duplicate: true }
      : { channel, epoch, first, last };
  }

  /**
   * The channel's `(epoch, top)` in Redis now (creating its epoch if it has
   * none), and, given a follower's position `asked`, whether the stream
   * holds other messages than its marks.
   */
  async join(channel: string, asked?: AskedAt): Promise<JoinReply> {
    const k = this.keys(channel);
    const reply = await JOIN.run(
      this.#o.connection.client,
      SCRIPT_KEYS.join(k),
      [
        newEpoch(),
        String(CHANNEL_TTL_SECONDS),
        String(this.#generation),
        asked?.epoch ?? "",
        ...markArgs(asked?.marks ?? []),
      ],
    ) as [string, number, number];
    this.noteEpoch(reply[0]);
    return { epoch: reply[0], top: reply[1], diverged: reply[2] === 1 };
  }

  /**
   * Gives `channel` a new epoch if it is still in `renumber.epoch` and
   * below `renumber.asOf`, or holds other messages than its marks
   * (compare-and-set in the script: another node may have done it, or the
   * engine may no longer be behind). Returns the channel's `(epoch, top)`
   * after it, whichever way it went.
   */
  async renumber(
    channel: string,
    renumber: Renumber,
  ): Promise<[string, number]> {
    const k = this.keys(channel);
    const [now, top] = await RENUMBER.run(
      this.#o.connection.client,
      SCRIPT_KEYS.renumber(k),
      [
        renumber.epoch,
        newEpoch(),
        String(CHANNEL_TTL_SECONDS),
        String(this.#generation),
        String(renumber.asOf),
        ...markArgs(renumber.marks ?? []),
      ],
    ) as [string, number];
    this.noteEpoch(now);
    return [now, top];
  }

  /** Each channel's `(epoch, top)` in Redis ("" epoch: no keys), in one round trip. */
  async check(
    channels: readonly string[],
  ): Promise<{ epoch: string; top: number }[]> {
    const reply = await CHECK.run(
      this.#o.connection.client,
      channels.map((c) => this.keys(c).meta),
      [],
    ) as (string | number)[];
    return channels.map((_, i) => ({
      epoch: String(reply[2 * i]),
      top: Number(reply[2 * i + 1]),
    }));
  }
}
