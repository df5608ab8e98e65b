/**
 * The dashboard's live feed: once a second it reads the hub (never in the
 * message path), keeps a short history for the charts and a log of
 * disconnects, and sends each open dashboard one Server-Sent Event with the
 * numbers and the page of the client table that dashboard asked for.
 *
 * @module
 */
import type { EventLoopLag } from "../../../lib/event_loop_lag.ts";
import type { Histogram } from "../../../lib/histogram.ts";
import type { Hub } from "../../core/hub.ts";
import { sourceLag, type SourceStats } from "../../sources/source_stats.ts";
import { ClientTable, type TableView } from "./client_table.ts";
import type {
  DisconnectEntry,
  FeedEvent,
  FeedPoint,
  FeedTotals,
  Percentiles,
} from "./feed_event.ts";

/** How often the feed ticks, ms. */
export const FEED_INTERVAL_MS = 1000;
/** Points of history kept for the charts (5 minutes at one a second). */
export const FEED_HISTORY_POINTS = 300;
/** Disconnects kept for the log. */
export const FEED_LOG_ENTRIES = 200;
/** Events queued for a dashboard that is not reading before it is skipped. */
export const SSE_QUEUE_EVENTS = 4;

/** What the feed reads. */
export interface FeedSource {
  /** The hub. */
  readonly hub: Hub;
  /** The source's statistics. */
  readonly source: SourceStats;
  /** The event-loop lag sampler. */
  readonly loopLag: EventLoopLag;
  /** Fixed facts shown in the header (mode, rate, payload bytes, limits). */
  readonly info: Readonly<Record<string, string | number>>;
}

/** Options of {@link DashboardFeed}. */
export interface FeedOptions {
  /** Tick interval, ms; 0 disables the timer (tests call {@link DashboardFeed.tick}). @default {FEED_INTERVAL_MS} */
  readonly intervalMs?: number;
  /** Monotonic clock, ms (the hub's). @default performance.now */
  readonly now?: () => number;
  /** Dashboards at once (`--max-dashboards`); {@link DashboardFeed.subscribe} refuses more. @default Infinity */
  readonly maxSubscribers?: number;
}

interface Subscriber {
  readonly view: TableView;
  readonly out: ReadableStreamDefaultController<Uint8Array>;
  lastLog: number;
  sentHistory: boolean;
}

const encoder = new TextEncoder();

/** Ticks, remembers, and streams to every open dashboard. */
export class DashboardFeed {
  readonly #source: FeedSource;
  readonly #now: () => number;
  readonly #timer: ReturnType<typeof setInterval> | undefined;
  readonly #table = new ClientTable();
  /** True while no dashboard looks, so the table was not kept up to date. */
  #tableIdle = false;
  readonly #history: FeedPoint[] = [];
  readonly #log: DisconnectEntry[] = [];
  readonly #subscribers = new Set<Subscriber>();
  #logCount = 0;
  #last: { at: number; published: number; delivered: number; dropped: number };
  /** The server-wide latency at the last tick (cumulative copies). */
  #latency: ReturnType<Hub["latency"]>;
  #totals: FeedTotals | undefined;
  #closed = false;
  readonly #startedAt: number;
  readonly #maxSubscribers: number;
  /** Events encoded this tick, by what they depend on: built once per distinct view. */
  #encoded = new Map<string, Uint8Array>();
  #encodes = 0;

  /** @param source what to read @param options tick interval, clock, dashboard cap */
  constructor(source: FeedSource, options: FeedOptions = {}) {
    this.#source = source;
    this.#maxSubscribers = options.maxSubscribers ?? Infinity;
    this.#now = options.now ?? (() => performance.now());
    this.#startedAt = this.#now();
    this.#last = { at: this.#startedAt, ...this.#counts() };
    this.#latency = source.hub.latency();
    source.hub.on((e) => {
      if (e.type !== "disconnect") return;
      this.#log.push({
        n: ++this.#logCount,
        t: Date.now(),
        id: e.subscriber.id,
        remote: e.subscriber.remote,
        code: e.end.code,
        reason: e.end.reason,
        detail: e.end.detail,
        drops: e.subscriber.drops,
      });
      if (this.#log.length > FEED_LOG_ENTRIES) this.#log.shift();
    });
    const interval = options.intervalMs ?? FEED_INTERVAL_MS;
    if (interval > 0) this.#timer = setInterval(() => this.tick(), interval);
  }

  /** Dashboards connected. */
  get subscribers(): number {
    return this.#subscribers.size;
  }

  /** Events serialised so far (one per distinct view per tick, however many dashboards share it). */
  get encodes(): number {
    return this.#encodes;
  }

  /** Chart points kept, oldest first. */
  get history(): readonly FeedPoint[] {
    return this.#history;
  }

  /** Reads the hub, adds a chart point, and sends every dashboard its event. */
  tick(): void {
    if (this.#closed) return;
    const { hub, source, loopLag } = this.#source;
    const now = this.#now();
    const counts = this.#counts();
    const sec = Math.max(1e-3, (now - this.#last.at) / 1000);
    const latency = hub.latency();
    const point: FeedPoint = {
      t: Date.now() / 1000,
      clients: hub.size,
      publishRate: round1((counts.published - this.#last.published) / sec),
      deliveryRate: round1((counts.delivered - this.#last.delivered) / sec),
      dropRate: round1((counts.dropped - this.#last.dropped) / sec),
      e2e: percentiles(latency.e2e.since(this.#latency.e2e.snapshot())),
      send: percentiles(latency.send.since(this.#latency.send.snapshot())),
    };
    this.#latency = latency;
    this.#last = { at: now, ...counts };
    this.#history.push(point);
    if (this.#history.length > FEED_HISTORY_POINTS) this.#history.shift();
    // The table is a row per client: built only while a dashboard looks.
    if (this.#subscribers.size > 0) {
      this.#table.update(hub.subscribers(), now, sec);
    } else if (!this.#tableIdle) {
      this.#table.clear();
      this.#tableIdle = true;
    }
    const t = hub.totals();
    const lag = sourceLag(source, now);
    this.#totals = {
      clients: hub.size,
      connects: t.connects,
      published: source.published,
      delivered: t.delivered,
      dropped: t.dropped,
      discarded: t.discarded,
      disconnects: Object.fromEntries(t.disconnects),
      ...hub.backlog(),
      publisherLagMs: Math.round(lag.lagMs),
      publisherBehind: lag.behind,
      rssBytes: Deno.memoryUsage().rss,
      loopLagMs: Math.round(loopLag.lagMs * 10) / 10,
      overloaded: hub.overload.overloaded,
      shed: hub.shed + source.shed,
      uptimeSec: Math.round((now - this.#startedAt) / 1000),
    };
    this.#encoded = new Map();
    for (const sub of this.#subscribers) this.#send1(sub, point);
    this.#encoded = new Map();
  }

  /**
   * A Server-Sent Events body for one dashboard showing `view` of the client
   * table. The first event carries the history; it ends on {@link close}.
   * @returns the stream, or undefined when `maxSubscribers` dashboards are open
   */
  subscribe(view: TableView): ReadableStream<Uint8Array> | undefined {
    if (!this.#closed && this.#subscribers.size >= this.#maxSubscribers) {
      return undefined;
    }
    let sub: Subscriber;
    return new ReadableStream<Uint8Array>({
      start: (out) => {
        sub = { view, out, lastLog: 0, sentHistory: false };
        out.enqueue(encoder.encode("retry: 1000\n\n"));
        if (this.#closed) return out.close();
        this.#subscribers.add(sub);
        if (this.#tableIdle) {
          this.#table.update(
            this.#source.hub.subscribers(),
            this.#now(),
            1,
            true,
          );
          this.#tableIdle = false;
        }
        const latest = this.#history.at(-1);
        if (latest) this.#send1(sub, latest);
      },
      cancel: () => {
        this.#subscribers.delete(sub);
      },
    }, { highWaterMark: SSE_QUEUE_EVENTS });
  }

  /** Stops ticking and ends every stream (so the HTTP server can shut down). */
  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    clearInterval(this.#timer);
    for (const sub of this.#subscribers) {
      try {
        sub.out.close();
      } catch { /* already cancelled */ }
    }
    this.#subscribers.clear();
  }

  #send1(sub: Subscriber, point: FeedPoint): void {
    // A dashboard that stopped reading is skipped, not buffered for: it
    // catches up (log included) when it reads again.
    if ((sub.out.desiredSize ?? 1) <= 0) return;
    if (!this.#totals) return;
    // Dashboards on the same view, caught up to the same log entry, get
    // the same bytes: built once per tick.
    const v = sub.view;
    const key =
      `${v.sort}|${v.dir}|${v.page}|${v.size}|${v.filter}|${sub.sentHistory}|${sub.lastLog}`;
    let bytes = this.#encoded.get(key);
    if (!bytes) {
      const event: FeedEvent = {
        info: { ...this.#source.info, mode: this.#source.hub.mode },
        totals: this.#totals,
        states: this.#table.counts(),
        point,
        ...(sub.sentHistory ? {} : { history: this.#history }),
        table: this.#table.page(sub.view),
        log: this.#log.filter((e) => e.n > sub.lastLog),
      };
      bytes = encoder.encode(`data: ${JSON.stringify(event)}\n\n`);
      this.#encodes++;
      this.#encoded.set(key, bytes);
    }
    sub.sentHistory = true;
    sub.lastLog = this.#logCount;
    try {
      sub.out.enqueue(bytes);
    } catch {
      this.#subscribers.delete(sub);
    }
  }

  #counts(): { published: number; delivered: number; dropped: number } {
    const t = this.#source.hub.totals();
    return {
      published: this.#source.source.published,
      delivered: t.delivered,
      dropped: t.dropped + t.discarded,
    };
  }
}

function percentiles(h: Histogram): Percentiles {
  if (h.count === 0) return [null, null, null];
  const p = (q: number) => Math.round(h.percentile(q) * 1000) / 1000;
  return [p(50), p(95), p(99)];
}

function round1(x: number): number {
  return Math.round(x * 10) / 10;
}
