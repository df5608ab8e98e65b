/**
 * `GET /healthz` (the process answers) and `GET /readyz` (it accepts clients
 * and publishes), as small JSON documents.
 *
 * @module
 */
import type { Hub } from "./hub.ts";
import type { PublisherStats } from "./publisher.ts";
import { publisherLag } from "./publisher_lag.ts";

/** What readiness depends on, right now. */
export interface ReadyState {
  /** The listener accepts connections (false once shutdown began). */
  readonly accepting: boolean;
  /** The publisher loop runs. */
  readonly publishing: boolean;
}

/** What the health endpoints read. */
export interface HealthSource {
  /** The hub. */
  readonly hub: Hub;
  /** The publisher's statistics. */
  readonly publisher: PublisherStats;
  /** The server's lifecycle state. */
  readonly state: () => ReadyState;
  /** Monotonic clock, ms. @default performance.now */
  readonly now?: () => number;
}

function json(body: unknown, status: number): Response {
  return new Response(JSON.stringify(body) + "\n", {
    status,
    headers: {
      "content-type": "application/json; charset=utf-8",
      "cache-control": "no-store",
    },
  });
}

/**
 * `GET /healthz`: 200 whenever the process can answer.
 * @returns `{"status":"ok","clients":N,"uptime_seconds":S}`
 */
export function healthz(source: HealthSource): Response {
  const now = (source.now ?? (() => performance.now()))();
  const started = source.publisher.startedAt;
  return json({
    status: "ok",
    clients: source.hub.sessions.size,
    uptime_seconds: Number.isFinite(started)
      ? Math.round(now - started) / 1000
      : 0,
  }, 200);
}

/**
 * `GET /readyz`: 200 while the server accepts clients and publishes, 503
 * otherwise (shutting down, or the publisher stopped), with what failed.
 * @returns `{"status":"ready"|"not_ready","accepting","publishing",…}`
 */
export function readyz(source: HealthSource): Response {
  const now = (source.now ?? (() => performance.now()))();
  const { accepting, publishing } = source.state();
  const ready = accepting && publishing;
  const lag = publisherLag(source.publisher, now);
  return json({
    status: ready ? "ready" : "not_ready",
    accepting,
    publishing,
    mode: source.hub.broadcaster.mode,
    clients: source.hub.sessions.size,
    published_total: source.hub.totals().published,
    publisher_lag_seconds: Math.round(lag.lagMs) / 1000,
  }, ready ? 200 : 503);
}
