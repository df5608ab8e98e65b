/**
 * `fanout server`: parse, start, serve until SIGINT/SIGTERM, stop gracefully.
 * SIGTERM drains first (`--drain-ms`: no new clients, `/readyz` 503, the
 * connected ones closed with 1012 in spread batches); a second signal
 * during the drain finishes it at once. SIGINT stops at once.
 * `POST /admin/drain` starts the same drain as SIGTERM (then a signal, or
 * a second request, finishes it at once).
 *
 * @module
 */
import { parseServerArgs, serverHelp } from "./config/args.ts";
import { createLogger } from "./core/logger.ts";
import { METRICS_PORT_ERROR } from "./http/metrics_listener.ts";
import { launchServer } from "./server.ts";

const SIGNALS: readonly Deno.Signal[] = ["SIGINT", "SIGTERM"];
/** What the shutdown record names when `POST /admin/drain` started it. */
const ADMIN_DRAIN = "POST /admin/drain";

/**
 * Runs the server subcommand.
 * @param args arguments after `server`
 * @returns the exit code (0 after a graceful stop)
 * @throws {UsageError} for bad flags or config, before anything starts
 */
export async function run(args: readonly string[]): Promise<number> {
  const parsed = await parseServerArgs(args);
  if (parsed.help) {
    console.log(serverHelp());
    return 0;
  }
  const { config } = parsed;
  // Listen for signals before the "listening" line goes out, so a supervisor
  // that signals as soon as it sees that line always gets a graceful stop.
  const { promise: signalled, resolve } = Promise.withResolvers<Deno.Signal>();
  const { promise: again, resolve: resolveAgain } = Promise.withResolvers<
    void
  >();
  let signals = 0;
  const handlers = SIGNALS.map((sig) =>
    [sig, () => {
      if (signals++ === 0) resolve(sig);
      else resolveAgain();
    }] as const
  );
  for (const [sig, handler] of handlers) Deno.addSignalListener(sig, handler);
  try {
    let server;
    try {
      server = await launchServer(config);
    } catch (err) {
      const metricsPort = err instanceof Error &&
        err.message.startsWith(METRICS_PORT_ERROR);
      const where = `${config.server.host}:${
        metricsPort ? config.metrics.port : config.server.port
      }`;
      if (err instanceof Deno.errors.AddrInUse && metricsPort) {
        console.error(
          `fanout server: ${where} (--metrics-port) is already in use; give each process its own --metrics-port`,
        );
        return 1;
      }
      if (err instanceof Deno.errors.AddrInUse) {
        console.error(
          `fanout server: ${where} is already in use; stop the other process or choose another --port`,
        );
        return 1;
      }
      if (
        err instanceof Deno.errors.AddrNotAvailable ||
        err instanceof Deno.errors.PermissionDenied
      ) {
        console.error(
          `fanout server: cannot listen on ${where} (${
            (err as Error).message
          }); check --host and --port`,
        );
        return 1;
      }
      throw err;
    }
    // POST /admin/drain starts the drain SIGTERM would.
    const sig = await Promise.race([
      signalled,
      server.drainRequested.then(() => ADMIN_DRAIN),
    ]);
    // One record, in the log's format: a JSON log shows the stop too.
    createLogger(config.logging.json).log(
      { type: "shutdown", signal: sig, clients: server.hub.size },
      `fanout server: ${sig} received, shutting down`,
    );
    const drainMs = config.limits.drainMs;
    if ((sig === "SIGTERM" && drainMs > 0) || sig === ADMIN_DRAIN) {
      if (!config.logging.json) {
        console.log(
          `fanout server: draining over ${drainMs} ms (${
            sig === ADMIN_DRAIN ? "SIGTERM or POST again" : "SIGTERM again"
          } to finish at once)`,
        );
      }
      const finished = server.drain();
      // After a request, the first signal finishes it; after SIGTERM, the second.
      await Promise.race([finished, sig === ADMIN_DRAIN ? signalled : again]);
      server.finishDrain();
      await finished;
    }
    await server.stop();
    return 0;
  } finally {
    for (const [sig, handler] of handlers) {
      Deno.removeSignalListener(sig, handler);
    }
  }
}
