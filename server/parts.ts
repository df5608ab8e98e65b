/**
 * The server's parts as the config asks for them: the broadcast mode, the
 * broker, the source (with the channel it holds) and the observers. The
 * composition root (`server.ts`) wires what these return.
 *
 * @module
 */
import { DEFAULT_CHANNEL } from "../lib/protocol.ts";
import { MemoryBroker } from "./broker/broker_memory.ts";
import type { ServerConfig } from "./config/config.ts";
import type { Broker } from "./core/broker.ts";
import type { Hub } from "./core/hub.ts";
import type { Logger } from "./core/logger.ts";
import type { Mode } from "./core/mode.ts";
import type { AdminGate } from "./http/admin.ts";
import { NaiveMode } from "./modes/naive.ts";
import { QueueMode } from "./modes/queue.ts";
import { type Observers, startObservers } from "./observe/observers.ts";
import { defaultInstanceId } from "./observe/metrics.ts";
import { logTierChange } from "./observe/tier_log.ts";
import { type RunningSource, startSource } from "./sources/source.ts";

/** The broadcast mode the config asks for. */
export function createMode(config: ServerConfig, logger: Logger): Mode {
  if (config.server.mode === "naive") return new NaiveMode();
  const q = config.queueMode;
  return new QueueMode({
    ladder: q.ladder,
    channelTtlMs: config.channels.ttlMs,
    lagIntervalMs: q.lagIntervalMs,
    onTierChange: (session, change) => logTierChange(logger, session, change),
    queue: { maxsize: q.maxsize, maxBytes: q.maxQueueBytes, policy: q.policy },
    limits: {
      dropLimit: q.dropLimit,
      fullTimeoutMs: q.fullTimeoutMs,
      maxLagMs: q.maxLagMs,
    },
    batchMs: q.batchMs,
  });
}

/** The memory broker with the config's history and channel limit. */
export function createMemoryBroker(config: ServerConfig): MemoryBroker {
  const { history, maxChannels, idempotencyWindowS } = config.channels;
  return new MemoryBroker({ history, maxChannels, idempotencyWindowS });
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
  if (config.broker.url === "memory") return createMemoryBroker(config);
  const { history, maxChannels } = config.channels;
  const { RedisBroker } = await import("./broker/broker_redis.ts");
  const where = redactedUrl(config.broker.url);
  return new RedisBroker({
    url: config.broker.url,
    timeoutMs: config.broker.timeoutMs,
    history,
    maxChannels,
    catchUp: config.queueMode.maxsize,
    idempotencyWindowS: config.channels.idempotencyWindowS,
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
export function redactedUrl(url: string): string {
  // A Sentinel URL lists several hosts: not a WHATWG URL.
  if (url.startsWith("redis+sentinel:")) {
    return url.replace(/:[^:@/]*@/, ":***@");
  }
  const u = new URL(url);
  if (u.password) u.password = "***";
  return u.href;
}

/** The configured source, running, with what stops it. */
export interface SourceParts {
  /** The running source. */
  readonly source: RunningSource;
  /** Aborting it stops the source. */
  readonly publishing: AbortController;
  /** Gives back the channel the source holds (none for `--source http`). */
  readonly releaseSourceChannel: (() => void) | undefined;
}

/**
 * Starts the configured source on `broker`. The channel it publishes to
 * keeps its place in the hub: subscribers filling `--max-channels` must
 * never stop the source.
 */
export function startConfiguredSource(
  config: ServerConfig,
  hub: Hub,
  broker: Broker,
  logger: Logger,
): SourceParts {
  const releaseSourceChannel = config.server.source === "http"
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
  return { source, publishing, releaseSourceChannel };
}

/** Starts metrics, health and the dashboard feed for the configured server. */
export function startConfiguredObservers(
  config: ServerConfig,
  hub: Hub,
  source: RunningSource,
  admin: AdminGate | undefined,
  started: { readonly at: number; readonly accepting: () => boolean },
): Observers {
  // Named once, so /metrics and the dashboard say the same process.
  const instanceId = config.metrics.instanceId ?? defaultInstanceId();
  return startObservers({
    hub,
    source: source.stats,
    startedAt: started.at,
    state: () => ({ accepting: started.accepting() }),
    metricsPerClient: config.metrics.perClient,
    instanceId,
    labelEverySeries: config.metrics.labelEverySeries,
    info: {
      rate: config.server.rate,
      payloadBytes: config.server.payloadBytes,
      maxsize: config.queueMode.maxsize,
      dropLimit: config.queueMode.dropLimit,
      fullTimeout: config.queueMode.fullTimeoutMs / 1000,
      instance: instanceId,
    },
    maxDashboards: config.limits.maxDashboards,
    detailFor: admin ? (req) => admin.allows(req) : undefined,
    reject: (label) => hub.reject(label),
  });
}
