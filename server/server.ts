/**
 * The composition root: starts a fanout server from a resolved config by
 * wiring its parts — broker, mode, hub, source, observers, the HTTP side
 * (`http_app.ts`), the periodic work (`housekeeping.ts`) — and stops them in
 * order (`shutdown.ts`). Nothing here decides anything the config did not.
 *
 * @module
 */
import type { Broker } from "./core/broker.ts";
import type { ServerConfig } from "./config/config.ts";
import { Hub } from "./core/hub.ts";
import { createLogger, type Logger } from "./core/logger.ts";
import { adminGate } from "./http/admin.ts";
import { staticRoot } from "./http/static_files.ts";
import { readTls } from "./http/tls.ts";
import { startHousekeeping } from "./housekeeping.ts";
import { startHttp } from "./http_app.ts";
import { logLifecycle, logListening } from "./observe/lifecycle_log.ts";
import {
  createBroker,
  createMemoryBroker,
  createMode,
  redactedUrl,
  startConfiguredObservers,
  startConfiguredSource,
} from "./parts.ts";
import { listenForMetrics } from "./http/metrics_listener.ts";
import { shutdown } from "./shutdown.ts";
import type { SourceStats } from "./sources/source_stats.ts";

export { HOUSEKEEPING_MS } from "./housekeeping.ts";
export { createBroker } from "./parts.ts";
export { IDLE_TIMEOUT_MARGIN_S } from "./http_app.ts";
export {
  SHUTDOWN_DEADLINE_MS,
  SHUTDOWN_GRACE_MS,
  SHUTDOWN_QUIET_MS,
} from "./shutdown.ts";

/** How long start-up waits for a shared broker before serving without it (outage mode), ms. */
export const BROKER_CONNECT_WAIT_MS = 3000;

/** Options of {@link startServer}. */
export interface StartOptions {
  /** Where log lines go. @default a logger on stdout in the config's format */
  readonly logger?: Logger;
  /**
   * The broker to feed the hub. @default a memory broker; for a Redis URL
   * use {@link launchServer}, which creates the broker first
   */
  readonly broker?: Broker;
}

/** A running server. */
export interface RunningServer extends AsyncDisposable {
  /** The port bound (useful with `port: 0`). */
  readonly port: number;
  /** The hostname bound. */
  readonly hostname: string;
  /** `ws://` (or `wss://`) URL for clients (loopback when bound to all interfaces). */
  readonly url: string;
  /** `http://` (or `https://`) URL of the dashboard; `/metrics`, `/healthz`, `/readyz`, `/publish` live beside it. */
  readonly httpUrl: string;
  /** This process's own `/metrics` (`--metrics-port`), if any. */
  readonly metricsUrl: string | undefined;
  /** The hub, for in-process inspection (tests, demo, bench). */
  readonly hub: Hub;
  /** The broker the source publishes to. */
  readonly broker: Broker;
  /** The source's statistics. */
  readonly source: SourceStats;
  /** Stops publishing, closes every client with 1001, logs the final summary. Idempotent. */
  stop(): Promise<void>;
  /** Drains (SIGTERM): refuses new subscribers, `/readyz` 503, closes the connected ones with 1012 over `--drain-ms`; resolves when none is left. */
  drain(): Promise<void>;
  /** Makes a drain in progress close everything left at once. */
  finishDrain(): void;
  /**
   * Resolves when `POST /admin/drain` has started a drain: `fanout server`
   * then waits for it ({@link drain}) and stops, as after SIGTERM.
   */
  readonly drainRequested: Promise<void>;
}

/**
 * Creates the configured broker, then starts the server on it: what
 * `fanout server` runs. Use this (not {@link startServer}) for a Redis URL.
 * @throws as {@link startServer}
 */
export async function launchServer(
  config: ServerConfig,
  options: StartOptions = {},
): Promise<RunningServer> {
  const logger = options.logger ?? createLogger(config.logging.json);
  const broker = options.broker ?? await createBroker(config, logger);
  // Serve anyway when the engine is away: /readyz says so, publishes get
  // 503, and everything resumes when it returns.
  await broker.connected(BROKER_CONNECT_WAIT_MS);
  try {
    return startServer(config, { ...options, logger, broker });
  } catch (err) {
    await broker[Symbol.asyncDispose]();
    throw err;
  }
}

/**
 * Starts listening and publishing.
 * @throws {UsageError} when a TLS file cannot be read, or `--static` is not a directory
 * @throws {Deno.errors.AddrInUse} and other listen errors
 * @throws {TypeError} for a Redis broker URL without `options.broker` (use {@link launchServer})
 */
export function startServer(
  config: ServerConfig,
  options: StartOptions = {},
): RunningServer {
  const startedAt = performance.now();
  const logger = options.logger ?? createLogger(config.logging.json);
  const tls = readTls(config.tls);
  if (!options.broker && config.broker.url !== "memory") {
    throw new TypeError(
      "Cannot start on a Redis broker synchronously: use launchServer(), which connects it first",
    );
  }
  const { staticDir: dir } = config.server;
  const staticDir = dir === undefined ? undefined : staticRoot(dir);
  const broker = options.broker ?? createMemoryBroker(config);
  const hub = new Hub({
    mode: createMode(config, logger),
    broker,
    stallTimeoutMs: config.server.stallTimeoutMs,
    maxFrameBytes: config.limits.maxFrameBytes,
    maxInboundRate: config.limits.maxInboundRate,
  });
  logLifecycle(hub, logger);
  const sourceParts = startConfiguredSource(config, hub, broker, logger);
  const { source } = sourceParts;
  let stopping: Promise<void> | undefined;
  const { adminToken } = config.auth;
  const admin = adminToken === undefined ? undefined : adminGate({
    token: adminToken,
    secure: tls !== undefined,
    reject: (label) => hub.reject(label),
  });
  const observers = startConfiguredObservers(config, hub, source, admin, {
    at: startedAt,
    accepting: () => !stopping && !http.drain.draining,
  });
  const http = startHttp({
    config,
    hub,
    publisher: source.http,
    routes: observers.routes,
    admin,
    tls,
    staticDir,
    logger,
    stopping: () => stopping !== undefined,
  });
  const housekeeping = startHousekeeping(
    hub,
    source.stats,
    logger,
    config.logging.summaryIntervalMs,
  );
  const { hostname, port, url, httpUrl, secure, sockets, listener } = http;
  const metricsListener = config.metrics.port === undefined
    ? undefined
    : listenForMetrics({
      hostname: config.server.host,
      port: config.metrics.port,
      metrics: observers.routes.get("/metrics")!,
      admin,
    });
  logListening(logger, config, {
    hostname,
    port,
    url,
    httpUrl,
    secure,
    broker: broker.kind === "memory"
      ? "memory"
      : redactedUrl(config.broker.url),
    brokerUp: broker.stats.up,
    processMetricsUrl: metricsListener?.url,
  });
  const parts = {
    ...sourceParts,
    housekeeping,
    hub,
    observers,
    sockets,
    listener,
    metricsListener,
    broker,
  };
  // The one way to stop: its phases are in shutdown.ts.
  const stop = () => stopping ??= shutdown(parts);
  return {
    port,
    hostname,
    url,
    httpUrl,
    metricsUrl: metricsListener?.url,
    hub,
    broker,
    source: source.stats,
    stop,
    drain: () => http.drain.start(config.limits.drainMs),
    finishDrain: () => http.drain.finishNow(),
    drainRequested: http.drainRequested,
    [Symbol.asyncDispose]: stop,
  };
}
