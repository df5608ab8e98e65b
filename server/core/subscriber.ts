/**
 * The one read-only view of a connected subscriber, for everything that
 * watches the server (metrics, summary, dashboard, demo, bench): its
 * identity, its counters and latency, and what waits for it, whichever mode
 * holds its queue.
 *
 * @module
 */
import type { Histogram } from "../../lib/histogram.ts";
import type { Outlet } from "./mode.ts";
import type { Session, SessionEnd } from "./session.ts";

/** A subscriber as observers see it; nothing here can change it. */
export interface SubscriberView {
  /** Short id, unique within the server (`c1`, `c2`, …). */
  readonly id: string;
  /** Peer address. */
  readonly remote: string;
  /** Channel subscribed to. */
  readonly channel: string;
  /** Monotonic ms when it connected. */
  readonly openedAt: number;
  /** Messages handed to its socket (a batch frame counts each message). */
  readonly sent: number;
  /** Bytes handed to its socket. */
  readonly bytesSent: number;
  /** Messages dropped for it. */
  readonly drops: number;
  /** Messages replaced in its queue by a newer one with the same key (not drops). */
  readonly conflated: number;
  /** Valid ACKs it sent. */
  readonly acks: number;
  /** Malformed or oversized frames it sent. */
  readonly badFrames: number;
  /** Messages waiting for it in its queue (queue mode). */
  readonly queued: number;
  /** Bytes its socket holds and has not written out. */
  readonly bufferedBytes: number;
  /** True while its socket is too full to take more: the server waits for it to drain. */
  readonly blocked: boolean;
  /** Its tier on the ladder (`--policy ladder`); undefined elsewhere. */
  readonly tier: string | undefined;
  /** Enqueue-to-socket latency since it connected, ms (read-only use). */
  readonly sendLatency: Histogram;
  /** End-to-end latency from its ACKs since it connected, ms (read-only use). */
  readonly e2eLatency: Histogram;
  /** How it ended, once it has. */
  readonly end: SessionEnd | undefined;
}

/** A session and its mode's outlet, seen together. */
export class Subscriber implements SubscriberView {
  readonly #session: Session;
  readonly #outlet: Outlet;

  /** @param outlet the mode's state for the session (it names the session) */
  constructor(outlet: Outlet) {
    this.#session = outlet.session;
    this.#outlet = outlet;
  }

  /** The mode's outlet (the hub's handle for detaching). */
  get outlet(): Outlet {
    return this.#outlet;
  }

  /** The session (the hub's and the totals' handle; observers use the view). */
  get session(): Session {
    return this.#session;
  }

  get id(): string {
    return this.#session.id;
  }
  get remote(): string {
    return this.#session.remote;
  }
  get channel(): string {
    return this.#session.channel;
  }
  get openedAt(): number {
    return this.#session.openedAt;
  }
  get sent(): number {
    return this.#session.stats.sent;
  }
  get bytesSent(): number {
    return this.#session.stats.bytesSent;
  }
  get drops(): number {
    return this.#outlet.drops;
  }
  get conflated(): number {
    return this.#outlet.conflated;
  }
  get acks(): number {
    return this.#session.stats.acks;
  }
  get badFrames(): number {
    return this.#session.stats.badFrames;
  }
  get queued(): number {
    return this.#outlet.queued;
  }
  get bufferedBytes(): number {
    return this.#session.sink.bufferedAmount;
  }
  get blocked(): boolean {
    return this.#outlet.blocked;
  }
  get tier(): string | undefined {
    return this.#outlet.tier;
  }
  get sendLatency(): Histogram {
    return this.#session.stats.sendLatency;
  }
  get e2eLatency(): Histogram {
    return this.#session.stats.e2eLatency;
  }
  get end(): SessionEnd | undefined {
    return this.#session.end;
  }
}
