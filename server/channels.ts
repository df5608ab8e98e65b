/**
 * Channels: each has its own seq, its subscribers, and (with `--history`) a
 * ring of its last messages for `?since=` replay.
 *
 * @module
 */
import { encodeControl } from "../lib/protocol.ts";
import { RingQueue } from "../lib/ring_queue.ts";
import { type Backlog, NO_BACKLOG } from "./broadcaster.ts";
import type { OutFrame } from "./frame.ts";
import type { Session } from "./session.ts";

/** One channel. */
export class Channel {
  /** The channel's name. */
  readonly name: string;
  /** Subscribers. */
  readonly sessions = new Set<Session>();
  /** Seq of the last message published (0 before any). */
  seq = 0;
  readonly #history: RingQueue<OutFrame> | undefined;

  /**
   * @param name channel name (already validated)
   * @param history messages to keep for replay; 0 keeps none
   */
  constructor(name: string, history: number) {
    this.name = name;
    this.#history = history > 0 ? new RingQueue<OutFrame>(history) : undefined;
  }

  /** Records a published frame: advances seq and keeps it for replay. */
  record(frame: OutFrame): void {
    this.seq = frame.seq;
    this.#history?.push(frame);
  }

  /**
   * What a client resuming after `since` receives before the live stream:
   * every kept message after `since`, in order, preceded by a `gap` notice
   * when the history no longer reaches back that far, or a `reset` notice
   * when `since` is ahead of this channel (the server restarted).
   */
  backlog(since: number | undefined): Backlog {
    if (since === undefined) return NO_BACKLOG;
    if (since > this.seq) {
      return {
        control: [
          encodeControl({
            type: "reset",
            channel: this.name,
            last_seq: this.seq,
          }),
        ],
        replay: [],
      };
    }
    const kept = this.#history ? [...this.#history] : [];
    const oldest = kept[0]?.seq ?? this.seq + 1;
    const control = since + 1 < oldest
      ? [encodeControl({
        type: "gap",
        channel: this.name,
        from: since + 1,
        to: oldest - 1,
        missed: oldest - 1 - since,
      })]
      : [];
    return { control, replay: kept.filter((f) => f.seq > since) };
  }
}

/** Options of {@link ChannelRegistry}. */
export interface ChannelRegistryOptions {
  /** Messages kept per channel. */
  readonly history: number;
  /** Channels that may exist at once. */
  readonly maxChannels: number;
}

/** Every channel by name, bounded in number. */
export class ChannelRegistry {
  readonly #channels = new Map<string, Channel>();
  readonly #options: ChannelRegistryOptions;

  /** @param options history length and channel limit */
  constructor(options: ChannelRegistryOptions) {
    this.#options = options;
  }

  /** Number of channels. */
  get size(): number {
    return this.#channels.size;
  }

  /** The channel named `name`, if it exists. */
  get(name: string): Channel | undefined {
    return this.#channels.get(name);
  }

  /** The channels. */
  values(): IterableIterator<Channel> {
    return this.#channels.values();
  }

  /** Whether `name` exists or may be created. */
  admits(name: string): boolean {
    return this.#channels.has(name) ||
      this.#channels.size < this.#options.maxChannels;
  }

  /**
   * The channel named `name`, created when new.
   * @throws {RangeError} when creating it would exceed the channel limit
   */
  acquire(name: string): Channel {
    let channel = this.#channels.get(name);
    if (channel) return channel;
    if (this.#channels.size >= this.#options.maxChannels) {
      throw new RangeError(
        `Cannot open channel ${name}: ${this.#options.maxChannels} channels exist (--max-channels)`,
      );
    }
    channel = new Channel(name, this.#options.history);
    this.#channels.set(name, channel);
    return channel;
  }

  /**
   * Removes `session` from its channel; a channel nobody subscribes to and
   * nothing was ever published on is forgotten (its seq would mean nothing).
   */
  release(session: Session): void {
    const channel = this.#channels.get(session.channel);
    if (!channel) return;
    channel.sessions.delete(session);
    if (channel.sessions.size === 0 && channel.seq === 0) {
      this.#channels.delete(channel.name);
    }
  }
}
