/**
 * The server's configuration, resolved once: built-in defaults < `--config`
 * YAML < flags become one complete, validated, frozen {@link ServerConfig}.
 * One table describes every field (flag, YAML key, range, help), and one
 * validator checks values from flags, YAML and in-process callers alike.
 *
 * @module
 */
import { checkNumber, parseFlags, UsageError } from "../lib/cli_args.ts";
import type { FlagSpec } from "../lib/cli_args.ts";
import { loadYamlConfig, type YamlSchema } from "./config_yaml.ts";
import { SLOW_POLICIES, type SlowPolicy } from "./client_queue.ts";

/** How the server broadcasts: wait for each client in turn, or per-client bounded queues. */
export type BroadcastMode = "naive" | "queue";

/** Where published messages come from. */
export type MessageSource = "synthetic" | "stdin" | "http";

/** Complete, validated, frozen server configuration: all downstream code sees only this. */
export interface ServerConfig {
  /** Broadcast mode. @default {"queue"} */
  readonly mode: BroadcastMode;
  /** Interface to listen on; non-empty, no spaces. @default {"0.0.0.0"} */
  readonly host: string;
  /** TCP port, 0..65535; 0 picks a free port. @default {8765} */
  readonly port: number;
  /** Published messages per second, 0.1..100000. @default {100} */
  readonly rate: number;
  /** Random payload bytes per message, 0..16 MiB. @default {64} */
  readonly payloadBytes: number;
  /** Per-client queue length (queue mode), 1..1000000. @default {100} */
  readonly maxsize: number;
  /** Drops within 10 s that disconnect a client (queue mode). @default {50} */
  readonly dropLimit: number;
  /** Seconds a client's queue may stay full before disconnect. @default {5} */
  readonly fullTimeout: number;
  /** Seconds between pings; 0 disables pings. @default {20} */
  readonly pingInterval: number;
  /** Seconds to wait for a pong before disconnecting. @default {20} */
  readonly pingTimeout: number;
  /** Seconds between summary log lines. @default {5} */
  readonly summaryInterval: number;
  /** One JSON object per log line instead of human text. @default {false} */
  readonly logJson: boolean;
  /** Add per-client series to `GET /metrics` (one series per client per metric). @default {false} */
  readonly metricsPerClient: boolean;
  /** Where messages come from: random payloads, stdin lines, or `POST /publish`. @default {"synthetic"} */
  readonly source: MessageSource;
  /** What a full client queue does with the next message. @default {"drop-oldest"} */
  readonly policy: SlowPolicy;
  /** JSON field whose value is the conflation key (`--policy conflate`). @default {undefined} */
  readonly conflateKey: string | undefined;
  /** Bytes a client's queue may hold; 0 for no byte bound. @default {0} */
  readonly maxQueueBytes: number;
  /** Milliseconds between flushes of `?batch=1` clients (queue mode), 1..1000. @default {10} */
  readonly batchMs: number;
  /** Messages kept per channel for `?since=` replay; 0 keeps none. @default {0} */
  readonly history: number;
  /** Channels that may exist at once. @default {1000} */
  readonly maxChannels: number;
  /** Static subscriber token. @default {undefined} */
  readonly token: string | undefined;
  /** HS256 secret for subscriber JWTs. @default {undefined} */
  readonly jwtSecret: string | undefined;
  /** Token `POST /publish` requires. @default {undefined} */
  readonly publishToken: string | undefined;
  /** Subscribers at once. @default {10000} */
  readonly maxClients: number;
  /** Largest frame a client may send, bytes. @default {4096} */
  readonly maxFrameBytes: number;
  /** Client frames per second before throttling; 0 = twice --rate plus 100. @default {0} */
  readonly maxInboundRate: number;
  /** Largest published message (stdin line, `POST /publish` body), bytes. @default {1048576} */
  readonly maxMessageBytes: number;
  /** Browser origins allowed to subscribe; empty allows any. @default {[]} */
  readonly allowedOrigins: readonly string[];
  /** PEM certificate file: serve wss:// and https://. @default {undefined} */
  readonly cert: string | undefined;
  /** PEM private key file for `cert`. @default {undefined} */
  readonly key: string | undefined;
  /** The `--config` file used, if any. @default {undefined} */
  readonly configPath: string | undefined;
}

/** The built-in defaults (the seed's `config/default.yaml`). */
export const SERVER_DEFAULTS: ServerConfig = Object.freeze({
  mode: "queue",
  host: "0.0.0.0",
  port: 8765,
  rate: 100,
  payloadBytes: 64,
  maxsize: 100,
  dropLimit: 50,
  fullTimeout: 5,
  pingInterval: 20,
  pingTimeout: 20,
  summaryInterval: 5,
  logJson: false,
  metricsPerClient: false,
  source: "synthetic",
  policy: "drop-oldest",
  conflateKey: undefined,
  maxQueueBytes: 0,
  batchMs: 10,
  history: 0,
  maxChannels: 1000,
  token: undefined,
  jwtSecret: undefined,
  publishToken: undefined,
  maxClients: 10_000,
  maxFrameBytes: 4096,
  maxInboundRate: 0,
  maxMessageBytes: 1024 * 1024,
  allowedOrigins: Object.freeze([]) as readonly string[],
  cert: undefined,
  key: undefined,
  configPath: undefined,
});

/** Result of parsing `fanout server` arguments. */
export type ServerArgs = { help: true } | { help: false; config: ServerConfig };

type FieldName = Exclude<keyof ServerConfig, "configPath">;
type Kind =
  | { type: "number"; min: number; max: number; integer: boolean }
  | { type: "enum"; values: readonly string[] }
  | { type: "host" | "boolean" | "string" | "secret" | "list" };
interface FieldSpec {
  flag: string;
  metavar: string;
  path: `${
    | "server"
    | "queue_mode"
    | "channels"
    | "auth"
    | "limits"
    | "tls"
    | "logging"
    | "metrics"}.${string}`;
  kind: Kind;
  help: string;
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
const FIELDS: Readonly<Record<FieldName, FieldSpec>> = {
  host: field("--host HOST", "server.host", { type: "host" },
    "interface to listen on"),
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
    "drops within 10 s that disconnect a client"),
  fullTimeout: field("--full-timeout SECS", "queue_mode.full_timeout", num(0.05, DAY),
    "seconds a client's queue may stay full before it is disconnected"),
  logJson: field("--log-json", "logging.json", { type: "boolean" },
    "log one JSON object per line (--no-log-json: human lines)"),
  summaryInterval: field("--summary-interval SECS", "logging.summary_interval", num(0.1, DAY),
    "seconds between summary log lines"),
  metricsPerClient: field("--metrics-per-client", "metrics.per_client", { type: "boolean" },
    "GET /metrics adds fanout_client_* series, one per client (mind the cardinality)"),
  source: field("--source SOURCE", "server.source", { type: "enum", values: ["synthetic", "stdin", "http"] },
    "synthetic: random payloads at --rate; stdin: one message per input line; http: POST /publish"),
  policy: field("--policy POLICY", "queue_mode.policy", { type: "enum", values: SLOW_POLICIES },
    `what a full client queue does with the next message: ${SLOW_POLICIES.join(", ")}`),
  conflateKey: field("--conflate-key FIELD", "queue_mode.conflate_key", { type: "string" },
    "JSON field of a message whose value is its conflation key (--policy conflate)"),
  maxQueueBytes: field("--max-queue-bytes N", "queue_mode.max_queue_bytes", num(0, 2 ** 40, true),
    "bytes a client's queue may hold besides --maxsize; 0 for no byte bound"),
  batchMs: field("--batch-ms MS", "queue_mode.batch_ms", num(1, 1000, true),
    "ms between flushes of ?batch=1 clients: each gets its queued messages as one JSON array frame"),
  history: field("--history N", "channels.history", num(0, 1_000_000, true),
    "messages kept per channel for ?since= replay; 0 keeps none"),
  maxChannels: field("--max-channels N", "channels.max_channels", num(1, 1_000_000, true),
    "channels that may exist at once"),
  token: field("--token TOKEN", "auth.token", { type: "secret" },
    "subscribers must present this token (Authorization: Bearer, or ?token=)"),
  jwtSecret: field("--jwt-secret SECRET", "auth.jwt_secret", { type: "secret" },
    "subscribers may present an HS256 JWT signed with this (exp required; optional channels claim)"),
  publishToken: field("--publish-token TOKEN", "auth.publish_token", { type: "secret" },
    "token POST /publish requires (needed with --source http)"),
  maxClients: field("--max-clients N", "limits.max_clients", num(1, 1_000_000, true),
    "subscribers at once; more are refused with 503"),
  maxFrameBytes: field("--max-frame-bytes N", "limits.max_frame_bytes", num(64, 16 * 1024 * 1024, true),
    "largest frame a client may send; larger closes it with 1009"),
  maxInboundRate: field("--max-inbound-rate N", "limits.max_inbound_rate", num(0, 1_000_000),
    "client frames/s before throttling, then 4005; 0 = twice --rate plus 100"),
  maxMessageBytes: field("--max-message-bytes N", "limits.max_message_bytes", num(1, 64 * 1024 * 1024, true),
    "largest published message (stdin line, POST /publish body)"),
  allowedOrigins: field("--allowed-origins LIST", "limits.allowed_origins", { type: "list" },
    "comma-separated browser origins allowed to subscribe; empty allows any"),
  cert: field("--cert FILE", "tls.cert", { type: "string" },
    "PEM certificate: serve wss:// and https:// (with --key)"),
  key: field("--key FILE", "tls.key", { type: "string" },
    "PEM private key for --cert"),
};

const FIELD_NAMES = Object.keys(FIELDS) as FieldName[];

/**
 * The one validator for a field's value, whatever its source.
 *
 * @param fromText true for flag values, which are strings to convert; YAML
 *   and in-process values must already have the right type
 */
function checkField(
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

const YAML_SCHEMA: YamlSchema<ServerConfig> = {
  paths: Object.fromEntries(
    FIELD_NAMES.map((name) => [name, FIELDS[name].path]),
  ),
  check: (name, raw, label) => checkField(name as FieldName, raw, label, false),
};

const FLAG_SPEC: FlagSpec = {
  ...Object.fromEntries(FIELD_NAMES.map((name) => [
    FIELDS[name].flag.slice(2),
    { type: FIELDS[name].kind.type === "boolean" ? "boolean" : "string" },
  ])),
  "no-log-json": { type: "boolean" },
  config: { type: "string" },
  help: { type: "boolean", short: "h" },
};

/**
 * Parses `fanout server` arguments, loads the `--config` YAML and resolves
 * defaults < YAML < flags into one validated config.
 *
 * @param args argv after the `server` subcommand
 * @returns `{ help: true }` for `--help`/`-h`, otherwise the resolved config
 * @throws {UsageError} (one line) for an unknown flag, a missing or bad value,
 *   or a `--config` file that cannot be read, parsed or validated
 * @example
 * ```ts
 * import { parseServerArgs } from "./config.ts";
 * const parsed = await parseServerArgs(["--mode", "naive", "--port", "0"]);
 * if (!parsed.help) console.assert(parsed.config.mode === "naive");
 * ```
 */
export async function parseServerArgs(
  args: readonly string[],
): Promise<ServerArgs> {
  const values = parseFlags("server", args, FLAG_SPEC);
  if (values.help === true) return { help: true };
  const fromFlags: Partial<Record<FieldName, unknown>> = {};
  for (const name of FIELD_NAMES) {
    const raw = values[FIELDS[name].flag.slice(2)];
    if (raw !== undefined) {
      fromFlags[name] = checkField(name, raw, FIELDS[name].flag, true);
    }
  }
  if (values["no-log-json"] === true) {
    if (values["log-json"] === true) {
      throw new UsageError("--log-json and --no-log-json: give at most one");
    }
    fromFlags.logJson = false;
  }
  const configPath = values.config as string | undefined;
  const fromYaml = configPath === undefined
    ? {}
    : await loadYamlConfig(configPath, YAML_SCHEMA);
  const config = resolveServerConfig({
    ...fromYaml,
    ...(fromFlags as Partial<ServerConfig>),
    configPath,
  });
  return { help: false, config };
}

/**
 * Builds a config from partial options: defaults < partial, validated with
 * the same rules as flags and YAML (values must already have their types).
 *
 * @param partial the fields to override; `undefined` fields keep their default
 * @returns a complete, frozen config
 * @throws {UsageError} naming the field (`ServerConfig.rate`) when a value is
 *   out of range or of the wrong type, or the field does not exist
 * @example
 * ```ts
 * import { resolveServerConfig } from "./config.ts";
 * const config = resolveServerConfig({ port: 0, mode: "naive" });
 * console.assert(config.rate === 100 && Object.isFrozen(config));
 * ```
 */
export function resolveServerConfig(
  partial: Partial<ServerConfig>,
): ServerConfig {
  const out: Record<string, unknown> = { ...SERVER_DEFAULTS };
  for (const [name, raw] of Object.entries(partial)) {
    const label = `ServerConfig.${name}`;
    if (raw === undefined) continue;
    if (name === "configPath" && typeof raw === "string") out[name] = raw;
    else if (name !== "configPath" && Object.hasOwn(FIELDS, name)) {
      out[name] = checkField(name as FieldName, raw, label, false);
    } else {
      throw new UsageError(
        name === "configPath"
          ? `${label} must be a string, got ${JSON.stringify(raw)}`
          : `${label} does not exist (fields: ${FIELD_NAMES.join(", ")})`,
      );
    }
  }
  checkCombination(out as unknown as ServerConfig);
  return Object.freeze(out) as unknown as ServerConfig;
}

/** Rules across fields, checked once everything is merged. */
function checkCombination(c: ServerConfig): void {
  if (c.source === "http" && c.publishToken === undefined) {
    throw new UsageError(
      "--source http needs --publish-token (or auth.publish_token): publishing must be authenticated",
    );
  }
  if ((c.cert === undefined) !== (c.key === undefined)) {
    throw new UsageError(
      "--cert and --key go together: give both to serve wss:// and https://",
    );
  }
  if (c.policy === "conflate" && c.conflateKey === undefined) {
    throw new UsageError(
      "--policy conflate needs --conflate-key FIELD (the JSON field to conflate on)",
    );
  }
  if (c.conflateKey !== undefined && c.policy !== "conflate") {
    throw new UsageError(
      "--conflate-key has no effect without --policy conflate",
    );
  }
}

/** A default as help shows it. */
function shown(value: unknown): string {
  if (value === undefined) return "none";
  if (Array.isArray(value)) return value.length ? value.join(",") : "none";
  return String(value);
}

/**
 * The `fanout server --help` text: every flag with its default and meaning,
 * the YAML layout, the precedence and the exit codes.
 *
 * @returns the help text, ending with a newline
 */
export function serverHelp(): string {
  const rows: [string, string][] = FIELD_NAMES.map((name) => {
    const { flag, metavar, help } = FIELDS[name];
    return [
      `${flag} ${metavar}`.trim(),
      `${help} (default: ${shown(SERVER_DEFAULTS[name])})`,
    ];
  });
  rows.push(
    ["--config FILE", "YAML file in the layout below; flags override it"],
    ["-h, --help", "show this help and exit"],
  );
  const width = Math.max(...rows.map(([left]) => left.length)) + 2;
  const sections = new Map<string, string[]>();
  for (const name of FIELD_NAMES) {
    const [section = "", key] = FIELDS[name].path.split(".");
    const value = SERVER_DEFAULTS[name];
    const lines = sections.get(section) ??
      sections.set(section, []).get(section)!;
    lines.push(
      value === undefined
        ? `    # ${key}: (none)`
        : `    ${key}: ${
          Array.isArray(value) ? `[${value.join(", ")}]` : value
        }`,
    );
  }
  const yaml = [...sections].flatMap((
    [section, lines],
  ) => [`  ${section}:`, ...lines]);
  return [
    "Usage: fanout server [flags]",
    "",
    "Publishes messages at --rate to every WebSocket client of ws://HOST:PORT/.",
    "The same port serves a live dashboard (GET /), Prometheus metrics",
    "(GET /metrics) and health checks (GET /healthz, GET /readyz).",
    "",
    "Flags:",
    ...rows.map(([left, right]) => `  ${left.padEnd(width)}${right}`),
    "",
    "Precedence: built-in defaults < --config YAML < flags.",
    "",
    "YAML layout (see config/default.yaml; every key is optional):",
    ...yaml,
    "",
    "Exit codes:",
    "  0  shut down cleanly (SIGINT/SIGTERM), or --help",
    "  1  runtime failure (e.g. the port is already in use)",
    "  2  bad flags or --config file; nothing was started",
    "",
  ].join("\n");
}
