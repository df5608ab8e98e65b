/**
 * `GET /healthz` (the process answers) and `GET /readyz` (it accepts clients
 * and its source publishes), as small JSON documents.
 *
 * @module
 */
import type { Hub } from "../core/hub.ts";
import { sourceLag, type SourceStats } from "../sources/source_stats.ts";

/** What readiness depends on, right now. */
export interface ReadyState {
  /** The listener accepts connections (false once shutdown began). */
  readonly accepting: boolean;
}

/** What the health endpoints read. */
export interface HealthSource {
  /** The hub. */
  readonly hub: Hub;
  /** The source's statistics. */
  readonly source: SourceStats;
  /** When the server started, monotonic ms. */
  readonly startedAt: number;
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
 * @param detail false for a caller without admin credentials (when an
 *   admin token is set): the status only
 * @returns `{"status":"ok","clients":N,"uptime_seconds":S}`
 */
export function healthz(source: HealthSource, detail = true): Response {
  const now = (source.now ?? (() => performance.now()))();
  if (!detail) return json({ status: "ok" }, 200);
  return json({
    status: "ok",
    clients: source.hub.size,
    uptime_seconds: Math.round(now - source.startedAt) / 1000,
  }, 200);
}

/**
 * `GET /readyz`: 200 while the server accepts clients, its broker is
 * reachable and its source can publish; 503 otherwise (shutting down, the
 * broker unreachable, the source paused or stopped), saying why. A stdin
 * source whose input ended is still ready: the server keeps serving and
 * replaying.
 * @param detail false for a caller without admin credentials (when an
 *   admin token is set): the status only
 * @returns `{"status":"ready"|"not_ready","accepting","publishing","broker_up",…}`
 */
export function readyz(source: HealthSource, detail = true): Response {
  const now = (source.now ?? (() => performance.now()))();
  const { accepting } = source.state();
  const { state } = source.source;
  const broker = source.hub.broker;
  const publishing = state === "running" || state === "ended";
  const brokerUp = broker.stats.up;
  const ready = accepting && publishing && brokerUp;
  if (!detail) {
    return json({ status: ready ? "ready" : "not_ready" }, ready ? 200 : 503);
  }
  const reason = !accepting
    ? "shutting down"
    : !brokerUp
    ? `broker ${broker.kind} unreachable: ${broker.stats.downReason}`
    : source.source.pausedReason;
  const lag = sourceLag(source.source, now);
  return json({
    status: ready ? "ready" : "not_ready",
    accepting,
    publishing,
    broker: broker.kind,
    broker_up: brokerUp,
    source: source.source.kind,
    source_state: state,
    ...(reason ? { reason } : {}),
    mode: source.hub.mode,
    clients: source.hub.size,
    published_total: source.source.published,
    publisher_lag_seconds: Math.round(lag.lagMs) / 1000,
  }, ready ? 200 : 503);
}
