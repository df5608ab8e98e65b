/**
 * Starts a fanout server from a resolved config: listener, hub, broadcast
 * mode, publisher, housekeeping and summaries, and a graceful stop.
 *
 * @module
 */
import { NaiveBroadcaster } from "./broadcast_naive.ts";
import { QueueBroadcaster } from "./broadcast_queue.ts";
import type { Broadcaster } from "./broadcaster.ts";
import type { ServerConfig } from "./config.ts";
import { DrainWatcher } from "./drain_watcher.ts";
import { createHandler } from "./http.ts";
import { Hub } from "./hub.ts";
import { createLogger, type Logger } from "./logger.ts";
import { type PublisherStats, runPublisher } from "./publisher.ts";
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
  /** `ws://` URL for clients (loopback when bound to all interfaces). */
  readonly url: string;
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
    maxsize: config.maxsize,
    limits: {
      dropLimit: config.dropLimit,
      fullTimeoutMs: config.fullTimeout * 1000,
    },
    watcher,
    now,
  });
}

/**
 * Starts listening and publishing.
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
  const hub = new Hub({
    broadcaster: createBroadcaster(config, watcher),
    watcher,
    stallTimeoutMs: pingSeconds * 1000,
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
  }, createHandler(hub, { idleTimeoutSeconds: pingSeconds }));
  const { hostname, port } = server.addr;
  const clientHost = hostname === "0.0.0.0" || hostname === "::"
    ? "127.0.0.1"
    : hostname.includes(":")
    ? `[${hostname}]`
    : hostname;
  const url = `ws://${clientHost}:${port}/`;

  const publishing = new AbortController();
  const publisher = runPublisher((frame) => hub.broadcast(frame), {
    rate: config.rate,
    payloadBytes: config.payloadBytes,
    signal: publishing.signal,
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
      rate: config.rate,
      payload_bytes: config.payloadBytes,
    },
    `fanout server listening on ws://${hostname}:${port}/ (mode ${config.mode}, ${config.rate} msg/s, ${config.payloadBytes}-byte payloads${
      config.mode === "queue"
        ? `, queue ${config.maxsize}, drop-limit ${config.dropLimit}/10 s, full-timeout ${config.fullTimeout} s`
        : ""
    })`,
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
    hub,
    publisher: publisher.stats,
    stop,
    [Symbol.asyncDispose]: stop,
  };
}
