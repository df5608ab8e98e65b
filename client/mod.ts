/**
 * `fanout clientsim`: simulated WebSocket subscribers that measure what a
 * fanout server gives them — latency (now − ts_send), drops inferred from seq
 * gaps, close codes and reasons — and ACK every frame so the server can
 * measure end-to-end latency.
 *
 * A slow client ({@link SimClient} with `slowMs`) reads its socket only when
 * it has finished "processing" the previous message, through
 * `WebSocketStream`, so the server feels real TCP backpressure. Clients
 * reconnect with exponential backoff (250 ms doubling to 5 s).
 *
 * - {@link SimClient}: one subscriber; `snapshot()` for live statistics.
 * - {@link runSwarm}: N subscribers for a duration → {@link SwarmReport}.
 * - {@link formatReport} / {@link reportToJson}: the final table or JSON.
 * - {@link explainConnectError}: why a connection attempt failed, in one line.
 * - {@link run}: the CLI entry, `run(args) → exit code`.
 *
 * @example
 * ```ts ignore
 * import { DEFAULT_CLIENTSIM_OPTIONS, formatReport, runSwarm } from "./mod.ts";
 * const report = await runSwarm({
 *   ...DEFAULT_CLIENTSIM_OPTIONS,
 *   url: "ws://localhost:8765",
 *   concurrency: 3,
 *   durationSec: 10,
 * });
 * console.log(formatReport(report));
 * ```
 *
 * @module
 */
export {
  clientsimHelp,
  type ClientsimOptions,
  DEFAULT_CLIENTSIM_OPTIONS,
  MAX_CONCURRENCY,
  MAX_DELAY_MS,
  MAX_DURATION_SEC,
  MAX_PRINT_EVERY,
  parseClientsimArgs,
  type ParsedClientsimArgs,
} from "./options.ts";
export {
  ClientStats,
  type CloseRecord,
  type SimClientSnapshot,
} from "./client_stats.ts";
export {
  CLIENT_STOP_CODE,
  CLOSE_TIMEOUT_MS,
  INITIAL_BACKOFF_MS,
  MAX_BACKOFF_MS,
  SimClient,
  type SimClientOptions,
} from "./sim_client.ts";
export {
  clientRate,
  type ClientRow,
  CONNECT_BATCH_SIZE,
  runSwarm,
  type SwarmConfig,
  type SwarmOptions,
  type SwarmReport,
  type SwarmTotals,
} from "./swarm.ts";
export { formatReport, REPORT_COLUMNS, reportToJson } from "./report.ts";
export {
  explainConnectError,
  PREFLIGHT_TIMEOUT_MS,
} from "./connect_failure.ts";
export { formatProgressLine, SwarmProgress } from "./progress.ts";
export { type ClientsimIo, run } from "./cli.ts";
