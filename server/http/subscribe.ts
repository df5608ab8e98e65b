/**
 * Subscribers over HTTP: a WebSocket upgrade on `/` (or `/ws`) is admitted
 * (origin, capacity, channel, credentials) and becomes a session; `GET /sse`
 * goes to the SSE handler (sse.ts) and the HTTP source's `POST /publish` to
 * its handler when it is on. The only
 * file that upgrades to Deno's WebSocket. The router (router.ts) sends
 * everything that is not an observability endpoint here.
 *
 * @module
 */
import { CLOSE_CODES, fitCloseReason } from "../../lib/close_codes.ts";
import type { Hub } from "../core/hub.ts";
import { type AdmissionLimits, admit } from "./admission.ts";
import type { SubscriberAuth } from "./auth.ts";
import { SSE_PATH } from "./sse.ts";
import { WebSocketSink } from "./websocket_sink.ts";

/** Paths where a WebSocket upgrade subscribes (the seed's clients use `/`). */
export const SUBSCRIBE_PATHS: ReadonlySet<string> = new Set(["/", "/ws"]);

/** Options of {@link createSubscribeHandler}. */
export interface SubscribeOptions {
  /** Deno's ping idle timeout, seconds (0 disables): a silent peer is pinged after half, closed after all of it. */
  readonly idleTimeoutSeconds: number;
  /** Who may subscribe (resolves once its key is imported). */
  readonly auth: Promise<SubscriberAuth>;
  /** Origin and capacity limits. */
  readonly limits: AdmissionLimits;
  /** `POST /publish`, when `--source http` is on. */
  readonly publish?:
    | ((req: Request, url: URL) => Promise<Response>)
    | undefined;
  /** `GET /sse`: Server-Sent Events subscribers (sse.ts). */
  readonly sse?: (
    req: Request,
    url: URL,
    info: Deno.ServeHandlerInfo<Deno.NetAddr>,
  ) => Promise<Response>;
}

/** Builds the request handler for subscribers and publishers. */
export function createSubscribeHandler(
  hub: Hub,
  options: SubscribeOptions,
): (
  req: Request,
  info: Deno.ServeHandlerInfo<Deno.NetAddr>,
) => Promise<Response> {
  return async (req, info) => {
    const url = new URL(req.url);
    if (url.pathname === "/publish") {
      if (options.publish) return await options.publish(req, url);
      return Response.json({
        error:
          "publishing over HTTP is off: start the server with --source http --publish-token TOKEN",
      }, { status: 404 });
    }
    if (url.pathname === SSE_PATH && options.sse) {
      return await options.sse(req, url, info);
    }
    if (!SUBSCRIBE_PATHS.has(url.pathname)) {
      return Response.json({
        error:
          `not found: ${url.pathname}; subscribe at ws://<host>:<port>/ or GET /sse`,
      }, { status: 404 });
    }
    if (req.headers.get("upgrade")?.toLowerCase() !== "websocket") {
      return Response.json({
        error:
          `fanout server (${hub.mode} mode, ${hub.size} clients): connect a WebSocket client to this URL`,
      }, { status: 426, headers: { upgrade: "websocket" } });
    }
    // remoteAddr must be read before the upgrade consumes the request.
    const addr = info.remoteAddr;
    const remote = `${addr.hostname}:${addr.port}`;
    const terms = await admit(
      req,
      url,
      hub,
      await options.auth,
      options.limits,
    );
    if (!terms.ok) {
      hub.reject(terms.label);
      return Response.json({ error: terms.reason }, { status: terms.status });
    }
    const { socket, response } = Deno.upgradeWebSocket(req, {
      idleTimeout: options.idleTimeoutSeconds,
    });
    socket.addEventListener("open", () => {
      let session;
      try {
        const { channel, control, batch, since, epoch } = terms;
        session = hub.open(new WebSocketSink(socket), {
          remote,
          channel,
          control,
          batch,
          ...(since === undefined ? {} : { since }),
          ...(epoch === undefined ? {} : { epoch }),
        });
      } catch (err) {
        // The channel limit was reached while credentials were checked.
        hub.reject("too_many_channels");
        socket.close(
          CLOSE_CODES.channel_limit.code,
          fitCloseReason((err as Error).message),
        );
        return;
      }
      socket.addEventListener("message", (e) => session.receive(e.data));
      socket.addEventListener(
        "close",
        (e) => session.peerClosed(e.code, e.reason),
      );
    });
    return response;
  };
}
