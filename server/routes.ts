/**
 * The HTTP router: which request goes where, on the one port the server has.
 *
 * | request                                | answer                               |
 * | -------------------------------------- | ------------------------------------ |
 * | WebSocket upgrade on `/` or `/ws`      | a subscriber (http.ts)               |
 * | `GET /`                                | the live dashboard (HTML)            |
 * | `GET /dashboard/*`                     | its script, styles and uPlot         |
 * | `GET /events`                          | the dashboard's feed (SSE)           |
 * | `GET /metrics`                         | Prometheus text                      |
 * | `GET /healthz`, `GET /readyz`          | JSON                                 |
 * | anything else                          | http.ts (426 hint on `/ws`, 404)     |
 *
 * @module
 */
import { PROMETHEUS_CONTENT_TYPE } from "../lib/metrics.ts";
import type { MetricsRegistry } from "../lib/metrics.ts";
import { assetResponse, DASHBOARD_ASSETS } from "./dashboard/assets.ts";
import { parseTableView } from "./dashboard/client_table.ts";
import type { DashboardFeed } from "./dashboard/feed.ts";
import { type HealthSource, healthz, readyz } from "./health.ts";

/** A `Deno.serve` handler. */
export type Handler = (
  req: Request,
  info: Deno.ServeHandlerInfo<Deno.NetAddr>,
) => Response | Promise<Response>;

/** What the routes serve. */
export interface RouterOptions {
  /** WebSocket upgrades, and every path not routed here (http.ts). */
  readonly subscribe: Handler;
  /** `GET /metrics`. */
  readonly metrics: MetricsRegistry;
  /** `GET /events`. */
  readonly feed: DashboardFeed;
  /** `GET /healthz` and `GET /readyz`. */
  readonly health: HealthSource;
}

/** Paths answered here (besides the dashboard files). */
const PATHS = new Set(["/metrics", "/healthz", "/readyz", "/events"]);

/**
 * Builds the server's request handler.
 *
 * @param options the subscriber handler and what the other routes serve
 * @returns a handler for `Deno.serve`
 */
export function createRouter(options: RouterOptions): Handler {
  return (req, info) => {
    if (req.headers.get("upgrade")?.toLowerCase() === "websocket") {
      return options.subscribe(req, info);
    }
    const url = new URL(req.url);
    const path = url.pathname;
    const ours = PATHS.has(path) || DASHBOARD_ASSETS.has(path);
    if (!ours) return options.subscribe(req, info);
    if (req.method !== "GET" && req.method !== "HEAD") {
      return new Response(`method ${req.method} not allowed on ${path}\n`, {
        status: 405,
        headers: { allow: "GET, HEAD" },
      });
    }
    switch (path) {
      case "/metrics":
        return new Response(options.metrics.render(), {
          headers: { "content-type": PROMETHEUS_CONTENT_TYPE },
        });
      case "/healthz":
        return healthz(options.health);
      case "/readyz":
        return readyz(options.health);
      case "/events":
        return new Response(
          req.method === "HEAD"
            ? null
            : options.feed.subscribe(parseTableView(url.searchParams)),
          {
            headers: {
              "content-type": "text/event-stream; charset=utf-8",
              "cache-control": "no-store",
            },
          },
        );
    }
    return assetResponse(path)!;
  };
}
