/**
 * HTTP wiring: a WebSocket upgrade on `/` (or `/ws`) is a subscriber; a plain
 * GET says where to connect. The only file that knows about Deno's WebSocket.
 *
 * @module
 */
import type { Hub } from "./hub.ts";
import { WebSocketSink } from "./sink.ts";

/** Paths where a WebSocket upgrade subscribes (the seed's clients use `/`). */
export const SUBSCRIBE_PATHS: ReadonlySet<string> = new Set(["/", "/ws"]);

/** Options of {@link createHandler}. */
export interface HandlerOptions {
  /** Deno's ping idle timeout, seconds (0 disables): a silent peer is pinged after half, closed after all of it. */
  readonly idleTimeoutSeconds: number;
}

/** Builds the request handler for `Deno.serve`. */
export function createHandler(
  hub: Hub,
  options: HandlerOptions,
): (req: Request, info: Deno.ServeHandlerInfo<Deno.NetAddr>) => Response {
  return (req, info) => {
    const url = new URL(req.url);
    const isUpgrade = req.headers.get("upgrade")?.toLowerCase() === "websocket";
    if (!SUBSCRIBE_PATHS.has(url.pathname)) {
      return new Response(
        `not found: ${url.pathname}; subscribe at ws://<host>:<port>/\n`,
        {
          status: 404,
        },
      );
    }
    if (!isUpgrade) {
      return new Response(
        `fanout server (${hub.broadcaster.mode} mode, ${hub.sessions.size} clients): connect a WebSocket client to this URL\n`,
        { status: 426, headers: { upgrade: "websocket" } },
      );
    }
    // remoteAddr must be read before the upgrade consumes the request.
    const addr = info.remoteAddr;
    const remote = `${addr.hostname}:${addr.port}`;
    const { socket, response } = Deno.upgradeWebSocket(req, {
      idleTimeout: options.idleTimeoutSeconds,
    });
    socket.addEventListener("open", () => {
      const session = hub.open(new WebSocketSink(socket), remote);
      socket.addEventListener("message", (e) => session.receive(e.data));
      socket.addEventListener(
        "close",
        (e) => session.peerClosed(e.code, e.reason),
      );
    });
    return response;
  };
}
