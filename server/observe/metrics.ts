/**
 * The server's Prometheus metrics, bound to the hub, the source and the
 * process. Every value is read when scraped from counters the server keeps
 * anyway; nothing here runs per message.
 *
 * @module
 */
import { CLOSE_CODES, DISCONNECT_REASONS } from "../../lib/close_codes.ts";
import type { EventLoopLag } from "../../lib/event_loop_lag.ts";
import { MetricsRegistry, type Sample } from "../../lib/metrics.ts";
import type { Hub } from "../core/hub.ts";
import type { SubscriberView } from "../core/subscriber.ts";
import { sourceLag, type SourceStats } from "../sources/source_stats.ts";

/** Latency histogram bounds, seconds: 100 µs to a minute. */
export const LATENCY_BUCKETS_SECONDS: readonly number[] = [
  0.0001,
  0.00025,
  0.0005,
  0.001,
  0.0025,
  0.005,
  0.01,
  0.025,
  0.05,
  0.1,
  0.25,
  0.5,
  1,
  2.5,
  5,
  10,
  30,
  60,
];

/** What the server's metrics read. */
export interface ServerMetricsSource {
  /** The hub: sessions, totals, server-wide latency. */
  readonly hub: Hub;
  /** The source's statistics. */
  readonly source: SourceStats;
  /** The event-loop lag sampler. */
  readonly loopLag: EventLoopLag;
  /** When the server started, epoch ms. */
  readonly startedAtEpochMs: number;
  /** Monotonic clock, ms (the source's). @default performance.now */
  readonly now?: () => number;
}

/** Options of {@link createServerMetrics}. */
export interface ServerMetricsOptions {
  /** Add per-client series (`fanout_client_*`, label `client`); one series per client per metric. @default false */
  readonly perClient?: boolean;
  /** This process's name, in `fanout_process_info`. @default {@link defaultInstanceId} */
  readonly instanceId?: string;
  /** Label every series with `instance_id` (processes sharing a port). @default false */
  readonly labelEverySeries?: boolean;
}

/**
 * A process's name when `--instance-id` is not given: `HOSTNAME:PID`, which
 * tells apart the processes sharing a port with `--reuse-port`.
 */
export function defaultInstanceId(): string {
  return `${Deno.hostname()}:${Deno.pid}`;
}

/**
 * Registers every server metric.
 *
 * @param source the hub, source and samplers to read
 * @param options whether to add per-client series
 * @returns the registry; `render()` it for `GET /metrics`
 */
export function createServerMetrics(
  source: ServerMetricsSource,
  options: ServerMetricsOptions = {},
): MetricsRegistry {
  const { hub } = source;
  const stats = source.source;
  const now = source.now ?? (() => performance.now());
  const totals = () => hub.totals();
  const instanceId = options.instanceId ?? defaultInstanceId();
  const r = new MetricsRegistry(
    options.labelEverySeries ? { instance_id: instanceId } : {},
  )
    .gauge(
      "fanout_process_info",
      "Constant 1, naming the process that answered this scrape (--instance-id) and its pid.",
      () => [{
        labels: { instance_id: instanceId, pid: String(Deno.pid) },
        value: 1,
      }],
    )
    .gauge(
      "fanout_info",
      "Constant 1, labelled with the broadcast mode and the broker.",
      () => [{ labels: { mode: hub.mode, broker: hub.broker.kind }, value: 1 }],
    )
    .gauge(
      "fanout_clients",
      "Subscribers connected (WebSocket and SSE).",
      () => hub.size,
    )
    .counter(
      "fanout_connections_total",
      "Client connections accepted.",
      () => totals().connects,
    )
    .counter(
      "fanout_messages_published_total",
      "Messages this server's source published (accepted by the broker).",
      () => stats.published,
    )
    .counter(
      "fanout_deliveries_total",
      "Frames handed to client sockets (one per message per client).",
      () => totals().delivered,
    )
    .counter(
      "fanout_drops_total",
      "Messages a client never got: queue_full = oldest dropped from a full queue; disconnected = still queued when the client was closed.",
      () => {
        const t = totals();
        return [
          { labels: { reason: "queue_full" }, value: t.dropped },
          { labels: { reason: "disconnected" }, value: t.discarded },
        ];
      },
    )
    .counter(
      "fanout_disconnects_total",
      "Clients disconnected, by reason and close code (the protocol's close-code table).",
      () => {
        const d = totals().disconnects;
        return DISCONNECT_REASONS.map((reason) => ({
          labels: { reason, code: String(CLOSE_CODES[reason].code) },
          value: d.get(reason) ?? 0,
        }));
      },
    )
    .counter(
      "fanout_rejections_total",
      "Requests refused before they became clients, by reason.",
      () =>
        [...totals().rejections].map(([reason, value]) => ({
          labels: { reason },
          value,
        })),
    )
    .counter(
      "fanout_acks_total",
      "Valid ACKs received from clients (for a message the client was sent, with its ts_send).",
      () => totals().acks,
    )
    .counter(
      "fanout_acks_refused_total",
      "Well-formed ACKs refused: for a seq the client was not sent, or with another ts_send (not in the latency histograms).",
      () => totals().staleAcks,
    )
    .counter(
      "fanout_conflated_total",
      "Queued messages replaced by a newer one with the same key (--policy conflate); superseded, not dropped.",
      () => totals().conflated,
    )
    .counter(
      "fanout_bad_frames_total",
      "Malformed or oversized frames received from clients.",
      () => totals().badFrames,
    )
    .histogram(
      "fanout_e2e_latency_seconds",
      "End-to-end latency from client ACKs: ACK received minus the message's ts_send.",
      () => hub.latency().e2e,
      LATENCY_BUCKETS_SECONDS,
    )
    .histogram(
      "fanout_send_latency_seconds",
      "Time from enqueue to hand-off to the client's socket.",
      () => hub.latency().send,
      LATENCY_BUCKETS_SECONDS,
    )
    .gauge(
      "fanout_queued_messages",
      "Messages waiting in client queues, all clients.",
      () => hub.backlog().queued,
    )
    .gauge(
      "fanout_buffered_bytes",
      "Bytes handed to client sockets and not yet written out, all clients.",
      () => hub.backlog().bufferedBytes,
    )
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
    )
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
    )
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
      "fanout_broker_reads_total",
      "History reads sent to the engine (concurrent replays share one).",
      () => hub.broker.stats.engineReads,
    )
    .gauge(
      "fanout_process_resident_memory_bytes",
      "Resident set size of the server process.",
      () => Deno.memoryUsage().rss,
    )
    .gauge(
      "fanout_event_loop_lag_seconds",
      "How late the event loop ran a timer at the latest sample (every 500 ms).",
      () => msToSeconds(source.loopLag.lagMs),
    )
    .gauge(
      "fanout_start_time_seconds",
      "When the server started, seconds since the Unix epoch.",
      () => source.startedAtEpochMs / 1000,
    );
  if (options.perClient) addPerClient(r, hub);
  return r;
}

/** `fanout_client_*`: one series per connected client (only with `--metrics-per-client`). */
function addPerClient(r: MetricsRegistry, hub: Hub): void {
  const each = (value: (s: SubscriberView) => number) => (): Sample[] =>
    [...hub.subscribers()].map((s) => ({
      labels: { client: s.id, remote: s.remote },
      value: value(s),
    }));
  r.gauge(
    "fanout_client_queued_messages",
    "Messages waiting in this client's queue.",
    each((s) => s.queued),
  )
    .gauge(
      "fanout_client_buffered_bytes",
      "Bytes handed to this client's socket and not yet written out.",
      each((s) => s.bufferedBytes),
    )
    .counter(
      "fanout_client_deliveries_total",
      "Frames handed to this client's socket.",
      each((s) => s.sent),
    )
    .counter(
      "fanout_client_drops_total",
      "Messages dropped for this client (queue full).",
      each((s) => s.drops),
    )
    .counter(
      "fanout_client_acks_total",
      "Valid ACKs received from this client.",
      each((s) => s.acks),
    );
}

/** Milliseconds to seconds, to the microsecond (no float noise in the text). */
function msToSeconds(ms: number): number {
  return Math.round(ms * 1000) / 1e6;
}
