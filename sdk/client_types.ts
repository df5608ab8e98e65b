/**
 * The types of {@link import("./client.ts").FanoutClient}: its options,
 * events, close event, statistics and state.
 *
 * @module
 */
import type { ControlFrame } from "../lib/protocol.ts";
import type { WebSocketConstructor } from "./attempt.ts";
import type { BackoffOptions } from "./backoff.ts";
import type { CloseInfo } from "./close_reason.ts";
import type {
  ExpiredEvent,
  LadderStats,
  LagEvent,
  TierEvent,
} from "./ladder_events.ts";
import type { FanoutMessage, StreamPosition } from "./stream_state.ts";

/** The `position` notice: where the subscription stands, first of all frames. */
export type PositionEvent = Extract<ControlFrame, { type: "position" }>;
/** The `gap` notice: messages `from..to` could not be replayed. */
export type GapEvent = Extract<ControlFrame, { type: "gap" }>;
/** The `reset` notice: the stream started over (a new epoch) and continues after `last_seq`. */
export type ResetEvent = Extract<ControlFrame, { type: "reset" }>;
/** The `dropped` notice: the server dropped `count` messages for this slow client. */
export type DroppedEvent = Extract<ControlFrame, { type: "dropped" }>;
/** The `last_close` notice: why the server ended this client's previous connection. */
export type LastCloseEvent = Extract<ControlFrame, { type: "last_close" }>;

/** A connection ended. */
export interface FanoutCloseEvent extends CloseInfo {
  /** Whether the client will connect again (false: it has stopped for good). */
  readonly willReconnect: boolean;
  /** When it will, after how long, ms. */
  readonly retryInMs: number | undefined;
}

/** Every event a {@link FanoutClient} emits, by name. */
export interface FanoutEvents {
  /** A connection opened: the server's first frame came (`attempt` counts from 1; `url` has any token as `***`). */
  open: { readonly url: string; readonly attempt: number };
  /** A message, in order, each once. */
  message: FanoutMessage;
  /** Where the subscription stands (every connection's first frame). */
  position: PositionEvent;
  /** A resume could not replay everything missed: `missed` messages are lost. */
  gap: GapEvent;
  /** The stream started over: refetch your state; messages continue after `last_seq`. */
  reset: ResetEvent;
  /** The server dropped messages because this client read too slowly. */
  dropped: DroppedEvent;
  /** Why the server ended this client's previous connection (told on the next one: a cut whose close frame was lost shows here). */
  last_close: LastCloseEvent;
  /** The server moved this client to another tier (protocol 3, `--policy ladder`). */
  tier: TierEvent;
  /** How far behind this client is and what it lost, every `--lag-interval` (protocol 3). */
  lag: LagEvent;
  /** Messages outlived their time to live before their turn (protocol 3). */
  expired: ExpiredEvent;
  /** The client's statistics, after each `lag` frame brought news. */
  stats: Readonly<FanoutClientStats>;
  /** A connection ended; `willReconnect` says whether another follows. */
  close: FanoutCloseEvent;
  /** A frame the client could not read, or a connection that could not start. */
  error: { readonly error: string };
}

/** Options of {@link FanoutClient}. */
export interface FanoutClientOptions {
  /** The channel. @default "default" */
  readonly channel?: string;
  /** Subscriber token or JWT, sent as `?token=`. */
  readonly token?: string;
  /**
   * Called before every connection attempt for the token to send (it wins
   * over `token`): refresh an expiring JWT here. After a 4401 or 4103
   * (`token_expired`) close the client reconnects once with the token this
   * returns, and stops if that is refused too. A throw or rejection fails
   * the attempt (a `close` with code 1006 and the error), retried with backoff.
   */
  readonly getToken?: () => string | Promise<string>;
  /**
   * This client's id, sent as `?client=`: the server tells the next
   * connection with the same id why it ended the previous one
   * (`last_close`). Keep it (e.g. in `sessionStorage`) to be told across
   * page loads. @default a random id per FanoutClient
   */
  readonly clientId?: string;
  /** How long a connection may take to open, ms; then the attempt fails with a `close` (1006, "connect timeout …"). @default 10000 */
  readonly connectTimeoutMs?: number;
  /**
   * Accept live messages as arrays: `"auto"` (`?batch=auto`) only when
   * several were published at once or waited for this client, no timer
   * (the server's busiest moments cost it one write, not one per message);
   * `true` (`?batch=1`) on the
   * server's batch timer; `false` never. Messages still arrive one event
   * each. @default "auto"
   */
  readonly batch?: boolean | "auto";
  /**
   * Send an ACK per frame (its last message) so the server measures
   * end-to-end latency; on a `--policy ladder` server the ACKs also pace
   * what it writes (its ACK window), so a slow reader gets recent values.
   * @default false
   */
  readonly ack?: boolean;
  /** Resume from the position held on every reconnect. @default true */
  readonly resume?: boolean;
  /** Reconnect after a close that allows it. @default true */
  readonly reconnect?: boolean;
  /** A position saved earlier (e.g. from {@link FanoutClient.position}): the first connection resumes from it. */
  readonly position?: StreamPosition;
  /** Reconnect delays. @default 250 ms doubling to 5 s, up to half taken off at random */
  readonly backoff?: BackoffOptions;
  /** The WebSocket implementation. @default globalThis.WebSocket */
  readonly WebSocket?: WebSocketConstructor;
}

/** What a {@link FanoutClient} counted (and, from protocol 3, what the server said of it). */
export interface FanoutClientStats extends LadderStats {
  /** Messages delivered to the application. */
  messages: number;
  /** Text frames received (a `?batch=1` frame holds several messages). */
  frames: number;
  /** Connections opened. */
  connects: number;
  /** Messages received again and not delivered (at or below the position held). */
  duplicates: number;
  /** Seqs skipped between consecutive messages (each announced by `gap` or `dropped`, or a reset). */
  missed: number;
}

/** What a client is doing. */
export type FanoutClientState =
  | "idle"
  | "connecting"
  | "open"
  | "waiting"
  | "closed";
