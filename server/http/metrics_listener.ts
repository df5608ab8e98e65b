/**
 * `--metrics-port`: a second, plain-HTTP listener that serves only this
 * process's `GET /metrics`. Processes sharing the main port with
 * `--reuse-port` each answer a scrape of the shared port at random; each
 * one's own metrics port lets Prometheus scrape every process on its own.
 *
 * @module
 */
import type { AdminGate } from "./admin.ts";
import type { GetHandler } from "./router.ts";

/** Options of {@link listenForMetrics}. */
export interface MetricsListenerOptions {
  /** Interface to listen on (`--host`). */
  readonly hostname: string;
  /** Port (`--metrics-port`); 0 picks a free one. */
  readonly port: number;
  /** The `/metrics` handler the main port serves. */
  readonly metrics: GetHandler;
  /** The admin token's gate, when one is set: the same rule as on the main port. */
  readonly admin: AdminGate | undefined;
}

/** A running metrics listener. */
export interface MetricsListener {
  /** The port bound. */
  readonly port: number;
  /** `http://HOST:PORT/metrics` (loopback when bound to all interfaces). */
  readonly url: string;
  /** Stops listening and resolves once it has. Idempotent. */
  shutdown(): Promise<void>;
}

/** Prefix of a listen error's message when it is the metrics port's. */
export const METRICS_PORT_ERROR = "--metrics-port";

/** `Deno.serve` on the metrics port; a listen error names `--metrics-port`. */
function serveOrName(
  options: MetricsListenerOptions,
  handler: Deno.ServeHandler<Deno.NetAddr>,
): Deno.HttpServer<Deno.NetAddr> {
  try {
    return Deno.serve({
      hostname: options.hostname,
      port: options.port,
      onListen: () => {},
    }, handler);
  } catch (err) {
    if (err instanceof Error) {
      err.message = `${METRICS_PORT_ERROR} ${options.port}: ${err.message}`;
    }
    throw err;
  }
}

/**
 * Serves `GET /metrics` (and `HEAD`) on its own port; anything else is 404.
 *
 * @throws {Deno.errors.AddrInUse} and other listen errors, their message
 *   starting with {@link METRICS_PORT_ERROR}
 */
export function listenForMetrics(
  options: MetricsListenerOptions,
): MetricsListener {
  const server = serveOrName(options, (req) => {
    const url = new URL(req.url);
    if (url.pathname !== "/metrics") {
      return new Response("only GET /metrics is served on this port\n", {
        status: 404,
      });
    }
    if (req.method !== "GET" && req.method !== "HEAD") {
      return new Response(null, { status: 405, headers: { allow: "GET" } });
    }
    return options.admin?.check(req, url) ?? options.metrics(req, url);
  });
  const { hostname, port } = server.addr;
  const host = hostname === "0.0.0.0" || hostname === "::"
    ? "127.0.0.1"
    : hostname.includes(":")
    ? `[${hostname}]`
    : hostname;
  let stopped: Promise<void> | undefined;
  return {
    port,
    url: `http://${host}:${port}/metrics`,
    shutdown: () => stopped ??= server.shutdown(),
  };
}
