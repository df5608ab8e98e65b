/**
 * `fanout server`: parse, start, serve until SIGINT/SIGTERM, stop gracefully.
 *
 * @module
 */
import { parseServerArgs, serverHelp } from "./config.ts";
import { startServer } from "./server.ts";

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
  let server;
  try {
    server = startServer(config);
  } catch (err) {
    if (err instanceof Deno.errors.AddrInUse) {
      console.error(
        `fanout server: ${config.host}:${config.port} is already in use; stop the other process or choose another --port`,
      );
      return 1;
    }
    if (
      err instanceof Deno.errors.AddrNotAvailable ||
      err instanceof Deno.errors.PermissionDenied
    ) {
      console.error(
        `fanout server: cannot listen on ${config.host}:${config.port} (${
          (err as Error).message
        }); check --host and --port`,
      );
      return 1;
    }
    throw err;
  }
  const { promise: signalled, resolve } = Promise.withResolvers<string>();
  const signals: Deno.Signal[] = ["SIGINT", "SIGTERM"];
  const handlers = signals.map((sig) => {
    const handler = () => resolve(sig);
    Deno.addSignalListener(sig, handler);
    return [sig, handler] as const;
  });
  const sig = await signalled;
  for (const [s, h] of handlers) Deno.removeSignalListener(s, h);
  if (!config.logJson) {
    console.log(`fanout server: ${sig} received, shutting down`);
  }
  await server.stop();
  return 0;
}
