/**
 * The HTTP side of a server, assembled: who may subscribe (one
 * {@link SubscriberGate} for WebSocket and SSE), the WebSocket, SSE and
 * publish handlers, the observers' read-only routes, static files, the one
 * route table (`http/router.ts`), and the listener on the configured address.
 *
 * @module
 */
import { ReplayBudget } from "./core/replay_budget.ts";
import { ConnectRate } from "./http/connect_rate.ts";
import { Drain } from "./http/drain.ts";
import { ReconnectPacer } from "./http/reconnect_pacer.ts";
import type { ServerConfig } from "./config/config.ts";
import type { Hub } from "./core/hub.ts";
import type { Logger } from "./core/logger.ts";
import type { AdminGate } from "./http/admin.ts";
import { createAdminDrainHandler } from "./http/admin_drain.ts";
import { SubscriberAuth } from "./http/auth.ts";
import { CLIENT_SCRIPT_PATH, clientScript } from "./http/client_script.ts";
import { listen, type Listener } from "./http/listener.ts";
import { createPublishHandler } from "./http/publish.ts";
import { createRouter, type GetHandler } from "./http/router.ts";
import { onServeError } from "./http/serve_error.ts";
import { createSseHandler } from "./http/sse.ts";
import { createStaticFiles } from "./http/static_files.ts";
import { createWebSocketHandler, OpenSockets } from "./http/subscribe.ts";
import { SubscriberGate } from "./http/subscriber_gate.ts";
import type { HttpSource } from "./sources/source_http.ts";

/**
 * Deno's own ping timer (idleTimeout) runs this much longer than the stall
 * check, seconds, so a client that stops reading is closed by the stall
 * check with 4002 first.
 */
export const IDLE_TIMEOUT_MARGIN_S = 2;

/** What the HTTP side serves. */
export interface HttpParts {
  /** The resolved config. */
  readonly config: ServerConfig;
  /** The hub subscribers join. */
  readonly hub: Hub;
  /** The HTTP source `POST /publish` hands messages to (`--source http` only). */
  readonly publisher: HttpSource | undefined;
  /** The observers' read-only endpoints (dashboard, `/metrics`, health). */
  readonly routes: ReadonlyMap<string, GetHandler>;
  /** The admin token's gate, when one is set. */
  readonly admin: AdminGate | undefined;
  /** TLS certificate and key, when serving `https`/`wss` (read by `http/tls.ts` before anything starts). */
  readonly tls: { readonly cert: string; readonly key: string } | undefined;
  /** The `--static` directory, checked before anything starts (`http/static_files.ts` `staticRoot`). */
  readonly staticDir: string | undefined;
  /** Where the listener logs. */
  readonly logger: Logger;
  /** Whether the server is stopping (no drain can start then). @default never */
  readonly stopping?: () => boolean;
}

/** The HTTP side, listening. */
export interface Http {
  /** The listener (its `shutdown()` stops accepting). */
  readonly listener: Listener;
  /** The subscribers' sockets, for a shutdown that waits for their close handshakes. */
  readonly sockets: OpenSockets;
  /** The hostname bound. */
  readonly hostname: string;
  /** The port bound. */
  readonly port: number;
  /** `ws://` (or `wss://`) URL for clients (loopback when bound to all interfaces). */
  readonly url: string;
  /** `http://` (or `https://`) URL of the dashboard. */
  readonly httpUrl: string;
  /** `"s"` when serving TLS, else `""`. */
  readonly secure: "" | "s";
  /** The node's drain (SIGTERM): refuses new subscribers, closes the connected ones over `--drain-ms`. */
  readonly drain: Drain;
  /** Resolves when `POST /admin/drain` has started the drain: the owner stops the server once it is over, as after SIGTERM. */
  readonly drainRequested: Promise<void>;
}

/**
 * Builds the request handler and starts listening.
 * @throws {Deno.errors.AddrInUse} and other listen errors
 */
export function startHttp(parts: HttpParts): Http {
  const { config, hub, staticDir } = parts;
  const reject = (label: string) => hub.reject(label);
  const sockets = new OpenSockets();
  const stallSeconds = config.server.stallTimeoutMs / 1000;
  // One admission for WebSocket and SSE alike: one count of clients being
  // admitted, one way to open a session.
  const drain = new Drain(hub);
  const { maxConnectRate, replayBudget } = config.limits;
  const gate = new SubscriberGate(hub, {
    gates: {
      drain,
      ...(maxConnectRate > 0
        ? { connectRate: new ConnectRate({ perSec: maxConnectRate }) }
        : {}),
      ...(replayBudget > 0
        ? { replayBudget: new ReplayBudget({ perSec: replayBudget }) }
        : {}),
    },
    // Hints spread the clients a node closes at the rate it admits.
    ...(maxConnectRate > 0
      ? { pacer: new ReconnectPacer({ ratePerSec: maxConnectRate }) }
      : {}),
    auth: SubscriberAuth.create({
      token: config.auth.token,
      jwtSecret: config.auth.jwtSecret,
      maxLifetimeSeconds: config.auth.jwtMaxLifetimeSeconds,
    }),
    limits: config.limits,
  });
  const drainRequested = Promise.withResolvers<void>();
  const adminDrain = createAdminDrainHandler({
    admin: parts.admin,
    drainMs: config.limits.drainMs,
    clients: () => hub.size,
    reject,
    drain: {
      get draining() {
        return drain.draining;
      },
      get stopping() {
        return parts.stopping?.() ?? false;
      },
      start() {
        drain.start(config.limits.drainMs);
        drainRequested.resolve();
      },
      finishNow: () => drain.finishNow(),
    },
  });
  const handler = createRouter({
    websocket: createWebSocketHandler(gate, {
      idleTimeoutSeconds: stallSeconds > 0
        ? stallSeconds + IDLE_TIMEOUT_MARGIN_S
        : 0,
      openTimeoutMs: config.limits.handshakeTimeoutMs,
      sockets,
      revealCounts: parts.admin === undefined,
    }),
    sse: createSseHandler(gate),
    publish: parts.publisher
      ? createPublishHandler(parts.publisher, {
        publishToken: config.auth.publishToken!,
        maxBodyBytes: config.limits.maxMessageBytes,
        conflateKey: config.queueMode.conflateKey,
        reject,
        bodyTimeoutMs: config.limits.handshakeTimeoutMs,
      })
      : undefined,
    routes: new Map([...parts.routes, [CLIENT_SCRIPT_PATH, clientScript]]),
    admin: parts.admin,
    files: staticDir === undefined ? undefined : createStaticFiles(staticDir),
    adminDrain,
  });
  const listener = listen({
    hostname: config.server.host,
    port: config.server.port,
    reusePort: config.server.reusePort,
    tls: parts.tls,
    handshakeTimeoutMs: config.limits.handshakeTimeoutMs,
    maxPending: config.limits.maxPending,
    ...(config.server.listener === "serve" ? { serveHttp: null } : {}),
    reject,
    onError: onServeError(parts.logger),
    logger: parts.logger,
  }, handler);
  const { hostname, port } = listener.addr;
  const clientHost = hostname === "0.0.0.0" || hostname === "::"
    ? "127.0.0.1"
    : hostname.includes(":")
    ? `[${hostname}]`
    : hostname;
  const secure = parts.tls ? "s" : "";
  return {
    listener,
    sockets,
    hostname,
    port,
    url: `ws${secure}://${clientHost}:${port}/`,
    httpUrl: `http${secure}://${clientHost}:${port}/`,
    secure,
    drain,
    drainRequested: drainRequested.promise,
  };
}
