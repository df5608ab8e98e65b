/**
 * Everything that watches a running server, started together and stopped
 * together: the event-loop sampler, the Prometheus metrics, the dashboard
 * feed and the health checks, as read-only HTTP endpoints for the router.
 * All of it reads; none of it sits in the message path.
 *
 * @module
 */
import { EventLoopLag } from "../../lib/event_loop_lag.ts";
import { PROMETHEUS_CONTENT_TYPE } from "../../lib/metrics.ts";
import type { Hub } from "../core/hub.ts";
import type { GetHandler } from "../http/router.ts";
import type { SourceStats } from "../sources/source_stats.ts";
import { assetResponse, DASHBOARD_ASSETS } from "./dashboard/assets.ts";
import { parseTableView } from "./dashboard/client_table.ts";
import { DashboardFeed } from "./dashboard/feed.ts";
import { healthz, type ReadyState, readyz } from "./health.ts";
import { createServerMetrics } from "./metrics.ts";

/** What {@link startObservers} watches. */
export interface ObservedServer {
  /** The hub. */
  readonly hub: Hub;
  /** The source's statistics. */
  readonly source: SourceStats;
  /** When the server started, monotonic ms. */
  readonly startedAt: number;
  /** The server's lifecycle state, for `/readyz`. */
  readonly state: () => ReadyState;
  /** Add per-client series to `/metrics`. */
  readonly metricsPerClient: boolean;
  /** This process's name on `/metrics` (`fanout_process_info`). @default HOSTNAME:PID */
  readonly instanceId?: string | undefined;
  /** Label every `/metrics` series with `instance_id`. @default false */
  readonly labelEverySeries?: boolean;
  /** Fixed facts the dashboard shows in its header (rate, limits). */
  readonly info: Readonly<Record<string, string | number>>;
  /** Dashboard streams at once (`--max-dashboards`). @default Infinity */
  readonly maxDashboards?: number;
  /** Whether a request may see the health endpoints' details (false without admin credentials when a token is set). @default always */
  readonly detailFor?: ((req: Request) => boolean) | undefined;
  /** Counts a refused request (`fanout_rejections_total`). @default nothing */
  readonly reject?: (label: string) => void;
}

/** The running observers. */
export interface Observers extends Disposable {
  /** The read-only endpoints, by path, for the router. */
  readonly routes: ReadonlyMap<string, GetHandler>;
  /** Ends the dashboard streams and stops the timers. Idempotent. */
  close(): void;
}

/**
 * Starts the observers of one server.
 *
 * @param server what to watch
 * @returns the endpoints for the router, and a way to stop
 */
export function startObservers(server: ObservedServer): Observers {
  const { hub, source } = server;
  const loopLag = new EventLoopLag();
  const metrics = createServerMetrics(
    { hub, source, loopLag, startedAtEpochMs: Date.now() },
    {
      perClient: server.metricsPerClient,
      ...(server.instanceId === undefined
        ? {}
        : { instanceId: server.instanceId }),
      labelEverySeries: server.labelEverySeries ?? false,
    },
  );
  const feed = new DashboardFeed({ hub, source, loopLag, info: server.info }, {
    maxSubscribers: server.maxDashboards ?? Infinity,
  });
  const detail = server.detailFor ?? (() => true);
  const health = {
    hub,
    source,
    startedAt: server.startedAt,
    state: server.state,
  };
  const routes = new Map<string, GetHandler>([
    ["/metrics", () =>
      new Response(metrics.render(), {
        headers: { "content-type": PROMETHEUS_CONTENT_TYPE },
      })],
    ["/healthz", (req) => healthz(health, detail(req))],
    ["/readyz", (req) => readyz(health, detail(req))],
    ["/events", (req, url) => {
      const headers = {
        "content-type": "text/event-stream; charset=utf-8",
        "cache-control": "no-store",
      };
      if (req.method === "HEAD") return new Response(null, { headers });
      const stream = feed.subscribe(parseTableView(url.searchParams));
      if (!stream) {
        server.reject?.("too_many_dashboards");
        return Response.json({
          error:
            `too many dashboards open (--max-dashboards ${server.maxDashboards}); close one and retry`,
        }, { status: 503, headers: { "retry-after": "5" } });
      }
      return new Response(stream, { headers });
    }],
  ]);
  for (const path of DASHBOARD_ASSETS.keys()) {
    routes.set(path, () => assetResponse(path)!);
  }
  const close = () => {
    feed.close();
    loopLag[Symbol.dispose]();
  };
  return { routes, close, [Symbol.dispose]: close };
}
