/**
 * Lifecycle logging: the `listening` line, then one line per connect and per
 * disconnect, as a hub subscriber like the summary (nothing in the hub knows
 * how it is logged).
 *
 * @module
 */
import { DROP_WINDOW_MS } from "../../lib/close_codes.ts";
import type { ServerConfig } from "../config/config.ts";
import type { Hub } from "../core/hub.ts";
import { type Logger, printable } from "../core/logger.ts";

/** Logs every connect and disconnect of `hub` to `logger`. */
export function logLifecycle(hub: Hub, logger: Logger): void {
  hub.on((e) => {
    const s = e.subscriber;
    if (e.type === "connect") {
      logger.log(
        { type: "connect", id: s.id, remote: s.remote, clients: hub.size },
        `[connect] ${s.id} ${s.remote} (clients ${hub.size})`,
      );
      return;
    }
    const { code, reason, detail } = e.end;
    logger.log(
      {
        type: "disconnect",
        id: s.id,
        remote: s.remote,
        code,
        reason,
        detail,
        drops_total: s.drops,
        clients: hub.size,
      },
      `[disconnect] ${s.id} ${s.remote} ${code} ${reason}: ${
        printable(detail)
      } (clients ${hub.size})`,
    );
  });
}

/** Where the server listens, as {@link logListening} reports it. */
export interface ListeningAddress {
  /** The hostname bound. */
  readonly hostname: string;
  /** The port bound. */
  readonly port: number;
  /** The subscriber URL. */
  readonly url: string;
  /** The dashboard URL. */
  readonly httpUrl: string;
  /** `"s"` with TLS, `""` without. */
  readonly secure: string;
  /** The broker: `memory`, or its URL without a password. */
  readonly broker: string;
  /** This process's own `/metrics` (`--metrics-port`), if any. */
  readonly processMetricsUrl?: string | undefined;
  /** Whether the broker was reachable when the server started listening. */
  readonly brokerUp: boolean;
}

/** Logs the one `listening` line: where, and what the server runs. */
export function logListening(
  logger: Logger,
  config: ServerConfig,
  at: ListeningAddress,
): void {
  const { server, queueMode: q, channels } = config;
  const { hostname, port, httpUrl, secure } = at;
  logger.log(
    {
      type: "listening",
      url: at.url,
      host: hostname,
      port,
      mode: server.mode,
      source: server.source,
      policy: q.policy,
      rate: server.rate,
      payload_bytes: server.payloadBytes,
      dashboard: httpUrl,
      metrics: `${httpUrl}metrics`,
      ...(at.processMetricsUrl === undefined
        ? {}
        : { process_metrics: at.processMetricsUrl }),
      broker: at.broker,
      broker_up: at.brokerUp,
      sdk: `${httpUrl}client.js`,
      sse: `${httpUrl}sse`,
      ...(server.staticDir === undefined
        ? {}
        : { static_dir: server.staticDir }),
    },
    `fanout server listening on ws${secure}://${hostname}:${port}/ (mode ${server.mode}, ${
      server.source === "synthetic"
        ? `${server.rate} msg/s, ${server.payloadBytes}-byte payloads`
        : `source ${server.source}`
    }${
      server.mode === "queue"
        ? `, queue ${q.maxsize} ${q.policy}, drop-limit ${q.dropLimit}/${
          DROP_WINDOW_MS / 1000
        } s, full-timeout ${q.fullTimeoutMs / 1000} s`
        : ""
    }${channels.history > 0 ? `, history ${channels.history}` : ""}${
      at.broker === "memory"
        ? ""
        : `, broker ${at.broker}${
          at.brokerUp ? "" : " (UNREACHABLE: retrying)"
        }`
    })\n  dashboard ${httpUrl} · metrics ${httpUrl}metrics${
      at.processMetricsUrl === undefined
        ? ""
        : ` (this process alone: ${at.processMetricsUrl})`
    } · health ${httpUrl}healthz ${httpUrl}readyz\n  sdk ${httpUrl}client.js · sse ${httpUrl}sse${
      server.staticDir === undefined
        ? ""
        : ` · files of ${server.staticDir} at ${httpUrl}<path>`
    }`,
  );
}
