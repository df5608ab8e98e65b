/**
 * What the dashboard feed sends: one Server-Sent Event a second, a JSON
 * object of this shape (the page's app.js reads it).
 *
 * @module
 */
import type { ClientState, TablePage } from "./client_table.ts";

/** p50, p95, p99 in ms, or null where nothing was recorded in the tick. */
export type Percentiles = [number | null, number | null, number | null];

/** One point of the charts. */
export interface FeedPoint {
  /** Epoch seconds. */
  t: number;
  /** Clients connected. */
  clients: number;
  /** Messages published per second over the tick. */
  publishRate: number;
  /** Frames delivered per second over the tick. */
  deliveryRate: number;
  /** Messages dropped per second over the tick. */
  dropRate: number;
  /** End-to-end latency over the tick. */
  e2e: Percentiles;
  /** Enqueue-to-socket latency over the tick. */
  send: Percentiles;
}

/** One line of the disconnect log. */
export interface DisconnectEntry {
  /** Running number, from 1. */
  n: number;
  /** Epoch ms. */
  t: number;
  /** Session id. */
  id: string;
  /** Peer address. */
  remote: string;
  /** Close code. */
  code: number;
  /** Close-code table key. */
  reason: string;
  /** Why, in words. */
  detail: string;
  /** Messages dropped for it. */
  drops: number;
}

/** Server-wide numbers at the tick. */
export interface FeedTotals {
  /** Clients connected. */
  clients: number;
  /** Connections accepted. */
  connects: number;
  /** Messages published. */
  published: number;
  /** Frames handed to sockets. */
  delivered: number;
  /** Messages dropped from full queues (the disconnect log's drops add up to this). */
  dropped: number;
  /** Messages still queued when their client was closed, discarded with it. */
  discarded: number;
  /** Disconnects by reason. */
  disconnects: Record<string, number>;
  /** Messages in client queues. */
  queued: number;
  /** Bytes in client socket buffers. */
  bufferedBytes: number;
  /** How long the next message has been due, ms. */
  publisherLagMs: number;
  /** Messages due and not yet published. */
  publisherBehind: number;
  /** Resident set size, bytes. */
  rssBytes: number;
  /** Event-loop lag at the latest sample, ms. */
  loopLagMs: number;
  /** Whether the server itself is behind now. */
  overloaded: boolean;
  /** Messages shed because the server was behind (never counted against a client). */
  shed: number;
  /** Seconds since the feed started. */
  uptimeSec: number;
}

/** One event of the feed. */
export interface FeedEvent {
  /** Fixed facts: mode, rate, payload bytes, limits. */
  info: Record<string, string | number>;
  /** Server-wide numbers. */
  totals: FeedTotals;
  /** Clients per state. */
  states: Readonly<Record<ClientState, number>>;
  /** The tick's chart point. */
  point: FeedPoint;
  /** Every point kept, oldest first: in a dashboard's first event only. */
  history?: readonly FeedPoint[];
  /** The page of the client table this dashboard asked for. */
  table: TablePage;
  /** Disconnects this dashboard has not been sent yet, oldest first. */
  log: DisconnectEntry[];
}
