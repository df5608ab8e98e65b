/**
 * The configuration the server runs on, resolved once: options (defaults <
 * YAML < flags) become one frozen config whose sections mirror the YAML
 * file, with every effective value decided here — times in ms, "0 means no
 * limit" turned into `Infinity`, derived limits computed. Downstream code
 * reads only this and never re-defaults anything.
 *
 * @module
 */
import type { SlowPolicy } from "../modes/client_queue.ts";
import type { SourceKind } from "../sources/source_stats.ts";
import {
  type BroadcastMode,
  channelTtls,
  type ListenerKind,
  resolveServerOptions,
  type ServerOptions,
} from "./options.ts";

/** `server:`: where to listen, what to publish, how to ping. */
export interface ServerSection {
  /** Interface to listen on. */
  readonly host: string;
  /** Who accepts connections. */
  readonly listener: ListenerKind;
  /** TCP port; 0 picks a free one. */
  readonly port: number;
  /** Broadcast mode. */
  readonly mode: BroadcastMode;
  /** Where published messages come from. */
  readonly source: SourceKind;
  /** Synthetic messages per second. */
  readonly rate: number;
  /** Share the port with other processes on this host (SO_REUSEPORT). */
  readonly reusePort: boolean;
  /** Random payload bytes per synthetic message. */
  readonly payloadBytes: number;
  /**
   * How long a client may go without answering a ping, or without reading
   * anything waiting for it, before it is closed, ms (`--ping-interval` +
   * `--ping-timeout`); 0 when pings are off.
   */
  readonly stallTimeoutMs: number;
  /** Directory whose files are served over HTTP (`--static`), if any. */
  readonly staticDir: string | undefined;
}

/** `queue_mode:`: each client's queue and when a slow client is cut. */
export interface QueueModeSection {
  /** Messages a client's queue holds. */
  readonly maxsize: number;
  /** Bytes a client's queue holds; `Infinity` when unbounded (YAML/flag 0). */
  readonly maxQueueBytes: number;
  /** What a full queue does with the next message. */
  readonly policy: SlowPolicy;
  /** JSON field to conflate on (`conflate` policy; `ladder`'s conflated tiers). */
  readonly conflateKey: string | undefined;
  /** The ladder's thresholds (`--policy ladder`). */
  readonly ladder: {
    downMsgs: number;
    downMs: number;
    upMs: number;
    ackWindow: { frames: number; bytes: number };
  };
  /** Drops within the drop window that disconnect a client. */
  readonly dropLimit: number;
  /** How long a queue may stay full, ms. */
  readonly fullTimeoutMs: number;
  /** Batch tick for `?batch=1` clients, ms. */
  readonly batchMs: number;
  /** Between `lag` frames to control clients, ms; 0 when off. */
  readonly lagIntervalMs: number;
  /** How far behind a client may fall, ms (the age of the oldest message it has not taken); `Infinity` when off. */
  readonly maxLagMs: number;
}

/** `channels:`: history and how many. */
export interface ChannelsSection {
  /** Messages kept per channel for `?since=` replay (0 keeps none). */
  readonly history: number;
  /** Channels that may exist at once. */
  readonly maxChannels: number;
  /** Default time to live per channel, ms (`--channel-ttl`). */
  readonly ttlMs: ReadonlyMap<string, number>;
  /** How long a publish's `Idempotency-Key` is remembered, seconds. */
  readonly idempotencyWindowS: number;
}

/** `auth:`: who may subscribe and publish. */
export interface AuthSection {
  /** Static subscriber token. */
  readonly token: string | undefined;
  /** HS256 secret for subscriber JWTs. */
  readonly jwtSecret: string | undefined;
  /** Token `POST /publish` requires. */
  readonly publishToken: string | undefined;
  /** Token the dashboard, `/events` and `/metrics` require; undefined leaves them open. */
  readonly adminToken: string | undefined;
  /** Longest JWT lifetime accepted, seconds. */
  readonly jwtMaxLifetimeSeconds: number;
}

/** `limits:`: what a client or publisher may cost. */
export interface LimitsSection {
  /** Subscribers at once. */
  readonly maxClients: number;
  /** Largest frame a client may send, bytes. */
  readonly maxFrameBytes: number;
  /** Client frames per second before throttling (the effective value: twice `rate` + 100 when the option is 0). */
  readonly maxInboundRate: number;
  /** Largest published message, bytes. */
  readonly maxMessageBytes: number;
  /** Browser origins allowed to subscribe; empty allows any. */
  readonly allowedOrigins: readonly string[];
  /** How long a connection may take to complete its request (and TLS handshake), ms. */
  readonly handshakeTimeoutMs: number;
  /** Connections waiting for their request at once. */
  readonly maxPending: number;
  /** `?since=` replays in progress at once. */
  readonly maxReplays: number;
  /** Dashboard streams at once. */
  readonly maxDashboards: number;
  /** New subscriber connections per second; 0 = no limit. */
  readonly maxConnectRate: number;
  /** How long a drain spreads its closes over, ms. */
  readonly drainMs: number;
  /** Replayed messages per second shared by resuming clients; 0 = no limit. */
  readonly replayBudget: number;
}

/** `tls:`: the certificate files, when serving wss:// and https://. */
export interface TlsSection {
  /** PEM certificate file. */
  readonly certFile: string;
  /** PEM private key file. */
  readonly keyFile: string;
}

/** `logging:`: how and how often. */
export interface LoggingSection {
  /** One JSON object per line. */
  readonly json: boolean;
  /** Time between summary lines, ms. */
  readonly summaryIntervalMs: number;
}

/** `metrics:`: what `/metrics` exports, and where. */
export interface MetricsSection {
  /** Add one series per client. */
  readonly perClient: boolean;
  /** This process's name (`--instance-id`); undefined: HOSTNAME:PID, decided at start. */
  readonly instanceId: string | undefined;
  /** Label every series with `instance_id` (given `--instance-id`, or `--reuse-port`). */
  readonly labelEverySeries: boolean;
  /** A port serving this process's `/metrics` alone (`--metrics-port`); undefined: none. */
  readonly port: number | undefined;
}

/** `broker:`: the engine that orders each channel's messages. */
export interface BrokerSection {
  /** `memory`, or the Redis URL every node shares. */
  readonly url: string;
  /** A command with no reply this long is an outage, ms. */
  readonly timeoutMs: number;
}

/** The complete, frozen configuration: all the server sees. */
export interface ServerConfig {
  /** `server:` */
  readonly server: ServerSection;
  /** `queue_mode:` */
  readonly queueMode: QueueModeSection;
  /** `channels:` */
  readonly channels: ChannelsSection;
  /** `auth:` */
  readonly auth: AuthSection;
  /** `limits:` */
  readonly limits: LimitsSection;
  /** `tls:`, or undefined for plain ws:// and http:// */
  readonly tls: TlsSection | undefined;
  /** `logging:` */
  readonly logging: LoggingSection;
  /** `metrics:` */
  readonly metrics: MetricsSection;
  /** `broker:` */
  readonly broker: BrokerSection;
  /** The `--config` file used, if any. */
  readonly configPath: string | undefined;
}

/** The effective inbound limit: the option, or twice `rate` plus 100 when it is 0. */
function inboundRate(o: ServerOptions): number {
  return o.maxInboundRate > 0 ? o.maxInboundRate : 2 * o.rate + 100;
}

/**
 * Resolves options into the config the server runs on.
 *
 * @param partial options to override the defaults (validated like flags)
 * @returns the frozen, sectioned config
 * @throws {UsageError} naming the option when a value is bad
 * @example
 * ```ts
 * import { resolveServerConfig } from "./config.ts";
 * const config = resolveServerConfig({ fullTimeout: 2.5, pingInterval: 0 });
 * if (config.queueMode.fullTimeoutMs !== 2500) throw new Error("ms");
 * if (config.server.stallTimeoutMs !== 0) throw new Error("pings off: no stall check");
 * if (config.queueMode.maxQueueBytes !== Infinity) throw new Error("0 = no bound");
 * ```
 */
export function resolveServerConfig(
  partial: Partial<ServerOptions> = {},
): ServerConfig {
  return configOf(resolveServerOptions(partial));
}

/** The sectioned config of already resolved `options`. */
export function configOf(o: ServerOptions): ServerConfig {
  const freeze = Object.freeze;
  return freeze({
    server: freeze({
      host: o.host,
      listener: o.listener,
      port: o.port,
      mode: o.mode,
      source: o.source,
      rate: o.rate,
      reusePort: o.reusePort,
      payloadBytes: o.payloadBytes,
      stallTimeoutMs: o.pingInterval > 0
        ? (o.pingInterval + o.pingTimeout) * 1000
        : 0,
      staticDir: o.staticDir,
    }),
    queueMode: freeze({
      maxsize: o.maxsize,
      maxQueueBytes: o.maxQueueBytes > 0 ? o.maxQueueBytes : Infinity,
      policy: o.policy,
      conflateKey: o.conflateKey,
      ladder: freeze({
        downMsgs: o.ladderDownMsgs,
        downMs: o.ladderDownMs,
        upMs: o.ladderUpMs,
        ackWindow: freeze({
          frames: o.ladderAckWindow,
          bytes: o.ladderAckWindowBytes,
        }),
      }),
      dropLimit: o.dropLimit,
      fullTimeoutMs: o.fullTimeout * 1000,
      batchMs: o.batchMs,
      lagIntervalMs: o.lagInterval * 1000,
      maxLagMs: o.maxLag > 0 ? o.maxLag * 1000 : Infinity,
    }),
    channels: freeze({
      history: o.history,
      maxChannels: o.maxChannels,
      ttlMs: channelTtls(o.channelTtl),
      idempotencyWindowS: o.idempotencyWindow,
    }),
    auth: freeze({
      token: o.token,
      jwtSecret: o.jwtSecret,
      publishToken: o.publishToken,
      adminToken: o.adminToken,
      jwtMaxLifetimeSeconds: o.jwtMaxLifetime,
    }),
    limits: freeze({
      maxClients: o.maxClients,
      maxFrameBytes: o.maxFrameBytes,
      maxInboundRate: inboundRate(o),
      maxMessageBytes: o.maxMessageBytes,
      allowedOrigins: o.allowedOrigins,
      handshakeTimeoutMs: o.handshakeTimeout * 1000,
      maxPending: o.maxPending,
      maxReplays: o.maxReplays,
      maxDashboards: o.maxDashboards,
      maxConnectRate: o.maxConnectRate,
      drainMs: o.drainMs,
      replayBudget: o.replayBudget,
    }),
    tls: o.cert !== undefined && o.key !== undefined
      ? freeze({ certFile: o.cert, keyFile: o.key })
      : undefined,
    logging: freeze({
      json: o.logJson,
      summaryIntervalMs: o.summaryInterval * 1000,
    }),
    metrics: freeze({
      perClient: o.metricsPerClient,
      instanceId: o.instanceId,
      labelEverySeries: o.instanceId !== undefined || o.reusePort,
      port: o.metricsPort,
    }),
    broker: freeze({ url: o.broker, timeoutMs: o.brokerTimeoutMs }),
    configPath: o.configPath,
  });
}
