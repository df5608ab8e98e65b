/**
 * The HTTP router: the one table of which request goes where, on the one
 * port the server has. The handlers behind it answer their own path and
 * route nothing further.
 *
 * | request                                 | answer                                            |
 * | --------------------------------------- | ------------------------------------------------- |
 * | WebSocket upgrade on `/` or `/ws`       | a subscriber (subscribe.ts)                       |
 * | WebSocket upgrade anywhere else         | 404                                               |
 * | `GET`/`HEAD` on a path in `routes`      | that route (the dashboard, `/metrics`, health, …); admin paths need the admin token when one is set |
 * | another method on such a path           | 405                                               |
 * | `/sse`                                  | a Server-Sent Events subscriber (sse.ts)          |
 * | `/publish`                              | the HTTP source (publish.ts), or 404 when it is off |
 * | `/admin/drain`                          | a drain, asked for by an admin (admin_drain.ts)   |
 * | `GET`/`HEAD` of a file under `--static` | the file (static_files.ts)                        |
 * | `/` or `/ws` without an upgrade         | the 426 hint (subscribe.ts)                       |
 * | anything else                           | 404                                               |
 *
 * The router knows paths, not what is behind them: the observers hand it
 * their endpoints.
 *
 * @module
 */
import { type AdminGate, isAdminPath } from "./admin.ts";
import {
  ADMIN_DRAIN_PATH,
  PUBLISH_PATH,
  SSE_PATH,
  SUBSCRIBE_PATHS,
} from "./paths.ts";
import type { StaticFiles } from "./static_files.ts";

/** A `Deno.serve` handler. */
export type Handler = (
  req: Request,
  info: Deno.ServeHandlerInfo<Deno.NetAddr>,
) => Response | Promise<Response>;

/** A handler of one path, given the parsed URL. */
export type PathHandler = (
  req: Request,
  url: URL,
  info: Deno.ServeHandlerInfo<Deno.NetAddr>,
) => Response | Promise<Response>;

/** A read-only endpoint: `GET` (and `HEAD`) of one path. */
export type GetHandler = (req: Request, url: URL) => Response;

/** What the routes serve. */
export interface RouterOptions {
  /** `/` and `/ws`: WebSocket subscribers (and the 426 hint without an upgrade). */
  readonly websocket: PathHandler;
  /** `/sse`: Server-Sent Events subscribers. */
  readonly sse: PathHandler;
  /** `POST /publish`, when `--source http` is on. */
  readonly publish?: PathHandler | undefined;
  /** Read-only endpoints by path. */
  readonly routes: ReadonlyMap<string, GetHandler>;
  /** The admin token's gate for the admin paths (the dashboard, `/events`, `/metrics`); none leaves them open. */
  readonly admin?: AdminGate | undefined;
  /** Files under `--static`, when it is set. */
  readonly files?: StaticFiles | undefined;
  /** `POST /admin/drain`. @default 404 */
  readonly adminDrain?: ((req: Request) => Response) | undefined;
}

/**
 * Builds the server's request handler.
 *
 * @param options the handlers behind the table
 * @returns a handler for `Deno.serve`
 */
export function createRouter(options: RouterOptions): Handler {
  return async (req, info) => {
    const url = new URL(req.url);
    const path = url.pathname;
    const upgrade = req.headers.get("upgrade")?.toLowerCase() === "websocket";
    if (upgrade && SUBSCRIBE_PATHS.has(path)) {
      return options.websocket(req, url, info);
    }
    const route = upgrade ? undefined : options.routes.get(path);
    if (route) {
      if (req.method !== "GET" && req.method !== "HEAD") {
        return Response.json(
          { error: `method ${req.method} not allowed on ${path}` },
          { status: 405, headers: { allow: "GET, HEAD" } },
        );
      }
      if (options.admin && isAdminPath(path)) {
        const refusal = options.admin.check(req, url);
        if (refusal) return refusal;
      }
      return route(req, url);
    }
    if (path === SSE_PATH) return options.sse(req, url, info);
    if (path === PUBLISH_PATH) {
      if (options.publish) return options.publish(req, url, info);
      return Response.json({
        error:
          "publishing over HTTP is off: start the server with --source http --publish-token TOKEN",
      }, { status: 404 });
    }
    if (path === ADMIN_DRAIN_PATH && options.adminDrain && !upgrade) {
      return options.adminDrain(req);
    }
    if (upgrade) return notFound(path);
    const file = await options.files?.(req, url);
    if (file) return file;
    if (SUBSCRIBE_PATHS.has(path)) return options.websocket(req, url, info);
    return notFound(path);
  };
}

function notFound(path: string): Response {
  return Response.json({
    error: `not found: ${path}; subscribe at ws://<host>:<port>/ or GET /sse`,
  }, { status: 404 });
}
