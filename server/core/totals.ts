/**
 * The server-wide totals: what the open sessions count now plus what the
 * ended ones counted, so the numbers outlive the sessions they came from.
 * The hub writes them as sessions end; observers read them.
 *
 * @module
 */
import type { DisconnectReason } from "../../lib/close_codes.ts";
import { Histogram } from "../../lib/histogram.ts";
import type { SessionEnd } from "./session.ts";
import type { Subscriber } from "./subscriber.ts";

/** Totals at one moment, open sessions included. */
export interface HubTotals {
  /** Messages handed to the mode for fan-out (one per message, whatever the clients). */
  broadcasts: number;
  /** Frames handed to sockets, all sessions ever. */
  delivered: number;
  /** Messages dropped (queue full, oldest dropped), all sessions ever. */
  dropped: number;
  /** Messages still queued for a session when it ended, discarded with it. */
  discarded: number;
  /** Valid ACKs received, all sessions ever. */
  acks: number;
  /** Well-formed ACKs refused (not for a message the client was sent), all sessions ever. */
  staleAcks: number;
  /** Messages replaced in a queue by a newer one with the same key (conflation), all sessions ever. */
  conflated: number;
  /** Malformed or oversized client frames, all sessions ever. */
  badFrames: number;
  /** Sessions opened. */
  connects: number;
  /** Sessions ended, by reason. */
  readonly disconnects: Map<DisconnectReason, number>;
  /** Requests refused before a session existed (auth, limits, bad input), by reason. */
  readonly rejections: Map<string, number>;
}

/** Server-wide latency, every session ever, cumulative (take windows with `since()`). */
export interface ServerLatency {
  /** Enqueue-to-socket latency of every frame, ms. */
  readonly send: Histogram;
  /** End-to-end latency of every ACK, ms. */
  readonly e2e: Histogram;
}

/** The counters behind {@link HubTotals}. */
export class Totals {
  readonly #t: HubTotals = {
    broadcasts: 0,
    delivered: 0,
    dropped: 0,
    discarded: 0,
    acks: 0,
    staleAcks: 0,
    conflated: 0,
    badFrames: 0,
    connects: 0,
    disconnects: new Map(),
    rejections: new Map(),
  };
  /** Latency of the sessions that ended (the open ones are merged when read). */
  readonly #ended: ServerLatency = {
    send: new Histogram(),
    e2e: new Histogram(),
  };

  /** Counts a message fanned out. */
  broadcast(): void {
    this.#t.broadcasts++;
  }

  /** Counts a session opened. */
  connected(): void {
    this.#t.connects++;
  }

  /** Counts a request refused before it became a session. */
  reject(reason: string): void {
    const r = this.#t.rejections;
    r.set(reason, (r.get(reason) ?? 0) + 1);
  }

  /** Folds an ended session's counts in, with the messages its queue still held. */
  ended(subscriber: Subscriber, end: SessionEnd, discarded: number): void {
    const t = this.#t;
    const { stats } = subscriber.session;
    t.discarded += discarded;
    t.delivered += stats.sent;
    t.dropped += subscriber.drops;
    t.acks += stats.acks;
    t.staleAcks += stats.staleAcks;
    t.conflated += subscriber.conflated;
    t.badFrames += stats.badFrames;
    stats.mergeSendInto(this.#ended.send);
    stats.mergeE2eInto(this.#ended.e2e);
    t.disconnects.set(end.reason, (t.disconnects.get(end.reason) ?? 0) + 1);
  }

  /** The totals now, with the open sessions' counts added. */
  read(open: Iterable<Subscriber>): Readonly<HubTotals> {
    let { delivered, dropped, acks, staleAcks, conflated, badFrames } = this.#t;
    for (const subscriber of open) {
      const { stats } = subscriber.session;
      delivered += stats.sent;
      dropped += subscriber.drops;
      acks += stats.acks;
      staleAcks += stats.staleAcks;
      conflated += subscriber.conflated;
      badFrames += stats.badFrames;
    }
    return {
      ...this.#t,
      delivered,
      dropped,
      acks,
      staleAcks,
      conflated,
      badFrames,
    };
  }

  /** Latency of every session ever, merged now (new histograms each call). */
  latency(open: Iterable<Subscriber>): ServerLatency {
    const send = new Histogram();
    const e2e = new Histogram();
    send.merge(this.#ended.send);
    e2e.merge(this.#ended.e2e);
    for (const { session: { stats } } of open) {
      stats.mergeSendInto(send);
      stats.mergeE2eInto(e2e);
    }
    return { send, e2e };
  }
}
