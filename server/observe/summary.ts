/**
 * The periodic summary: what the server did since the last one, and per-client
 * lines for the clients worth looking at. It reads cumulative counters and
 * histograms and keeps its own snapshots to take windows: it never resets
 * anything another reader sees, and never sits in the message path.
 *
 * @module
 */
import { Histogram, type LatencySummary } from "../../lib/histogram.ts";
import type { Hub } from "../core/hub.ts";
import type { Logger } from "../core/logger.ts";
import type { SubscriberView } from "../core/subscriber.ts";
import type { SourceStats } from "../sources/source_stats.ts";

/** Per-client lines per summary at most; the worst clients come first. */
export const SUMMARY_CLIENT_LINES = 20;

function pct(h: Histogram): Pick<LatencySummary, "p50" | "p95" | "p99"> {
  const { p50, p95, p99 } = h.summary();
  return { p50, p95, p99 };
}

const ms = (x: number) => x.toFixed(1);

/** What the human lines say for e2e latency when no client ACKed: no numbers that look like 0 ms. */
export const NO_ACKS = "e2e: no ACKs";

/** The e2e part of a human summary line: percentiles, or that nobody ACKed. */
function e2eText(
  acks: number,
  e: Pick<LatencySummary, "p50" | "p95" | "p99">,
): string {
  if (acks === 0) return NO_ACKS;
  return `e2e p50/p95/p99 ${ms(e.p50)}/${ms(e.p95)}/${ms(e.p99)} ms`;
}

/** Where a window starts: copies of the cumulative numbers the summary diffs. */
interface Mark {
  readonly at: number;
  readonly published: number;
  readonly e2e: Histogram;
  readonly send: Histogram;
  readonly lag: Histogram;
  readonly brokerPublish: Histogram;
  readonly shed: number;
}

/** Builds and logs summaries from the hub's and the source's counters. */
export class SummaryReporter {
  readonly #hub: Hub;
  readonly #source: SourceStats;
  readonly #logger: Logger;
  readonly #now: () => number;
  readonly #start: Mark;
  #last: Mark;

  /**
   * @param hub the hub to read
   * @param source the source's statistics
   * @param logger where lines go
   * @param now monotonic clock, ms
   */
  constructor(
    hub: Hub,
    source: SourceStats,
    logger: Logger,
    now: () => number = () => performance.now(),
  ) {
    this.#hub = hub;
    this.#source = source;
    this.#logger = logger;
    this.#now = now;
    this.#start = this.#last = this.#mark();
  }

  /** Logs one summary line (and client lines) for the time since the last one. */
  report(): void {
    const mark = this.#mark();
    this.#logWindow("summary", this.#last, mark);
    this.#logClients();
    this.#last = mark;
  }

  /** Logs the last interval's summary, then the whole run's (at shutdown). */
  reportFinal(): void {
    this.report();
    this.#logWindow("final", this.#start, this.#last);
  }

  #mark(): Mark {
    const latency = this.#hub.latency(); // a fresh merge: a copy already
    const copy = (h: Histogram) => {
      const c = new Histogram();
      c.merge(h);
      return c;
    };
    return {
      at: this.#now(),
      published: this.#source.published,
      e2e: latency.e2e,
      send: latency.send,
      lag: copy(this.#source.lag),
      brokerPublish: copy(this.#hub.broker.stats.publishLatency),
      shed: this.#hub.shed + this.#source.shed,
    };
  }

  #logWindow(type: string, from: Mark, to: Mark): void {
    const seconds = Math.max(1e-3, (to.at - from.at) / 1000);
    const pubRate = (to.published - from.published) / seconds;
    const e2eWindow = windowOf(to.e2e, from.e2e);
    const e = pct(e2eWindow);
    const s = pct(windowOf(to.send, from.send));
    const lag = windowOf(to.lag, from.lag).max;
    const brokerPublish = pct(windowOf(to.brokerPublish, from.brokerPublish));
    const shed = to.shed - from.shed;
    const overloaded = this.#hub.overload.overloaded;
    const hub = this.#hub;
    const totals = hub.totals();
    const disconnects = Object.fromEntries(totals.disconnects);
    const disconnectsTotal = [...totals.disconnects.values()].reduce(
      (a, b) => a + b,
      0,
    );
    const why = Object.entries(disconnects).map(([k, v]) => `${k} ${v}`).join(
      ", ",
    );
    const paused = this.#source.state === "paused";
    const broker = hub.broker.stats;
    this.#logger.log(
      {
        type,
        mode: hub.mode,
        clients: hub.size,
        pub_rate: Math.round(pubRate * 10) / 10,
        e2e_latency: e,
        e2e_acks: e2eWindow.count,
        send_latency: s,
        disconnects_total: disconnectsTotal,
        disconnects,
        published_total: this.#source.published,
        delivered_total: totals.delivered,
        dropped_total: totals.dropped,
        publisher_lag_ms: Math.round(lag),
        source_state: this.#source.state,
        connects_total: totals.connects,
        broker_up: broker.up,
        overloaded,
        shed: shed,
        shed_total: to.shed,
        broker_publish_latency_ms: brokerPublish,
      },
      `[${type}] ${hub.mode} | clients ${hub.size} | pub ${
        pubRate.toFixed(1)
      }/s | ${e2eText(e2eWindow.count, e)} | send p99 ${
        ms(s.p99)
      } ms | delivered ${totals.delivered} dropped ${totals.dropped} | disconnects ${disconnectsTotal}${
        why ? ` (${why})` : ""
      }${
        lag > 1000 ? ` | PUBLISHER BEHIND by ${(lag / 1000).toFixed(1)} s` : ""
      }${
        overloaded || shed > 0
          ? ` | ${overloaded ? "OVERLOADED" : "was overloaded"}: shed ${shed}`
          : ""
      }${paused ? ` | SOURCE PAUSED: ${this.#source.pausedReason}` : ""}${
        broker.up ? "" : ` | BROKER DOWN: ${broker.downReason}`
      }`,
    );
  }

  #logClients(): void {
    const views = [...this.#hub.subscribers()];
    const badness = (s: SubscriberView) =>
      s.drops * 1e6 + s.queued * 1e3 + s.e2eLatency.max;
    views.sort((a, b) => badness(b) - badness(a));
    for (const s of views.slice(0, SUMMARY_CLIENT_LINES)) {
      this.#logger.log(
        {
          type: "client",
          id: s.id,
          remote: s.remote,
          queue_len: s.queued,
          drops_total: s.drops,
          sent_total: s.sent,
          acks_total: s.acks,
          bad_frames_total: s.badFrames,
          buffered_bytes: s.bufferedBytes,
          send_latency_ms: Math.round(s.sendLatency.mean * 1000) / 1000,
          send_latency_p99_ms: s.sendLatency.summary().p99,
          e2e_latency_ms: Math.round(s.e2eLatency.mean * 1000) / 1000,
          e2e_latency_p99_ms: s.e2eLatency.summary().p99,
        },
        `  ${s.id} ${s.remote} | queue ${s.queued} | drops ${s.drops} | sent ${s.sent} | send avg ${
          ms(s.sendLatency.mean)
        } ms | ${
          s.e2eLatency.count === 0
            ? NO_ACKS
            : `e2e avg/p99 ${ms(s.e2eLatency.mean)}/${
              ms(s.e2eLatency.percentile(99))
            } ms`
        } | buffered ${Math.round(s.bufferedBytes / 1024)} KiB`,
      );
    }
    if (views.length > SUMMARY_CLIENT_LINES) {
      const more = views.length - SUMMARY_CLIENT_LINES;
      this.#logger.log(
        { type: "clients_omitted", count: more },
        `  (+${more} more clients, healthiest omitted)`,
      );
    }
  }
}

/** The values recorded between two copies of one cumulative histogram. */
function windowOf(to: Histogram, from: Histogram): Histogram {
  return to.since(from.snapshot());
}
