/**
 * Starts a fanout server from a resolved config: listener, hub, broadcast
 * mode, publisher, housekeeping and summaries, and a graceful stop.
 *
 * @module
 */
import { UsageError } from "../lib/cli_args.ts";
import { DEFAULT_CHANNEL } from "../lib/protocol.ts";
import { SubscriberAuth } from "./auth.ts";
import { NaiveBroadcaster } from "./broadcast_naive.ts";
import { QueueBroadcaster } from "./broadcast_queue.ts";
import type { Broadcaster } from "./broadcaster.ts";
import type { ServerConfig } from "./config.ts";
import { DrainWatcher } from "./drain_watcher.ts";
import { createHandler } from "./http.ts";
import { Hub } from "./hub.ts";
import { createLogger, type Logger } from "./logger.ts";
import { type Observers, startObservers } from "./observe.ts";
import { PublisherStats, runPublisher } from "./publisher.ts";
import { createPublishHandler } from "./source_http.ts";
import { runStdinSource } from "./source_stdin.ts";
import { SummaryReporter } from "./summary.ts";

/** How often the slow-client policy and stall check run, ms. */
export const HOUSEKEEPING_MS = 250;
/** How long a graceful stop waits for sockets to finish closing, ms. */
export const SHUTDOWN_DEADLINE_MS = 3000;

/** Options of {@link startServer}. */
export interface StartOptions {
  /** Where log lines go. @default a logger on stdout in the config's format */
  readonly logger?: Logger;
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
  /** The hub, for in-process inspection (tests, demo). */
  readonly hub: Hub;
  /** The publisher's statistics. */
  readonly publisher: PublisherStats;
  /** Stops publishing, closes every client with 1001, logs the final summary. Idempotent. */
  stop(): Promise<void>;
}

function createBroadcaster(
  config: ServerConfig,
  watcher: DrainWatcher,
): Broadcaster {
  const now = () => performance.now();
  if (config.mode === "naive") return new NaiveBroadcaster(watcher, now);
  return new QueueBroadcaster({
    queue: {
      maxsize: config.maxsize,
      maxBytes: config.maxQueueBytes > 0 ? config.maxQueueBytes : Infinity,
      policy: config.policy,
    },
    limits: {
      dropLimit: config.dropLimit,
      fullTimeoutMs: config.fullTimeout * 1000,
    },
    watcher,
    now,
    batchMs: config.batchMs,
  });
}

/** The effective inbound limit: `--max-inbound-rate`, or twice `--rate` plus 100 when 0. */
export function inboundRate(config: ServerConfig): number {
  return config.maxInboundRate > 0
    ? config.maxInboundRate
    : 2 * config.rate + 100;
}

/** Reads the TLS files, or says which one cannot be read. @throws {UsageError} */
function readTls(
  config: ServerConfig,
): { cert: string; key: string } | undefined {
  if (config.cert === undefined || config.key === undefined) return undefined;
  const read = (flag: string, path: string) => {
    try {
      return Deno.readTextFileSync(path);
    } catch (err) {
      throw new UsageError(
        `${flag} ${path}: cannot read file (${
          (err as Error).message.split(":")[0]
        })`,
      );
    }
  };
  return { cert: read("--cert", config.cert), key: read("--key", config.key) };
}

/**
 * Starts listening and publishing.
 * @throws {UsageError} when a TLS file cannot be read
 * @throws {Deno.errors.AddrInUse} and other listen errors, before anything runs
 */
export function startServer(
  config: ServerConfig,
  options: StartOptions = {},
): RunningServer {
  const logger = options.logger ?? createLogger(config.logJson);
  const watcher = new DrainWatcher();
  const pingSeconds = config.pingInterval > 0
    ? config.pingInterval + config.pingTimeout
    : 0;
  const tls = readTls(config);
  const hub = new Hub({
    broadcaster: createBroadcaster(config, watcher),
    watcher,
    stallTimeoutMs: pingSeconds * 1000,
    history: config.history,
    maxChannels: config.maxChannels,
    maxFrameBytes: config.maxFrameBytes,
    maxInboundRate: inboundRate(config),
  });
  hub.on((e) => {
    if (e.type === "connect") {
      logger.log(
        {
          type: "connect",
          id: e.session.id,
          remote: e.session.remote,
          clients: hub.sessions.size,
        },
        `[connect] ${e.session.id} ${e.session.remote} (clients ${hub.sessions.size})`,
      );
    } else {
      const { code, reason, detail } = e.end;
      logger.log(
        {
          type: "disconnect",
          id: e.session.id,
          remote: e.session.remote,
          code,
          reason,
          detail,
          drops_total: e.session.stats.drops,
          clients: hub.sessions.size,
        },
        `[disconnect] ${e.session.id} ${e.session.remote} ${code} ${reason}: ${detail} (clients ${hub.sessions.size})`,
      );
    }
  });

  const server = Deno.serve({
    hostname: config.host,
    port: config.port,
    onListen() {},
    ...(tls ?? {}),
  }, (req, info) => observers.handler(req, info));
  const { hostname, port } = server.addr;
  const clientHost = hostname === "0.0.0.0" || hostname === "::"
    ? "127.0.0.1"
    : hostname.includes(":")
    ? `[${hostname}]`
    : hostname;
  const secure = tls ? "s" : "";
  const url = `ws${secure}://${clientHost}:${port}/`;
  const httpUrl = `http${secure}://${clientHost}:${port}/`;

  const publishing = new AbortController();
  const publisher = startSource(config, hub, publishing.signal, logger);
  let publishingNow = true;
  publisher.done.then(() => publishingNow = false, () => publishingNow = false);
  // Requests are handled only after startServer returns, so the handler
  // given to Deno.serve above never runs before this is set.
  const observers: Observers = startObservers({
    config,
    hub,
    publisher: publisher.stats,
    state: () => ({ accepting: !stopping, publishing: publishingNow }),
    subscribe: createHandler(hub, {
      idleTimeoutSeconds: pingSeconds,
      auth: SubscriberAuth.create({
        token: config.token,
        jwtSecret: config.jwtSecret,
      }),
      limits: {
        allowedOrigins: config.allowedOrigins,
        maxClients: config.maxClients,
      },
      publish: config.source === "http"
        ? createPublishHandler(hub, {
          publishToken: config.publishToken!,
          maxBodyBytes: config.maxMessageBytes,
          conflateKey: config.conflateKey,
          stats: publisher.stats,
        })
        : undefined,
    }),
  });
  const summary = new SummaryReporter(hub, publisher.stats, logger);
  const housekeeping = setInterval(() => hub.tick(), HOUSEKEEPING_MS);
  const summaries = setInterval(
    () => summary.report(),
    config.summaryInterval * 1000,
  );
  const startedAt = performance.now();
  logger.log(
    {
      type: "listening",
      url,
      host: hostname,
      port,
      mode: config.mode,
      source: config.source,
      policy: config.policy,
      rate: config.rate,
      payload_bytes: config.payloadBytes,
      dashboard: httpUrl,
      metrics: `${httpUrl}metrics`,
    },
    `fanout server listening on ws${secure}://${hostname}:${port}/ (mode ${config.mode}, ${
      config.source === "synthetic"
        ? `${config.rate} msg/s, ${config.payloadBytes}-byte payloads`
        : `source ${config.source}`
    }${
      config.mode === "queue"
        ? `, queue ${config.maxsize} ${config.policy}, drop-limit ${config.dropLimit}/10 s, full-timeout ${config.fullTimeout} s`
        : ""
    }${
      config.history > 0 ? `, history ${config.history}` : ""
    })\n  dashboard ${httpUrl} · metrics ${httpUrl}metrics · health ${httpUrl}healthz ${httpUrl}readyz`,
  );

  let stopping: Promise<void> | undefined;
  const stop = () =>
    stopping ??= (async () => {
      publishing.abort();
      clearInterval(housekeeping);
      clearInterval(summaries);
      hub.closeAll("shutdown", "server shutting down");
      await publisher.done;
      summary.reportFinal((performance.now() - startedAt) / 1000);
      observers.close();
      let timer: ReturnType<typeof setTimeout> | undefined;
      const deadline = new Promise<void>((resolve) => {
        timer = setTimeout(resolve, SHUTDOWN_DEADLINE_MS);
      });
      await Promise.race([server.shutdown(), deadline]);
      clearTimeout(timer);
    })();

  return {
    port,
    hostname,
    url,
    httpUrl,
    hub,
    publisher: publisher.stats,
    stop,
    [Symbol.asyncDispose]: stop,
  };
}

/** Starts the configured source; its stats count what it published. */
function startSource(
  config: ServerConfig,
  hub: Hub,
  signal: AbortSignal,
  logger: Logger,
): { stats: PublisherStats; done: Promise<void> } {
  if (config.source === "synthetic") {
    return runPublisher((body) => hub.publish(DEFAULT_CHANNEL, body).done, {
      rate: config.rate,
      payloadBytes: config.payloadBytes,
      signal,
    });
  }
  const stats = new PublisherStats();
  if (config.source === "http") {
    // Publishing happens in request handlers; "publishing" lasts until stop.
    const done = new Promise<void>((resolve) =>
      signal.addEventListener("abort", () => resolve())
    );
    return { stats, done };
  }
  const done = runStdinSource(hub, {
    maxMessageBytes: config.maxMessageBytes,
    conflateKey: config.conflateKey,
    signal,
    logger,
    stats,
  }).then(() => {});
  return { stats, done };
}
