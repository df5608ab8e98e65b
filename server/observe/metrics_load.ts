/**
 * The server's load metrics: the source against its schedule, overload and
 * shedding, the ladder's tiers, the broker and the process. Part of
 * {@link createServerMetrics} (`metrics.ts`); values are read when scraped.
 *
 * @module
 */
import type { MetricsRegistry } from "../../lib/metrics.ts";
import { sourceLag } from "../sources/source_stats.ts";
import {
  LATENCY_BUCKETS_SECONDS,
  msToSeconds,
  type ServerMetricsSource,
} from "./metrics_clients.ts";

/** The source against its schedule (`--rate`). */
export function addPublisher(
  r: MetricsRegistry,
  source: ServerMetricsSource,
): void {
  const stats = source.source;
  const now = source.now ?? (() => performance.now());
  r
    .gauge(
      "fanout_publisher_target_rate",
      "Messages per second the synthetic source is scheduled to send (--rate; 0 for other sources).",
      () => stats.rate,
    )
    .gauge(
      "fanout_publisher_lag_seconds",
      "How long the next message has been due: 0 while the publisher keeps up with --rate.",
      () => msToSeconds(sourceLag(stats, now()).lagMs),
    )
    .gauge(
      "fanout_publisher_behind_messages",
      "Messages due by now under --rate that have not been published.",
      () => sourceLag(stats, now()).behind,
    );
}

/** The server behind, what it shed or let expire, and the ladder's tiers. */
export function addOverload(
  r: MetricsRegistry,
  source: ServerMetricsSource,
): void {
  const { hub } = source;
  const stats = source.source;
  r
    .gauge(
      "fanout_overloaded",
      "1 while the server itself is behind (its event loop or its source): clients are then judged against each other and what cannot be sent is shed evenly.",
      () => hub.overload.overloaded ? 1 : 0,
    )
    .counter(
      "fanout_overload_seconds_total",
      "Time the server spent overloaded.",
      () => hub.overload.overloadedMs / 1000,
    )
    .counter(
      "fanout_overload_episodes_total",
      "Times the server became overloaded.",
      () => hub.overload.episodes,
    )
    .counter(
      "fanout_shed_messages_total",
      "Messages not sent because the server was behind, never counted against a client: queue = dropped from clients that kept up with their peers; source = skipped by the synthetic source when far behind its schedule.",
      () => [
        { labels: { where: "queue" }, value: hub.shed },
        { labels: { where: "source" }, value: stats.shed },
      ],
    )
    .counter(
      "fanout_expired_messages_total",
      "Messages not sent because their time to live (Fanout-TTL-Ms, ttl_ms, --channel-ttl) ran out before their turn.",
      () => hub.expired,
    )
    .counter(
      "fanout_tier_changes_total",
      "Clients that moved into each tier of --policy ladder (full, coalesced, conflated, dropping); no series under other policies.",
      () =>
        Object.entries(hub.tierChanges ?? {}).map(([tier, value]) => ({
          labels: { tier },
          value,
        })),
    )
    .gauge(
      "fanout_clients_by_tier",
      "Clients in each tier of --policy ladder now; no series under other policies.",
      () => {
        const changes = hub.tierChanges;
        if (!changes) return [];
        const now: Record<string, number> = {};
        for (const tier of Object.keys(changes)) now[tier] = 0;
        for (const s of hub.subscribers()) {
          if (s.tier !== undefined) now[s.tier] = (now[s.tier] ?? 0) + 1;
        }
        return Object.entries(now).map(([tier, value]) => ({
          labels: { tier },
          value,
        }));
      },
    );
}

/** The broker: up, publish latency, errors, repairs, gaps, resets, stale epochs, replays, reads. */
export function addBroker(
  r: MetricsRegistry,
  source: ServerMetricsSource,
): void {
  const { hub } = source;
  r
    .gauge(
      "fanout_broker_up",
      "1 while the broker is reachable (always for the memory broker), 0 while not.",
      () => hub.broker.stats.up ? 1 : 0,
    )
    .histogram(
      "fanout_broker_publish_latency_seconds",
      "Round trip of one publish (or batch) to the broker's engine.",
      () => hub.broker.stats.publishLatency,
      LATENCY_BUCKETS_SECONDS,
    )
    .counter(
      "fanout_broker_errors_total",
      "Broker publishes and reads that failed.",
      () => hub.broker.stats.errors,
    )
    .counter(
      "fanout_broker_repairs_total",
      "Holes in a channel's live stream filled from the engine's history.",
      () => hub.broker.stats.repairs,
    )
    .counter(
      "fanout_broker_gaps_total",
      "Holes the engine's history could not fill (clients told gap).",
      () => hub.broker.stats.gaps,
    )
    .counter(
      "fanout_broker_resets_total",
      "Times a channel's stream started over in a new epoch (clients told reset).",
      () => hub.broker.stats.resets,
    )
    .counter(
      "fanout_stale_epoch_discarded_total",
      "Messages and engine replies of an older epoch than the one followed, discarded (never delivered).",
      () => hub.broker.stats.staleEpochs,
    )
    .counter(
      "fanout_follower_repairs_total",
      "Followed channels the periodic check against the engine repaired, by cause (missing, epoch, stuck, regressed).",
      () =>
        Object.entries(hub.broker.stats.followerRepairs).map((
          [cause, value],
        ) => ({
          labels: { cause },
          value,
        })),
    )
    .counter(
      "fanout_replays_total",
      "?since= replays, by where they were read: ring (this node's recent messages) or engine.",
      () => [
        { labels: { from: "ring" }, value: hub.broker.stats.replaysFromRing },
        {
          labels: { from: "engine" },
          value: hub.broker.stats.replaysFromEngine,
        },
      ],
    )
    .counter(
      "fanout_resumes_diverged_total",
      "Clients that resumed (?since_ts=) holding another message at their position than the engine's stream (lost in a failover, then published over): told reset.",
      () => hub.broker.stats.resumesDiverged,
    )
    .counter(
      "fanout_broker_reads_total",
      "History reads sent to the engine (concurrent replays share one).",
      () => hub.broker.stats.engineReads,
    );
}

/** The process: memory, event-loop lag, start time. */
export function addProcess(
  r: MetricsRegistry,
  source: ServerMetricsSource,
): void {
  r
    .gauge(
      "fanout_process_resident_memory_bytes",
      "Resident set size of the server process.",
      () => Deno.memoryUsage().rss,
    )
    .gauge(
      "fanout_event_loop_lag_seconds",
      "The worst event-loop lag since the previous scrape (how late a timer due every 500 ms ran).",
      () => msToSeconds(source.loopLag.takeWindowMaxMs()),
    )
    .gauge(
      "fanout_start_time_seconds",
      "When the server started, seconds since the Unix epoch.",
      () => source.startedAtEpochMs / 1000,
    );
}
