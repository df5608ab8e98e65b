/**
 * One table states every server option once: its flag, its YAML key, the
 * values it allows, its default, its `--help` section and its help text.
 * The flag spec, the YAML schema, the defaults, the `ServerOptions` type and
 * `--help` are all derived from it; {@link import("./check_field.ts").checkField}
 * validates a value from any source against its row.
 *
 * @module
 */
import { DROP_WINDOW_MS } from "../../lib/close_codes.ts";
import {
  DEFAULT_ACK_WINDOW_BYTES,
  DEFAULT_ACK_WINDOW_FRAMES,
} from "../modes/ack_pacer.ts";
import { SLOW_POLICIES, type SlowPolicy } from "../modes/client_queue.ts";
import type { SourceKind } from "../sources/source_stats.ts";

/**
 * Who accepts connections: `guarded` (fanout's own accept loop: survives
 * EMFILE, closes slow handshakes, caps pending connections) or `serve`
 * (Deno.serve's: a few percent less CPU per delivery, no handshake timeout,
 * listens again after EMFILE; only behind a proxy that enforces timeouts).
 */
export type ListenerKind = "guarded" | "serve";

/** How the server broadcasts: wait for each client in turn, or per-client bounded queues. */
export type BroadcastMode = "naive" | "queue";

/** What values a field allows. */
export type Kind =
  | { type: "number"; min: number; max: number; integer: boolean }
  | { type: "enum"; values: readonly string[] }
  | { type: "host" | "boolean" | "string" | "secret" | "list" | "broker" };

/** The YAML sections. */
export type Section =
  | "server"
  | "queue_mode"
  | "channels"
  | "auth"
  | "limits"
  | "tls"
  | "logging"
  | "metrics"
  | "broker";

/** The `--help` sections, in the order help lists them, with their headings. */
export const HELP_SECTIONS = {
  server: "Server",
  queue_mode: "Queue mode (--mode queue)",
  channels: "Channels",
  auth: "Auth",
  limits: "Limits",
  tls: "TLS",
  broker: "Broker",
  observability: "Observability",
} as const;

/** A `--help` section. */
export type HelpSection = keyof typeof HELP_SECTIONS;

/** One option: its flag, YAML key, allowed values, default and help. */
export interface FieldSpec<T = unknown> {
  /** `--flag`. */
  readonly flag: string;
  /** What help shows after the flag. */
  readonly metavar: string;
  /** `section.key` in the YAML file. */
  readonly path: `${Section}.${string}`;
  /** Allowed values. */
  readonly kind: Kind;
  /** The built-in default. */
  readonly default: T;
  /** The `--help` section the flag is listed under. */
  readonly section: HelpSection;
  /** How help shows the default when it is decided at run time. */
  readonly shownDefault?: string;
  /**
   * Help text: a sentence, optionally followed by `\n`-separated lines that
   * help indents under it (the values of an enum, say).
   */
  readonly help: string;
}

/** One table row: `"--flag METAVAR"`, `"section.key"`, allowed values, default, help. */
function field<T>(
  use: string,
  path: FieldSpec["path"],
  kind: Kind,
  value: T,
  help: string,
  shownDefault?: string,
): FieldSpec<T> {
  const [flag = "", metavar = ""] = use.split(" ");
  const yamlSection = path.split(".")[0] as Section;
  const section: HelpSection =
    yamlSection === "logging" || yamlSection === "metrics"
      ? "observability"
      : yamlSection;
  const spec = { flag, metavar, path, kind, default: value, section, help };
  return shownDefault === undefined ? spec : { ...spec, shownDefault };
}
function num(min: number, max: number, integer = false): Kind {
  return { type: "number", min, max, integer };
}
const DAY = 86_400;
const NONE: readonly string[] = Object.freeze([]);
const MIB = 1024 * 1024;

/** Every field, in YAML order (grouped as help lists them). */
// deno-fmt-ignore
export const FIELDS = {
  host: field<string>("--host HOST", "server.host", { type: "host" }, "0.0.0.0",
    "interface to listen on"),
  port: field("--port N", "server.port", num(0, 65_535, true), 8765,
    "TCP port; 0 picks a free port"),
  listener: field<ListenerKind>("--listener guarded|serve", "server.listener", { type: "enum", values: ["guarded", "serve"] }, "guarded",
    "who accepts connections:\n" +
    "guarded  own accept loop: fd cap, --handshake-timeout, --max-pending\n" +
    "serve    Deno.serve's: a few % less CPU, unguarded; behind a proxy"),
  mode: field<BroadcastMode>("--mode naive|queue", "server.mode", { type: "enum", values: ["naive", "queue"] }, "queue",
    "how messages reach clients:\n" +
    "naive  wait for each client in turn\n" +
    "queue  a bounded queue per client (see Queue mode)"),
  source: field<SourceKind>("--source SOURCE", "server.source", { type: "enum", values: ["synthetic", "stdin", "http"] }, "synthetic",
    "where messages come from:\n" +
    "synthetic  random payloads, --rate per second, --payload-bytes each\n" +
    "stdin      one message per input line\n" +
    "http       POST /publish (needs --publish-token)"),
  rate: field("--rate N", "server.rate", num(0.1, 100_000), 100,
    "--source synthetic: messages per second, 0.1..100000"),
  payloadBytes: field("--payload-bytes N", "server.payload_bytes", num(0, 16 * MIB, true), 64,
    "--source synthetic: random payload bytes per message, 0..16 MiB"),
  pingInterval: field("--ping-interval SECS", "server.ping_interval", num(0, DAY), 20,
    "seconds between pings; 0 disables pings"),
  pingTimeout: field("--ping-timeout SECS", "server.ping_timeout", num(0.05, DAY), 20,
    "seconds to wait for a pong before disconnecting"),
  staticDir: field<string | undefined>("--static DIR", "server.static_dir", { type: "string" }, undefined,
    "serve the files under DIR at GET /<path> (e.g. examples/: /ticker.html); the dashboard keeps /"),
  reusePort: field("--reuse-port", "server.reuse_port", { type: "boolean" }, false,
    "share the port with other fanout processes on this host (Linux SO_REUSEPORT): one per core"),
  maxsize: field("--maxsize N", "queue_mode.maxsize", num(1, 1_000_000, true), 100,
    "per-client queue length; when full, --policy decides"),
  policy: field<SlowPolicy>("--policy POLICY", "queue_mode.policy", { type: "enum", values: SLOW_POLICIES }, "drop-oldest",
    `what a full client queue does with the next message: ${SLOW_POLICIES.join(", ")}`),
  conflateKey: field<string | undefined>("--conflate-key FIELD", "queue_mode.conflate_key", { type: "string" }, undefined,
    "JSON field whose value is a message's conflation key (--policy conflate; --policy ladder: else per channel)"),
  ladderDownMsgs: field("--ladder-down-msgs N", "queue_mode.ladder_down_msgs", num(1, 1_000_000, true), 50,
    "--policy ladder: a client this many messages behind moves a tier down"),
  ladderDownMs: field("--ladder-down-ms MS", "queue_mode.ladder_down_ms", num(1, 3_600_000, true), 500,
    "--policy ladder: …or this many ms behind; also the least time in a tier before the next step down"),
  ladderUpMs: field("--ladder-up-ms MS", "queue_mode.ladder_up_ms", num(1, 3_600_000, true), 5000,
    "--policy ladder: a client that kept up this long (under 1/4 of both down thresholds) moves up a tier"),
  ladderAckWindow: field("--ladder-ack-window N", "queue_mode.ladder_ack_window", num(0, 1_000_000, true), DEFAULT_ACK_WINDOW_FRAMES,
    "--policy ladder: a client that ACKs has at most N data frames unACKed; the rest wait in its queue under its tier (0: no ACK pacing)"),
  ladderAckWindowBytes: field("--ladder-ack-window-bytes N", "queue_mode.ladder_ack_window_bytes", num(1024, 2 ** 40, true), DEFAULT_ACK_WINDOW_BYTES,
    "--policy ladder: …and at most N bytes unACKed"),
  maxQueueBytes: field("--max-queue-bytes N", "queue_mode.max_queue_bytes", num(0, 2 ** 40, true), 0,
    "bytes a client's queue may hold besides --maxsize; 0 for no byte bound"),
  dropLimit: field("--drop-limit N", "queue_mode.drop_limit", num(0, 1e9, true), 50,
    `drops within ${DROP_WINDOW_MS / 1000} s that disconnect a client (4000)`),
  fullTimeout: field("--full-timeout SECS", "queue_mode.full_timeout", num(0.05, DAY), 5,
    "seconds a client's queue may stay full before it is disconnected (4001)"),
  maxLag: field("--max-lag SECS", "queue_mode.max_lag", num(0, DAY), 30,
    "seconds a client may fall behind (the age of the oldest message it has not taken) before it is disconnected (4006); 0 disables"),
  batchMs: field("--batch-ms MS", "queue_mode.batch_ms", num(1, 1000, true), 10,
    "ms between flushes of ?batch=1 clients: each gets its queued messages as one JSON array frame"),
  lagInterval: field("--lag-interval SECS", "queue_mode.lag_interval", num(0, DAY), 1,
    "seconds between the lag frames control clients get (how far behind, what they lost); 0 disables"),
  history: field("--history N", "channels.history", num(0, 1_000_000, true), 0,
    "messages kept per channel for ?since= replay; 0 keeps none"),
  maxChannels: field("--max-channels N", "channels.max_channels", num(1, 1_000_000, true), 1000,
    "channels that may exist at once"),
  idempotencyWindow: field("--idempotency-window SECS", "channels.idempotency_window", num(1, DAY, true), 300,
    "seconds a publish's Idempotency-Key is remembered: a retry within it publishes nothing"),
  channelTtl: field<readonly string[]>("--channel-ttl LIST", "channels.ttl", { type: "list" }, NONE,
    "default time to live per channel, CHANNEL=MS,...: a message still queued after MS is not sent (queue mode)"),
  token: field<string | undefined>("--token TOKEN", "auth.token", { type: "secret" }, undefined,
    "subscribers must present this token (Authorization: Bearer, or ?token=)"),
  jwtSecret: field<string | undefined>("--jwt-secret SECRET", "auth.jwt_secret", { type: "secret" }, undefined,
    "subscribers may present an HS256 JWT signed with this (exp required; optional channels claim)"),
  jwtMaxLifetime: field("--jwt-max-lifetime SECS", "auth.jwt_max_lifetime", num(1, 366 * DAY), DAY,
    "longest JWT lifetime accepted (exp minus now), seconds"),
  publishToken: field<string | undefined>("--publish-token TOKEN", "auth.publish_token", { type: "secret" }, undefined,
    "token POST /publish requires (needed with --source http)"),
  adminToken: field<string | undefined>("--admin-token TOKEN", "auth.admin_token", { type: "secret" }, undefined,
    "the dashboard, /events and /metrics require this token (Authorization: Bearer, or ?admin_token= once in a browser)"),
  openAdmin: field("--open-admin", "auth.open_admin", { type: "boolean" }, false,
    "serve the dashboard, /events and /metrics to anyone although --token/--jwt-secret is set"),
  maxClients: field("--max-clients N", "limits.max_clients", num(1, 1_000_000, true), 10_000,
    "subscribers at once; more are refused with 503"),
  maxFrameBytes: field("--max-frame-bytes N", "limits.max_frame_bytes", num(64, 16 * MIB, true), 4096,
    "largest frame a client may send; larger closes it with 1009"),
  maxInboundRate: field("--max-inbound-rate N", "limits.max_inbound_rate", num(0, 1_000_000), 0,
    "client frames/s beyond the one ACK each delivered frame invites, before throttling, then 4101; 0 = twice --rate plus 100"),
  maxMessageBytes: field("--max-message-bytes N", "limits.max_message_bytes", num(1, 64 * MIB, true), MIB,
    "largest published message (stdin line, POST /publish body)"),
  handshakeTimeout: field("--handshake-timeout SECS", "limits.handshake_timeout", num(0.1, 3600), 5,
    "seconds a connection may take to send a complete request (and finish TLS) before it is closed"),
  maxPending: field("--max-pending N", "limits.max_pending", num(1, 1_000_000, true), 1000,
    "connections waiting for their request at once; at the cap, new ones wait in the backlog"),
  maxReplays: field("--max-replays N", "limits.max_replays", num(1, 1_000_000, true), 100,
    "?since= replays in progress at once; more get 503"),
  maxDashboards: field("--max-dashboards N", "limits.max_dashboards", num(1, 10_000, true), 10,
    "dashboard streams (GET /events) at once; more get 503"),
  maxConnectRate: field("--max-connect-rate N", "limits.max_connect_rate", num(0, 1_000_000), 0,
    "new subscriber connections per second (token bucket); more get 503 with Retry-After and a retry hint; 0 = no limit"),
  replayBudget: field("--replay-budget N", "limits.replay_budget", num(0, 100_000_000), 0,
    "replayed messages per second shared by resuming clients (?since=); over it a resume waits its turn (503 + retry hint); 0 = no limit"),
  drainMs: field("--drain-ms MS", "limits.drain_ms", num(0, 3_600_000, true), 10_000,
    "SIGTERM (or POST /admin/drain) drains: /readyz 503 at once, no new clients, the connected ones closed (1012, a retry hint) in batches over MS; a second SIGTERM stops at once"),
  allowedOrigins: field<readonly string[]>("--allowed-origins LIST", "limits.allowed_origins", { type: "list" }, NONE,
    "comma-separated browser origins allowed to subscribe; empty allows any"),
  cert: field<string | undefined>("--cert FILE", "tls.cert", { type: "string" }, undefined,
    "PEM certificate: serve wss:// and https:// (with --key)"),
  key: field<string | undefined>("--key FILE", "tls.key", { type: "string" }, undefined,
    "PEM private key for --cert"),
  broker: field<string>("--broker URL", "broker.url", { type: "broker" }, "memory",
    "the engine that orders each channel's messages:\n" +
    "memory                  one process\n" +
    "redis://HOST:PORT[/DB]  every node on that Redis is one stream\n" +
    "redis+sentinel://HOST:PORT[,HOST:PORT]/NAME[/DB]\n" +
    "                        the primary Sentinel names, across failovers"),
  brokerTimeoutMs: field("--broker-timeout-ms MS", "broker.timeout_ms", num(50, 60_000, true), 1000,
    "a Redis command with no reply this long is an outage: publish 503, /readyz 503 until a probe answers"),
  logJson: field("--log-json", "logging.json", { type: "boolean" }, false,
    "log one JSON object per line (--no-log-json: human lines)"),
  summaryInterval: field("--summary-interval SECS", "logging.summary_interval", num(0.1, DAY), 5,
    "seconds between summary log lines"),
  metricsPerClient: field("--metrics-per-client", "metrics.per_client", { type: "boolean" }, false,
    "GET /metrics adds fanout_client_* series, one per client (mind the cardinality)"),
  instanceId: field<string | undefined>("--instance-id ID", "metrics.instance_id", { type: "string" }, undefined,
    "this process's name in fanout_process_info and, with --reuse-port or when given, an instance_id label on every /metrics series",
    "HOSTNAME:PID"),
  metricsPort: field<number | undefined>("--metrics-port N", "metrics.port", num(0, 65_535, true), undefined,
    "also serve GET /metrics of this process alone on this port (plain HTTP, --host, --admin-token applies): with --reuse-port give each process its own; 0 picks a free port"),
} as const satisfies Record<string, FieldSpec>;

/** The name of an option field (a key of `ServerOptions` other than `configPath`). */
export type FieldName = keyof typeof FIELDS;

/** Every field name, in YAML order. */
export const FIELD_NAMES = Object.keys(FIELDS) as FieldName[];

/** The type of field `K`'s values (the type of its default). */
export type FieldValue<K extends FieldName> = (typeof FIELDS)[K]["default"];

/** The built-in default of every field, from the table. */
export const FIELD_DEFAULTS: { readonly [K in FieldName]: FieldValue<K> } =
  Object.freeze(
    Object.fromEntries(FIELD_NAMES.map((name) => [name, FIELDS[name].default])),
  ) as { readonly [K in FieldName]: FieldValue<K> };
