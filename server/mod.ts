/**
 * `fanout server`'s public face: start a server in-process from options, and
 * the parts it is made of, for embedding, the demo, the benchmarks and tests.
 *
 * A message goes one way: a source publishes to the **broker**, which gives
 * it its position `(epoch, seq)`, keeps it in the channel's history and hands
 * it to the **hub**; the hub passes it to the **mode**, which offers it to
 * every local client's **writer** (queue mode) or sends it to each client in
 * turn (naive mode); the writer is the only code that writes to that
 * client's socket. Verdicts travel back: a writer says "cut this client",
 * and the hub, which owns the sessions, closes it.
 *
 * ```
 * server/
 *   core/      hub, session, subscriber view, frame, the broker and mode ports
 *   broker/    broker_memory (one process), history
 *   modes/     naive, queue + writer, client queue, slow policy, drain watcher,
 *              ladder (tiers), outbox (loss classes, deadlines)
 *   sources/   synthetic, stdin, their shared statistics
 *   http/      router, subscribe (WebSocket), sse (Server-Sent Events), publish
 *              (the HTTP source), auth, admission, static files, /client.js
 *   observe/   summary, lifecycle log, metrics, health, dashboard
 *   config/    options, fields, the sectioned config, flags/YAML/help
 *   server.ts  the composition root (wiring only);  cli.ts  `fanout server`
 *   parts.ts   mode, broker, source and observers as the config asks
 *   http_app.ts the HTTP side assembled and listening
 *   housekeeping.ts  the hub's tick and the summary;  shutdown.ts  stopping, in phases
 * ```
 *
 * @example
 * ```ts ignore
 * import { resolveServerConfig, startServer } from "./mod.ts";
 * await using server = startServer(resolveServerConfig({ port: 0, mode: "naive" }));
 * console.log(server.url);
 * ```
 *
 * @module
 */
export {
  createBroker,
  HOUSEKEEPING_MS,
  launchServer,
  type RunningServer,
  SHUTDOWN_DEADLINE_MS,
  type StartOptions,
  startServer,
} from "./server.ts";
export { run } from "./cli.ts";
export {
  configOf,
  resolveServerConfig,
  type ServerConfig,
} from "./config/config.ts";
export {
  type BroadcastMode,
  resolveServerOptions,
  SERVER_DEFAULTS,
  type ServerOptions,
} from "./config/options.ts";
export { parseServerArgs, type ServerArgs, serverHelp } from "./config/args.ts";
export {
  type Broker,
  BrokerStats,
  BrokerUnavailableError,
  type Position,
  type Published,
} from "./core/broker.ts";
export { frameOf, type OutFrame, type PublishBody } from "./core/frame.ts";
export { Hub, type HubEvent, type HubOptions } from "./core/hub.ts";
export type { Logger } from "./core/logger.ts";
export type { Mode } from "./core/mode.ts";
export type { Session, SessionEnd } from "./core/session.ts";
export type { Sink } from "./core/sink.ts";
export type { SubscriberView } from "./core/subscriber.ts";
export {
  MemoryBroker,
  type MemoryBrokerOptions,
} from "./broker/broker_memory.ts";
export { NaiveMode } from "./modes/naive.ts";
export { QueueMode, type QueueModeOptions } from "./modes/queue.ts";
export { QUEUE_HIGH_WATER_BYTES } from "./modes/socket_gate.ts";
export type { SlowPolicy } from "./modes/client_queue.ts";
export { randomPayloadB64 } from "./sources/source_synthetic.ts";
export type { SourceStats } from "./sources/source_stats.ts";
export type { Schedule } from "./sources/schedule.ts";
