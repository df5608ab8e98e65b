/**
 * The command-line face of the server's configuration: the flag spec and the
 * YAML schema (both derived from the one field table), and
 * {@link parseServerArgs}, which turns argv and a `--config` file into
 * resolved options and the config the server runs on. `--help` itself is
 * rendered by help.ts.
 *
 * @module
 */
import { parseFlags, UsageError } from "../../lib/cli_args.ts";
import type { FlagSpec } from "../../lib/cli_args.ts";
import { configOf, type ServerConfig } from "./config.ts";
import { checkField } from "./check_field.ts";
import { FIELD_NAMES, type FieldName, FIELDS } from "./fields.ts";
import { resolveServerOptions, type ServerOptions } from "./options.ts";
import { loadYamlConfig, type YamlSchema } from "./yaml.ts";

export { serverHelp } from "./help.ts";

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
