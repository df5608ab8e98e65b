/**
 * One table describes every server option: its flag, its YAML key, the
 * values it allows and its help line. Flags, YAML and in-process options are
 * all checked by the one validator here, {@link checkField}.
 *
 * @module
 */
import { checkNumber, UsageError } from "../../lib/cli_args.ts";
import { DROP_WINDOW_MS } from "../../lib/close_codes.ts";
import { SLOW_POLICIES } from "../modes/client_queue.ts";

/** What values a field allows. */
export type Kind =
  | { type: "number"; min: number; max: number; integer: boolean }
  | { type: "enum"; values: readonly string[] }
  | { type: "host" | "boolean" | "string" | "secret" | "list" | "broker" };

/** The YAML sections, in the order help lists them. */
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

/** One option: its flag, YAML key, allowed values and help. */
export interface FieldSpec {
  /** `--flag`. */
  readonly flag: string;
  /** What help shows after the flag. */
  readonly metavar: string;
  /** `section.key` in the YAML file. */
  readonly path: `${Section}.${string}`;
  /** Allowed values. */
  readonly kind: Kind;
  /** One line of help. */
  readonly help: string;
}

/** One table row: `"--flag METAVAR"`, `"section.key"`, allowed values, help. */
function field(
  use: string,
  path: FieldSpec["path"],
  kind: Kind,
  help: string,
): FieldSpec {
  const [flag = "", metavar = ""] = use.split(" ");
  return { flag, metavar, path, kind, help };
}
function num(min: number, max: number, integer = false): Kind {
  return { type: "number", min, max, integer };
}
const DAY = 86_400;

/** Every field, in YAML order: its flag, YAML key, allowed values and help. */
// deno-fmt-ignore
export const FIELDS = {
  host: field("--host HOST", "server.host", { type: "host" },
    "interface to listen on"),
  listener: field("--listener guarded|serve", "server.listener", { type: "enum", values: ["guarded", "serve"] },
    "guarded: own accept loop (fd limit, --handshake-timeout, --max-pending); serve: Deno.serve's, a few % less CPU, unguarded"),
  port: field("--port N", "server.port", num(0, 65_535, true),
    "TCP port; 0 picks a free port"),
  mode: field("--mode naive|queue", "server.mode", { type: "enum", values: ["naive", "queue"] },
    "naive: wait for each client in turn; queue: a bounded queue per client"),
  rate: field("--rate N", "server.rate", num(0.1, 100_000),
    "messages published per second (0.1..100000)"),
  payloadBytes: field("--payload-bytes N", "server.payload_bytes", num(0, 16 * 1024 * 1024, true),
    "random payload bytes per message (0..16 MiB)"),
  pingInterval: field("--ping-interval SECS", "server.ping_interval", num(0, DAY),
    "seconds between pings; 0 disables pings"),
  pingTimeout: field("--ping-timeout SECS", "server.ping_timeout", num(0.05, DAY),
    "seconds to wait for a pong before disconnecting"),
  maxsize: field("--maxsize N", "queue_mode.maxsize", num(1, 1_000_000, true),
    "per-client queue length; when full, --policy decides (drop-oldest by default)"),
  dropLimit: field("--drop-limit N", "queue_mode.drop_limit", num(0, 1e9, true),
    `drops within ${DROP_WINDOW_MS / 1000} s that disconnect a client`),
  fullTimeout: field("--full-timeout SECS", "queue_mode.full_timeout", num(0.05, DAY),
    "seconds a client's queue may stay full before it is disconnected"),
  logJson: field("--log-json", "logging.json", { type: "boolean" },
    "log one JSON object per line (--no-log-json: human lines)"),
  summaryInterval: field("--summary-interval SECS", "logging.summary_interval", num(0.1, DAY),
    "seconds between summary log lines"),
  metricsPerClient: field("--metrics-per-client", "metrics.per_client", { type: "boolean" },
    "GET /metrics adds fanout_client_* series, one per client (mind the cardinality)"),
  staticDir: field("--static DIR", "server.static_dir", { type: "string" },
    "serve the files under DIR at GET /<path> (e.g. examples/: /ticker.html); the dashboard keeps /"),
  source: field("--source SOURCE", "server.source", { type: "enum", values: ["synthetic", "stdin", "http"] },
    "synthetic: random payloads at --rate; stdin: one message per input line; http: POST /publish"),
  policy: field("--policy POLICY", "queue_mode.policy", { type: "enum", values: SLOW_POLICIES },
    `what a full client queue does with the next message: ${SLOW_POLICIES.join(", ")}`),
  conflateKey: field("--conflate-key FIELD", "queue_mode.conflate_key", { type: "string" },
    "JSON field of a message whose value is its conflation key (--policy conflate; --policy ladder: else per channel)"),
  ladderDownMsgs: field("--ladder-down-msgs N", "queue_mode.ladder_down_msgs", num(1, 1_000_000, true),
    "--policy ladder: a client this many messages behind moves a tier down"),
  ladderDownMs: field("--ladder-down-ms MS", "queue_mode.ladder_down_ms", num(1, 3_600_000, true),
    "--policy ladder: …or this many ms behind; also the least time spent in a tier before the next step down"),
  ladderUpMs: field("--ladder-up-ms MS", "queue_mode.ladder_up_ms", num(1, 3_600_000, true),
    "--policy ladder: a client that kept up this long (under 1/4 of both down thresholds) moves a tier up"),
  maxQueueBytes: field("--max-queue-bytes N", "queue_mode.max_queue_bytes", num(0, 2 ** 40, true),
    "bytes a client's queue may hold besides --maxsize; 0 for no byte bound"),
  batchMs: field("--batch-ms MS", "queue_mode.batch_ms", num(1, 1000, true),
    "ms between flushes of ?batch=1 clients: each gets its queued messages as one JSON array frame"),
  lagInterval: field("--lag-interval SECS", "queue_mode.lag_interval", num(0, DAY),
    "seconds between the lag frames control clients get (how far behind, what they lost); 0 disables"),
  maxLag: field("--max-lag SECS", "queue_mode.max_lag", num(0, DAY),
    "seconds a client may fall behind (age of the oldest message it has not taken) before 4006; 0 disables"),
  history: field("--history N", "channels.history", num(0, 1_000_000, true),
    "messages kept per channel for ?since= replay; 0 keeps none"),
  maxChannels: field("--max-channels N", "channels.max_channels", num(1, 1_000_000, true),
    "channels that may exist at once"),
  channelTtl: field("--channel-ttl LIST", "channels.ttl", { type: "list" },
    "default time to live per channel, CHANNEL=MS,...: a message still queued after MS is not sent (queue mode)"),
  token: field("--token TOKEN", "auth.token", { type: "secret" },
    "subscribers must present this token (Authorization: Bearer, or ?token=)"),
  jwtSecret: field("--jwt-secret SECRET", "auth.jwt_secret", { type: "secret" },
    "subscribers may present an HS256 JWT signed with this (exp required; optional channels claim)"),
  publishToken: field("--publish-token TOKEN", "auth.publish_token", { type: "secret" },
    "token POST /publish requires (needed with --source http)"),
  adminToken: field("--admin-token TOKEN", "auth.admin_token", { type: "secret" },
    "the dashboard, /events and /metrics require this token (Authorization: Bearer, or ?admin_token= once in a browser)"),
  openAdmin: field("--open-admin", "auth.open_admin", { type: "boolean" },
    "serve the dashboard, /events and /metrics to anyone although --token/--jwt-secret is set"),
  jwtMaxLifetime: field("--jwt-max-lifetime SECS", "auth.jwt_max_lifetime", num(1, 366 * DAY),
    "longest JWT lifetime accepted (exp minus now), seconds"),
  maxClients: field("--max-clients N", "limits.max_clients", num(1, 1_000_000, true),
    "subscribers at once; more are refused with 503"),
  maxFrameBytes: field("--max-frame-bytes N", "limits.max_frame_bytes", num(64, 16 * 1024 * 1024, true),
    "largest frame a client may send; larger closes it with 1009"),
  maxInboundRate: field("--max-inbound-rate N", "limits.max_inbound_rate", num(0, 1_000_000),
    "client frames/s beyond the one ACK each delivered frame invites, before throttling, then 4101; 0 = twice --rate plus 100"),
  maxMessageBytes: field("--max-message-bytes N", "limits.max_message_bytes", num(1, 64 * 1024 * 1024, true),
    "largest published message (stdin line, POST /publish body)"),
  handshakeTimeout: field("--handshake-timeout SECS", "limits.handshake_timeout", num(0.1, 3600),
    "seconds a connection may take to send a complete request (and finish TLS) before it is closed"),
  maxPending: field("--max-pending N", "limits.max_pending", num(1, 1_000_000, true),
    "connections waiting for their request at once; at the cap, new ones wait in the backlog"),
  maxReplays: field("--max-replays N", "limits.max_replays", num(1, 1_000_000, true),
    "?since= replays in progress at once; more get 503"),
  maxDashboards: field("--max-dashboards N", "limits.max_dashboards", num(1, 10_000, true),
    "dashboard streams (GET /events) at once; more get 503"),
  maxConnectRate: field("--max-connect-rate N", "limits.max_connect_rate", num(0, 1_000_000),
    "new subscriber connections per second (token bucket); more get 503 with Retry-After and a retry hint; 0 = no limit"),
  replayBudget: field("--replay-budget N", "limits.replay_budget", num(0, 100_000_000),
    "replayed messages per second shared by resuming clients (?since=); over it a resume waits its turn (503 + retry hint); 0 = no limit"),
  drainMs: field("--drain-ms MS", "limits.drain_ms", num(0, 3_600_000, true),
    "SIGTERM drains: /readyz 503 at once, no new clients, the connected ones closed (1012, a retry hint) in batches over MS; a second SIGTERM stops at once"),
  allowedOrigins: field("--allowed-origins LIST", "limits.allowed_origins", { type: "list" },
    "comma-separated browser origins allowed to subscribe; empty allows any"),
  cert: field("--cert FILE", "tls.cert", { type: "string" },
    "PEM certificate: serve wss:// and https:// (with --key)"),
  key: field("--key FILE", "tls.key", { type: "string" },
    "PEM private key for --cert"),
  reusePort: field("--reuse-port", "server.reuse_port", { type: "boolean" },
    "share the port with other fanout processes on this host (Linux SO_REUSEPORT): one process per core"),
  broker: field("--broker URL", "broker.url", { type: "broker" },
    "memory: one process; redis://HOST:PORT[/DB]: every node on that Redis is one stream; redis+sentinel://HOST:PORT[,HOST:PORT]/NAME[/DB]: the primary Sentinel names, followed through failovers"),
  brokerTimeoutMs: field("--broker-timeout-ms MS", "broker.timeout_ms", num(50, 60_000, true),
    "a Redis command with no reply this long is an outage: publish 503, /readyz 503 until a probe answers"),
} as const satisfies Record<string, FieldSpec>;

/** The name of an option field (a key of `ServerOptions` other than `configPath`). */
export type FieldName = keyof typeof FIELDS;

/** Every field name, in YAML order. */
export const FIELD_NAMES = Object.keys(FIELDS) as FieldName[];

/**
 * The one validator for a field's value, whatever its source.
 *
 * @param fromText true for flag values, which are strings to convert; YAML
 *   and in-process values must already have the right type
 */
export function checkField(
  name: FieldName,
  raw: unknown,
  label: string,
  fromText: boolean,
): unknown {
  const kind = FIELDS[name].kind;
  const got = typeof raw === "number" ? String(raw) : JSON.stringify(raw);
  switch (kind.type) {
    case "number": {
      // checkNumber converts strings (right for flags) and shows Infinity as null.
      const text = typeof raw === "string";
      if ((text && !fromText) || (typeof raw === "number" && !isFinite(raw))) {
        const what = kind.integer ? "a whole number" : "a number";
        const hint = text && raw.trim() !== "" && isFinite(Number(raw))
          ? " (a string: write the number without quotes)"
          : "";
        throw new UsageError(
          `${label} must be ${what} from ${kind.min} to ${kind.max}, got ${got}${hint}`,
        );
      }
      return checkNumber(label, raw, kind.min, kind.max, kind);
    }
    case "enum":
      if (typeof raw === "string" && kind.values.includes(raw)) return raw;
      throw new UsageError(
        `${label} must be ${kind.values.join(" or ")}, got ${got}`,
      );
    case "string":
    case "secret":
      if (typeof raw === "string" && raw !== "") return raw;
      throw new UsageError(
        `${label} must be a non-empty string, got ${
          kind.type === "secret" ? typeof raw : got
        }`,
      );
    case "list": {
      const parts = typeof raw === "string"
        ? raw.split(",").map((x) => x.trim()).filter((x) => x !== "")
        : [];
      const items = typeof raw === "string"
        ? parts.length > 0 ? parts : undefined
        : Array.isArray(raw) &&
            raw.every((x) => typeof x === "string" && x !== "")
        ? raw as string[]
        : undefined;
      if (items) return Object.freeze(items);
      throw new UsageError(
        `${label} must be a list of non-empty strings (a comma-separated flag), got ${got}`,
      );
    }
    case "broker":
      if (raw === "memory") return raw;
      if (typeof raw === "string" && isRedisUrl(raw)) return raw;
      if (typeof raw === "string" && SENTINEL_URL.test(raw)) return raw;
      throw new UsageError(
        `${label} must be memory, redis://HOST:PORT[/DB] (rediss:// for TLS) or redis+sentinel://HOST:PORT[,HOST:PORT]/NAME[/DB], got ${got}`,
      );
    case "host":
      if (typeof raw === "string" && raw !== "" && !/\s/.test(raw)) return raw;
      throw new UsageError(
        `${label} must be a host name or IP address without spaces, got ${got}`,
      );
    case "boolean":
      if (typeof raw === "boolean") return raw;
      throw new UsageError(`${label} must be true or false, got ${got}`);
  }
}

/** `redis+sentinel://[user:pass@]host[:port][,host[:port]…]/NAME[/DB]`. */
const SENTINEL_URL =
  /^redis\+sentinel:\/\/([^@/]*@)?[^:\s,/@]+(:\d{1,5})?(,[^:\s,/@]+(:\d{1,5})?)*\/[A-Za-z0-9_.-]+(\/\d{1,2})?$/;

/** `redis://` or `rediss://`, a host, an optional port and database number. */
function isRedisUrl(text: string): boolean {
  let url: URL;
  try {
    url = new URL(text);
  } catch {
    return false;
  }
  return (url.protocol === "redis:" || url.protocol === "rediss:") &&
    url.hostname !== "" && /^(\/\d{0,2})?$/.test(url.pathname) &&
    url.search === "" && url.hash === "";
}
