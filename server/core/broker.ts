/**
 * The broker port: what the core needs from the engine that orders a
 * channel's messages. Sources publish to a broker; the broker assigns each
 * message its position `(epoch, seq)`, keeps the channel's history, and hands
 * the messages, in order, to the hub that fans them out to local sessions.
 *
 * `broker/broker_memory.ts` is the single-process engine; a shared engine
 * (many nodes, one stream) implements the same interface, so the hub, the
 * modes and the policies never know which one runs.
 *
 * @module
 */
import { Histogram } from "../../lib/histogram.ts";
import type { OutFrame, PublishBody } from "./frame.ts";

/**
 * A position in a channel's stream. `seq` counts per channel from 1; `epoch`
 * names one numbering of that stream and changes whenever the numbering could
 * start over, so `(epoch, seq)` never names two different messages.
 */
export interface Position {
  /** Short opaque id of the stream's numbering. */
  readonly epoch: string;
  /** Seq of the last message published (0 before any). */
  readonly seq: number;
}

/** What a publish was given: the positions of the messages, in order. */
export interface Published {
  /** The channel published to. */
  readonly channel: string;
  /** The channel's epoch the seqs belong to. */
  readonly epoch: string;
  /** Seq of the first message published. */
  readonly first: number;
  /** Seq of the last message published (`first` for one message). */
  readonly last: number;
  /**
   * True when this publish repeated an idempotency key seen within the
   * window: nothing was published again; the position is the original's.
   */
  readonly duplicate?: boolean;
}

/** Options of one publish. */
export interface PublishOptions {
  /**
   * The publisher's `Idempotency-Key`: a retry with the same key within
   * {@link IDEMPOTENCY_WINDOW_S} publishes nothing and answers with the
   * original position (`duplicate: true`).
   */
  readonly idempotencyKey?: string | undefined;
}

/** How long an idempotency key is remembered, seconds. */
export const IDEMPOTENCY_WINDOW_S = 300; // --idempotency-window's default

/**
 * The broker cannot take the publish right now (the engine is unreachable,
 * stalled or refusing writes, or the channel limit is reached). `stored`
 * says whether the messages may be in the engine anyway (`"unknown"`: the
 * command was sent and no answer came); the caller may retry after
 * `retryAfterMs`.
 */
export class BrokerUnavailableError extends Error {
  /** How long the caller should wait before retrying, ms. */
  readonly retryAfterMs: number;
  /** Machine label for metrics and JSON answers. */
  readonly label: string;
  /** `false`: nothing was published; `"unknown"`: it may have been. */
  readonly stored: false | "unknown";

  /**
   * @param message one line saying why
   * @param label machine label (`broker_down`, `too_many_channels`)
   * @param retryAfterMs when to retry, ms
   * @param stored whether the messages may be in the engine anyway
   */
  constructor(
    message: string,
    label: string,
    retryAfterMs: number,
    stored: false | "unknown" = false,
  ) {
    super(message);
    this.name = "BrokerUnavailableError";
    this.label = label;
    this.retryAfterMs = retryAfterMs;
    this.stored = stored;
  }
}

/**
 * A replay in progress: the frames after a client's `since`, read one at a
 * time from the broker's shared history (never copied per client).
 */
export interface ReplayCursor {
  /**
   * The next text frame to send: a kept message, or a `gap` notice where the
   * history no longer holds what the cursor reached.
   * @returns undefined once the replay is complete
   */
  next(): string | undefined;
  /** The seq of the message {@link next} last returned, 0 after a notice. */
  readonly seq: number;
}

/** Where a client joins a channel, and what it receives before the live stream. */
export interface History {
  /** The channel's epoch now. */
  readonly epoch: string;
  /**
   * The last seq before the live stream: the replay ends here, and live
   * messages up to it (which a client may be handed while the history was
   * read) are dropped for this client as duplicates.
   */
  readonly until: number;
  /** Control frames to send first (`gap`, `reset`), already encoded. */
  readonly notices: readonly string[];
  /** The kept messages after `since` up to `until`. */
  readonly replay: ReplayCursor;
}

/** What a joining client asks of the history. */
export interface Resume {
  /** Its last seq received (`?since=`); none for a client that only wants the live stream. */
  readonly since?: number | undefined;
  /** The epoch that seq belongs to (`?epoch=`); none for seed clients. */
  readonly epoch?: string | undefined;
  /**
   * The `ts_send` of the message the client holds at `since`
   * (`?since_ts=`): a shared engine compares it with its stream.
   */
  readonly sinceTs?: number | undefined;
}

/** Where the broker hands ordered messages; the hub implements it. */
export interface BrokerHandler {
  /**
   * One message for the local subscribers of `channel`, in seq order. A
   * returned promise (naive mode) is awaited before the next message of the
   * channel is handed over.
   */
  publication(channel: string, frame: OutFrame): void | Promise<void>;
  /**
   * A control notice (`reset` when the stream started over, `gap` when
   * messages could not be recovered) for the channel's control clients,
   * ahead of anything queued for them. A `reset` names the channel's new
   * `epoch`: a broker passes it here too, so nobody reads it back out of
   * the text (a broker that does not is read once, by the hub).
   */
  notice(channel: string, text: string, epoch?: string): void;
}

/** The engine that orders each channel's messages and keeps its history. */
export interface Broker extends AsyncDisposable {
  /** Engine name, for logs and metrics. */
  readonly kind: string;
  /** What the broker reports about itself. */
  readonly stats: BrokerStats;
  /**
   * Resolves once the engine is reachable (true), or after `timeoutMs`
   * (false: the broker keeps trying in the background).
   */
  connected(timeoutMs: number): Promise<boolean>;
  /** Connects the broker to the hub it feeds. Called once, before anything else. */
  bind(handler: BrokerHandler): void;
  /** Whether `channel` exists or may be created now (`--max-channels`). */
  admits(channel: string): boolean;
  /**
   * Publishes `bodies` to `channel`, in order, as consecutive seqs.
   * @throws {BrokerUnavailableError} when the engine cannot take them now
   */
  publish(
    channel: string,
    bodies: readonly PublishBody[],
    options?: PublishOptions,
  ): Promise<Published>;
  /**
   * Local sessions now subscribe to `channel`: start delivering it.
   * @throws {BrokerUnavailableError} synchronously when the channel cannot
   *   be opened (`--max-channels`)
   */
  subscribe(channel: string): Promise<void>;
  /** No local session subscribes to `channel` any more. */
  unsubscribe(channel: string): void;
  /** The channel's position as this node last delivered it. */
  position(channel: string): Position;
  /**
   * Where a client joins `channel` and what it receives first: with
   * `since`, every kept message after it (a `gap` notice where the history
   * is short, a `reset` when `epoch` is not the channel's or `since` is
   * ahead of it); without, nothing but the position. A broker that holds
   * the history in this process answers at once, so the replay is queued in
   * the same step as the client joins; one that must read it from elsewhere
   * answers with a promise, and live messages for the client wait behind it
   * meanwhile (those up to `until` are then dropped as duplicates).
   */
  history(channel: string, resume: Resume): History | Promise<History>;
}

/**
 * What a broker reports about itself: written only by the broker, read by
 * `/readyz`, `/metrics` and the summary. The memory broker is always up and
 * repairs nothing; a shared engine fills every field.
 */
export class BrokerStats {
  /** Whether the engine is reachable now. */
  up = true;
  /** Why it is not, when it is not. */
  downReason = "";
  /** Publish round trips to the engine, ms. */
  readonly publishLatency = new Histogram();
  /** Publishes and reads that failed. */
  errors = 0;
  /** Holes in the live stream filled from the engine's history. */
  repairs = 0;
  /** Holes that could not be filled (told to clients as `gap`). */
  gaps = 0;
  /** Times a channel's stream started over (told to clients as `reset`). */
  resets = 0;
  /** Messages and replies of an older epoch than the one followed, discarded. */
  staleEpochs = 0;
  /**
   * Followers the periodic check against the engine repaired, by cause:
   * the engine had no epoch, a newer epoch, an older one (renumbered past
   * it), was ahead for a whole check (stuck or deaf), or behind (it lost
   * data: renumbered).
   */
  readonly followerRepairs = {
    missing: 0,
    epoch: 0,
    older: 0,
    stuck: 0,
    regressed: 0,
  };
  /** `?since=` replays served from this node's recent messages. */
  replaysFromRing = 0;
  /** `?since=` replays that read the engine's history. */
  replaysFromEngine = 0;
  /** History reads sent to the engine (replays merge onto shared reads). */
  engineReads = 0;
  /**
   * Clients that resumed holding another message at their position than the
   * stream (`?since_ts=`: lost by the engine, then published over), told `reset`.
   */
  resumesDiverged = 0;
}
