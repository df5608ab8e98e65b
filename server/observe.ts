/**
 * Everything that watches a running server, started together and stopped
 * together: the event-loop sampler, the Prometheus metrics, the dashboard
 * feed, the health checks, and the router that serves them beside the
 * WebSocket endpoint. All of it reads; none of it sits in the message path.
 *
 * @module
 */
import { EventLoopLag } from "../lib/event_loop_lag.ts";
import type { ServerConfig } from "./config.ts";
import { DashboardFeed } from "./dashboard/feed.ts";
import type { ReadyState } from "./health.ts";
import type { Hub } from "./hub.ts";
import { createServerMetrics } from "./metrics.ts";
import type { PublisherStats } from "./publisher.ts";
import { createRouter, type Handler } from "./routes.ts";

/** What {@link startObservers} watches. */
export interface ObservedServer {
  /** The resolved configuration. */
  readonly config: ServerConfig;
  /** The hub. */
  readonly hub: Hub;
  /** The publisher's statistics. */
  readonly publisher: PublisherStats;
  /** The server's lifecycle state, for `/readyz`. */
  readonly state: () => ReadyState;
  /** WebSocket upgrades and the paths not routed here (http.ts). */
  readonly subscribe: Handler;
}

/** The running observers. */
export interface Observers extends Disposable {
  /** The request handler: WebSocket upgrades plus the HTTP endpoints. */
  readonly handler: Handler;
  /** The dashboard feed. */
  readonly feed: DashboardFeed;
  /** Ends the dashboard streams and stops the timers. Idempotent. */
  close(): void;
}

/**
 * Starts the observers of one server.
 *
 * @param server what to watch and the subscriber handler to route to
 * @returns the handler for `Deno.serve`, and a way to stop
 */
export function startObservers(server: ObservedServer): Observers {
  const { config, hub, publisher } = server;
  const loopLag = new EventLoopLag();
  const metrics = createServerMetrics(
    { hub, publisher, loopLag, startedAtEpochMs: Date.now() },
    { perClient: config.metricsPerClient },
  );
  const feed = new DashboardFeed({
    hub,
    publisher,
    loopLag,
    info: {
      rate: config.rate,
      payloadBytes: config.payloadBytes,
      maxsize: config.maxsize,
      dropLimit: config.dropLimit,
      fullTimeout: config.fullTimeout,
    },
  });
  const handler = createRouter({
    subscribe: server.subscribe,
    metrics,
    feed,
    health: { hub, publisher, state: server.state },
  });
  const close = () => {
    feed.close();
    loopLag[Symbol.dispose]();
  };
  return { handler, feed, close, [Symbol.dispose]: close };
}
