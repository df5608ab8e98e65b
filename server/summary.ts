/**
 * The periodic summary: what the server did since the last one, and per-client
 * lines for the clients worth looking at. Reads counters; never sits in the
 * message path.
 *
 * @module
 */
import { Histogram, type LatencySummary } from "../lib/histogram.ts";
import type { Hub } from "./hub.ts";
import type { Logger } from "./logger.ts";
import type { PublisherStats } from "./publisher.ts";
import type { Session } from "./session.ts";

/** Per-client lines per summary at most; the worst clients come first. */
export const SUMMARY_CLIENT_LINES = 20;

function pct(h: Histogram): Pick<LatencySummary, "p50" | "p95" | "p99"> {
  const { p50, p95, p99 } = h.summary();
  return { p50, p95, p99 };
}

const ms = (x: number) => x.toFixed(1);

/** Builds and logs summaries from the hub's and publisher's counters. */
export class SummaryReporter {
  readonly #hub: Hub;
  readonly #publisher: PublisherStats;
  readonly #logger: Logger;
  readonly #now: () => number;
  /** Latency of sessions that ended since the last summary. */
  readonly #endedE2e = new Histogram();
  readonly #endedSend = new Histogram();
  /** Whole-run latency, for the final summary. */
  readonly #runE2e = new Histogram();
  readonly #runSend = new Histogram();
  #lastAt: number;
  #lastPublished = 0;

  /**
   * @param hub the hub to read
   * @param publisher the publisher's statistics
   * @param logger where lines go
   * @param now monotonic clock, ms
   */
  constructor(
    hub: Hub,
    publisher: PublisherStats,
    logger: Logger,
    now: () => number = () => performance.now(),
  ) {
    this.#hub = hub;
    this.#publisher = publisher;
    this.#logger = logger;
    this.#now = now;
    this.#lastAt = now();
    hub.on((e) => {
      if (e.type !== "disconnect") return;
      this.#endedE2e.merge(e.session.stats.e2eLatency);
      this.#endedSend.merge(e.session.stats.sendLatency);
    });
  }

  /** Logs one summary line (and client lines), then starts a new interval. */
  report(): void {
    const now = this.#now();
    const seconds = Math.max(1e-3, (now - this.#lastAt) / 1000);
    const e2e = new Histogram();
    const send = new Histogram();
    e2e.merge(this.#endedE2e);
    send.merge(this.#endedSend);
    for (const s of this.#hub.sessions) {
      e2e.merge(s.stats.e2eLatency);
      send.merge(s.stats.sendLatency);
    }
    const published = this.#publisher.published;
    const pubRate = (published - this.#lastPublished) / seconds;
    this.#logSummary("summary", pubRate, e2e, send);
    this.#logClients();
    this.#runE2e.merge(e2e);
    this.#runSend.merge(send);
    this.#endedE2e.reset();
    this.#endedSend.reset();
    for (const s of this.#hub.sessions) {
      s.stats.e2eLatency.reset();
      s.stats.sendLatency.reset();
    }
    this.#lastAt = now;
    this.#lastPublished = published;
    this.#publisher.maxLagMs = 0;
  }

  /** Logs the whole-run summary (at shutdown). */
  reportFinal(runSeconds: number): void {
    this.report();
    const rate = this.#publisher.published / Math.max(1e-3, runSeconds);
    this.#logSummary("final", rate, this.#runE2e, this.#runSend);
  }

  #logSummary(
    type: string,
    pubRate: number,
    e2e: Histogram,
    send: Histogram,
  ): void {
    const hub = this.#hub;
    const totals = hub.totals();
    const disconnects = Object.fromEntries(totals.disconnects);
    const disconnectsTotal = [...totals.disconnects.values()].reduce(
      (a, b) => a + b,
      0,
    );
    const lag = this.#publisher.maxLagMs;
    const e = pct(e2e);
    const s = pct(send);
    const why = Object.entries(disconnects).map(([k, v]) => `${k} ${v}`).join(
      ", ",
    );
    this.#logger.log(
      {
        type,
        mode: hub.broadcaster.mode,
        clients: hub.sessions.size,
        pub_rate: Math.round(pubRate * 10) / 10,
        e2e_latency: e,
        send_latency: s,
        disconnects_total: disconnectsTotal,
        disconnects,
        published_total: totals.published,
        delivered_total: totals.delivered,
        dropped_total: totals.dropped,
        publisher_lag_ms: Math.round(lag),
      },
      `[${type}] ${hub.broadcaster.mode} | clients ${hub.sessions.size} | pub ${
        pubRate.toFixed(1)
      }/s | e2e p50/p95/p99 ${ms(e.p50)}/${ms(e.p95)}/${
        ms(e.p99)
      } ms | send p99 ${
        ms(s.p99)
      } ms | delivered ${totals.delivered} dropped ${totals.dropped} | disconnects ${disconnectsTotal}${
        why ? ` (${why})` : ""
      }${
        lag > 1000 ? ` | PUBLISHER BEHIND by ${(lag / 1000).toFixed(1)} s` : ""
      }`,
    );
  }

  #logClients(): void {
    const hub = this.#hub;
    const sessions = [...hub.sessions];
    const badness = (s: Session) =>
      s.stats.drops * 1e6 + hub.broadcaster.queueLength(s) * 1e3 +
      s.stats.e2eLatency.max;
    sessions.sort((a, b) => badness(b) - badness(a));
    for (const s of sessions.slice(0, SUMMARY_CLIENT_LINES)) {
      const q = hub.broadcaster.queueLength(s);
      const st = s.stats;
      this.#logger.log(
        {
          type: "client",
          id: s.id,
          remote: s.remote,
          queue_len: q,
          drops_total: st.drops,
          sent_total: st.sent,
          acks_total: st.acks,
          bad_frames_total: st.badFrames,
          buffered_bytes: s.sink.bufferedAmount,
          send_latency_ms: Math.round(st.sendLatency.mean * 1000) / 1000,
          send_latency_p99_ms: st.sendLatency.summary().p99,
          e2e_latency_ms: Math.round(st.e2eLatency.mean * 1000) / 1000,
          e2e_latency_p99_ms: st.e2eLatency.summary().p99,
        },
        `  ${s.id} ${s.remote} | queue ${q} | drops ${st.drops} | sent ${st.sent} | send avg ${
          ms(st.sendLatency.mean)
        } ms | e2e avg/p99 ${ms(st.e2eLatency.mean)}/${
          ms(st.e2eLatency.percentile(99))
        } ms | buffered ${Math.round(s.sink.bufferedAmount / 1024)} KiB`,
      );
    }
    if (sessions.length > SUMMARY_CLIENT_LINES) {
      const more = sessions.length - SUMMARY_CLIENT_LINES;
      this.#logger.log(
        { type: "clients_omitted", count: more },
        `  (+${more} more clients, healthiest omitted)`,
      );
    }
  }
}
