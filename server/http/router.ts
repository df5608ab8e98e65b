/**
 * The HTTP router: which request goes where, on the one port the server has.
 *
 * | request                                | answer                               |
 * | -------------------------------------- | ------------------------------------ |
 * | WebSocket upgrade on `/` or `/ws`      | a subscriber (subscribe.ts)          |
 * | `GET`/`HEAD` on a path in `routes`     | that route (the dashboard, `/metrics`, health, …); admin paths need the admin token when one is set |
 * | another method on such a path          | 405                                  |
 * | anything else                          | subscribe.ts (`GET /sse`, `POST /publish`, 426 hint on `/ws`, 404) |
 *
 * The router knows paths, not what is behind them: the observers hand it
 * their endpoints.
 *
 * @module
 */
import { type AdminGate, isAdminPath } from "./admin.ts";

/** A `Deno.serve` handler. */
export type Handler = (
  req: Request,
  info: Deno.ServeHandlerInfo<Deno.NetAddr>,
) => Response | Promise<Response>;

/** A read-only endpoint: `GET` (and `HEAD`) of one path. */
export type GetHandler = (req: Request, url: URL) => Response;

/** What the routes serve. */
export interface RouterOptions {
  /** WebSocket upgrades, and every path not in `routes`. */
  readonly subscribe: Handler;
  /** Read-only endpoints by path. */
  readonly routes: ReadonlyMap<string, GetHandler>;
  /** The admin token's gate for the admin paths (the dashboard, `/events`, `/metrics`); none leaves them open. */
  readonly admin?: AdminGate | undefined;
}

/**
 * Builds the server's request handler.
 *
 * @param options the subscriber handler and the read-only endpoints
 * @returns a handler for `Deno.serve`
 */
export function createRouter(options: RouterOptions): Handler {
  return (req, info) => {
    if (req.headers.get("upgrade")?.toLowerCase() === "websocket") {
      return options.subscribe(req, info);
    }
    const url = new URL(req.url);
    const route = options.routes.get(url.pathname);
    if (!route) return options.subscribe(req, info);
    if (req.method !== "GET" && req.method !== "HEAD") {
      return Response.json(
        { error: `method ${req.method} not allowed on ${url.pathname}` },
        { status: 405, headers: { allow: "GET, HEAD" } },
      );
    }
    if (options.admin && isAdminPath(url.pathname)) {
      const refusal = options.admin.check(req, url);
      if (refusal) return refusal;
    }
    return route(req, url);
  };
}
