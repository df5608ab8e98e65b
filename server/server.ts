/**
 * The composition root: starts a fanout server from a resolved config by
 * wiring its parts — broker, mode, hub, source, HTTP endpoints, observers —
 * and stops them in order. Nothing here decides anything the config did not.
 *
 * @module
 */
import { DEFAULT_CHANNEL } from "../lib/protocol.ts";
import type { Broker } from "./core/broker.ts";
import type { ServerConfig } from "./config/config.ts";
import { Hub } from "./core/hub.ts";
import { createLogger, type Logger } from "./core/logger.ts";
import type { Mode } from "./core/mode.ts";
import { MemoryBroker } from "./broker/broker_memory.ts";
import { SubscriberAuth } from "./http/auth.ts";
import { adminGate } from "./http/admin.ts";
import { AdmissionSlots } from "./http/admission.ts";
import { CLIENT_SCRIPT_PATH, clientScript } from "./http/client_script.ts";
import { createPublishHandler } from "./http/publish.ts";
import { listen } from "./http/listener.ts";
import { ConnectRate } from "./http/connect_rate.ts";
import { ReplayBudget } from "./core/replay_budget.ts";
import { Drain } from "./http/drain.ts";
import { ReconnectPacer } from "./http/reconnect_pacer.ts";
import { createRouter } from "./http/router.ts";
import { createSseHandler } from "./http/sse.ts";
import { createStaticHandler, staticRoot } from "./http/static_files.ts";
import { onServeError } from "./http/serve_error.ts";
import { createSubscribeHandler, OpenSockets } from "./http/subscribe.ts";
import { readTls } from "./http/tls.ts";
import { NaiveMode } from "./modes/naive.ts";
import { QueueMode } from "./modes/queue.ts";
import { logLifecycle, logListening } from "./observe/lifecycle_log.ts";
import { startObservers } from "./observe/observers.ts";
import { SummaryReporter } from "./observe/summary.ts";
import { startSource } from "./sources/source.ts";
import { sourceLag, type SourceStats } from "./sources/source_stats.ts";

/** How often the slow-client policy and stall check run, ms. */
export const HOUSEKEEPING_MS = 250;
/** How long a graceful stop waits for sockets to finish closing, ms. */
export const SHUTDOWN_DEADLINE_MS = 3000;
/** How long start-up waits for a shared broker before serving without it (outage mode), ms. */
export const BROKER_CONNECT_WAIT_MS = 3000;
/**
 * After publishing stops, how long clients get to take what is queued for
 * them before they are closed, ms at most: a client that ACKs must not
 * have ACKs in flight when its close arrives (Deno drops a connection that
 * receives data while closing, and the peer sees 1006).
 */
export const SHUTDOWN_GRACE_MS = 500;
/** Once nothing waits for any client, how long ACKs in flight get to arrive, ms. */
export const SHUTDOWN_QUIET_MS = 50;
/**
 * Deno's own ping timer (idleTimeout) runs this much longer than the stall
 * check, seconds, so a client that stops reading is closed by the stall
 * check with 4002 first.
 */
export const IDLE_TIMEOUT_MARGIN_S = 2;

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
}

/** The broadcast mode the config asks for. */
function createMode(config: ServerConfig): Mode {
  if (config.server.mode === "naive") return new NaiveMode();
  const q = config.queueMode;
  return new QueueMode({
    queue: { maxsize: q.maxsize, maxBytes: q.maxQueueBytes, policy: q.policy },
    limits: {
      dropLimit: q.dropLimit,
      fullTimeoutMs: q.fullTimeoutMs,
      maxLagMs: q.maxLagMs,
    },
    batchMs: q.batchMs,
  });
}

/**
 * Creates the broker `config.broker.url` names: the memory broker, or a
 * Redis broker (its client library is loaded only then). The Redis broker
 * connects in the background and says when it goes down or comes back.
 */
export async function createBroker(
  config: ServerConfig,
  logger: Logger,
): Promise<Broker> {
  const { history, maxChannels } = config.channels;
  if (config.broker.url === "memory") {
    return new MemoryBroker({ history, maxChannels });
  }
  const { RedisBroker } = await import("./broker/broker_redis.ts");
  const where = redactedUrl(config.broker.url);
  return new RedisBroker({
    url: config.broker.url,
    history,
    maxChannels,
    onStateChange: (up, reason) =>
      logger.log(
        { type: up ? "broker_up" : "broker_down", broker: where, reason },
        up
          ? `[broker] ${where} reachable again: repairing followed channels`
          : `[broker] ${where} unreachable (${reason}): publishing paused, clients stay connected`,
      ),
  });
}

/** A broker URL without its password, for logs. */
function redactedUrl(url: string): string {
  const u = new URL(url);
  if (u.password) u.password = "***";
  return u.href;
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
 * @throws {Deno.errors.AddrInUse} and other listen errors, before anything runs
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
  const staticDir = config.server.staticDir === undefined
    ? undefined
    : staticRoot(config.server.staticDir);
  const broker = options.broker ?? new MemoryBroker({
    history: config.channels.history,
    maxChannels: config.channels.maxChannels,
  });
  const hub = new Hub({
    mode: createMode(config),
    broker,
    stallTimeoutMs: config.server.stallTimeoutMs,
    maxFrameBytes: config.limits.maxFrameBytes,
    maxInboundRate: config.limits.maxInboundRate,
  });
  logLifecycle(hub, logger);
  // The channel the source publishes to keeps its place: subscribers
  // filling --max-channels must never stop the source.
  const sourceChannel = config.server.source === "http"
    ? undefined
    : hub.holdChannel(DEFAULT_CHANNEL);

  const publishing = new AbortController();
  const source = startSource(broker, {
    kind: config.server.source,
    rate: config.server.rate,
    payloadBytes: config.server.payloadBytes,
    maxMessageBytes: config.limits.maxMessageBytes,
    conflateKey: config.queueMode.conflateKey,
    signal: publishing.signal,
    logger,
    shed: config.server.mode === "queue",
  });
  let stopping: Promise<void> | undefined;
  const drain = new Drain(hub);
  const admin = config.auth.adminToken === undefined ? undefined : adminGate({
    token: config.auth.adminToken,
    secure: tls !== undefined,
    reject: (label) => hub.reject(label),
  });
  const observers = startObservers({
    hub,
    source: source.stats,
    startedAt,
    state: () => ({ accepting: !stopping && !drain.draining }),
    metricsPerClient: config.metrics.perClient,
    info: {
      rate: config.server.rate,
      payloadBytes: config.server.payloadBytes,
      maxsize: config.queueMode.maxsize,
      dropLimit: config.queueMode.dropLimit,
      fullTimeout: config.queueMode.fullTimeoutMs / 1000,
    },
    maxDashboards: config.limits.maxDashboards,
    detailFor: admin ? (req) => admin.allows(req) : undefined,
    reject: (label) => hub.reject(label),
  });
  const sockets = new OpenSockets();
  // One count of clients being admitted, over WebSocket and SSE alike.
  const slots = new AdmissionSlots();
  const stallSeconds = config.server.stallTimeoutMs / 1000;
  const auth = SubscriberAuth.create({
    token: config.auth.token,
    jwtSecret: config.auth.jwtSecret,
    maxLifetimeSeconds: config.auth.jwtMaxLifetimeSeconds,
  });
  const subscribe = createSubscribeHandler(hub, {
    idleTimeoutSeconds: stallSeconds > 0
      ? stallSeconds + IDLE_TIMEOUT_MARGIN_S
      : 0,
    auth,
    limits: config.limits,
    openTimeoutMs: config.limits.handshakeTimeoutMs,
    sockets,
    slots,
    revealCounts: admin === undefined,
    drain,
    ...(config.limits.replayBudget > 0
      ? {
        replayBudget: new ReplayBudget({ perSec: config.limits.replayBudget }),
      }
      : {}),
    ...(config.limits.maxConnectRate > 0
      ? {
        connectRate: new ConnectRate({ perSec: config.limits.maxConnectRate }),
        // Hints spread the clients a node closes at the rate it admits.
        pacer: new ReconnectPacer({ ratePerSec: config.limits.maxConnectRate }),
      }
      : {}),
    sse: createSseHandler(hub, { auth, limits: config.limits, slots }),
    publish: config.server.source === "http"
      ? createPublishHandler(broker, {
        publishToken: config.auth.publishToken!,
        maxBodyBytes: config.limits.maxMessageBytes,
        conflateKey: config.queueMode.conflateKey,
        stats: source.stats,
        reject: (label) => hub.reject(label),
        bodyTimeoutMs: config.limits.handshakeTimeoutMs,
      })
      : undefined,
  });
  const routes = new Map([
    ...observers.routes,
    [CLIENT_SCRIPT_PATH, clientScript],
  ]);
  const handler = createRouter({
    subscribe: staticDir === undefined
      ? subscribe
      : createStaticHandler(staticDir, subscribe),
    routes,
    admin,
  });
  const server = listen({
    hostname: config.server.host,
    port: config.server.port,
    reusePort: config.server.reusePort,
    tls,
    handshakeTimeoutMs: config.limits.handshakeTimeoutMs,
    maxPending: config.limits.maxPending,
    ...(config.server.listener === "serve" ? { serveHttp: null } : {}),
    reject: (label) => hub.reject(label),
    onError: onServeError(logger),
    logger,
  }, handler);
  const { hostname, port } = server.addr;
  const clientHost = hostname === "0.0.0.0" || hostname === "::"
    ? "127.0.0.1"
    : hostname.includes(":")
    ? `[${hostname}]`
    : hostname;
  const secure = tls ? "s" : "";
  const url = `ws${secure}://${clientHost}:${port}/`;
  const httpUrl = `http${secure}://${clientHost}:${port}/`;

  const summary = new SummaryReporter(hub, source.stats, logger);
  // Housekeeping measures how late its own timer runs (the event loop's
  // lag) and how far the source is behind: the hub's overload signals.
  let lastTick = performance.now();
  const housekeeping = setInterval(() => {
    const now = performance.now();
    const loopLagMs = Math.max(0, now - lastTick - HOUSEKEEPING_MS);
    lastTick = now;
    hub.tick({ loopLagMs, sourceLagMs: sourceLag(source.stats, now).lagMs });
  }, HOUSEKEEPING_MS);
  const summaries = setInterval(
    () => summary.report(),
    config.logging.summaryIntervalMs,
  );
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
  });

  const stop = () =>
    stopping ??= (async () => {
      publishing.abort();
      clearInterval(housekeeping);
      clearInterval(summaries);
      // Let clients take what is queued and ACK it, then close them.
      await drained(hub, SHUTDOWN_GRACE_MS);
      await sleep(SHUTDOWN_QUIET_MS);
      hub.closeAll("shutdown", "server shutting down");
      sourceChannel?.();
      await source.done;
      summary.reportFinal();
      observers.close();
      let timer: ReturnType<typeof setTimeout> | undefined;
      const deadline = new Promise<void>((resolve) => {
        timer = setTimeout(resolve, SHUTDOWN_DEADLINE_MS);
      });
      // Wait for the close handshakes (not for peers that stopped reading).
      await Promise.race([
        Promise.all([sockets.closed(SHUTDOWN_DEADLINE_MS), server.shutdown()]),
        deadline,
      ]);
      clearTimeout(timer);
      await broker[Symbol.asyncDispose]();
    })();

  return {
    port,
    hostname,
    url,
    httpUrl,
    hub,
    broker,
    source: source.stats,
    stop,
    drain: () => drain.start(config.limits.drainMs),
    finishDrain: () => drain.finishNow(),
    [Symbol.asyncDispose]: stop,
  };
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/** Resolves once no message waits for any client (queues and socket buffers empty), or after `ms`. */
async function drained(hub: Hub, ms: number): Promise<void> {
  const end = performance.now() + ms;
  while (performance.now() < end) {
    const { queued, bufferedBytes } = hub.backlog();
    if (queued === 0 && bufferedBytes === 0) return;
    await sleep(10);
  }
}
