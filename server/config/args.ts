/**
 * The command-line face of the server's configuration: the flag spec and the
 * YAML schema (both derived from the one field table), `--help`, and
 * {@link parseServerArgs}, which turns argv and a `--config` file into
 * resolved options and the config the server runs on.
 *
 * @module
 */
import { parseFlags, UsageError } from "../../lib/cli_args.ts";
import type { FlagSpec } from "../../lib/cli_args.ts";
import { configOf, type ServerConfig } from "./config.ts";
import { checkField, FIELD_NAMES, type FieldName, FIELDS } from "./fields.ts";
import {
  resolveServerOptions,
  SERVER_DEFAULTS,
  type ServerOptions,
} from "./options.ts";
import { loadYamlConfig, type YamlSchema } from "./yaml.ts";

/** Result of parsing `fanout server` arguments. */
export type ServerArgs =
  | { readonly help: true }
  | {
    readonly help: false;
    /** The options as given, resolved and frozen (flags' units). */
    readonly options: ServerOptions;
    /** The config the server runs on. */
    readonly config: ServerConfig;
  };

const YAML_SCHEMA: YamlSchema<ServerOptions> = {
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
 * @returns `{ help: true }` for `--help`/`-h`, otherwise the resolved options and config
 * @throws {UsageError} (one line) for an unknown flag, a missing or bad value,
 *   or a `--config` file that cannot be read, parsed or validated
 * @example
 * ```ts
 * import { parseServerArgs } from "./args.ts";
 * const parsed = await parseServerArgs(["--mode", "naive", "--port", "0"]);
 * if (parsed.help || parsed.config.server.mode !== "naive") throw new Error();
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
  const options = resolveServerOptions({
    ...fromYaml,
    ...(fromFlags as Partial<ServerOptions>),
    configPath,
  });
  return { help: false, options, config: configOf(options) };
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
