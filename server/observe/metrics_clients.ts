/**
 * The server's client metrics: connections, deliveries, losses, ACKs,
 * latency histograms, backlog, and the per-client series. Part of
 * {@link createServerMetrics} (`metrics.ts`); values are read when scraped.
 *
 * @module
 */
import { CLOSE_CODES, DISCONNECT_REASONS } from "../../lib/close_codes.ts";
import type { EventLoopLag } from "../../lib/event_loop_lag.ts";
import type { MetricsRegistry, Sample } from "../../lib/metrics.ts";
import type { Hub } from "../core/hub.ts";
import type { SubscriberView } from "../core/subscriber.ts";
import type { SourceStats } from "../sources/source_stats.ts";

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

/** Clients, connections, and what they were sent, lost, refused or acknowledged. */
export function addClients(
  r: MetricsRegistry,
  source: ServerMetricsSource,
): void {
  const { hub } = source;
  const stats = source.source;
  const totals = () => hub.totals();
  r
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
    );
}

/** The latency histograms, and what waits in client queues and socket buffers. */
export function addLatencyAndBacklog(
  r: MetricsRegistry,
  source: ServerMetricsSource,
): void {
  const { hub } = source;
  r
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
    );
}

/** `fanout_client_*`: one series per connected client (only with `--metrics-per-client`). */
export function addPerClient(r: MetricsRegistry, hub: Hub): void {
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
export function msToSeconds(ms: number): number {
  return Math.round(ms * 1000) / 1e6;
}
