/**
 * The server's options as users give them: one field per flag (and YAML
 * key), the built-in defaults, and {@link resolveServerOptions}, which
 * merges defaults < partial, validates every value with the same rules as
 * flags and YAML, and freezes the result.
 *
 * @module
 */
import { UsageError } from "../../lib/cli_args.ts";
import { checkField } from "./check_field.ts";
import {
  FIELD_DEFAULTS,
  FIELD_NAMES,
  type FieldName,
  FIELDS,
  type FieldValue,
} from "./fields.ts";

export type { BroadcastMode, ListenerKind } from "./fields.ts";

/**
 * The server's settings as a user gives them (flags, YAML, or in-process
 * options), one field per row of the field table ({@link FIELDS}, where each
 * is described), in the flags' units, plus the `--config` file used. Complete,
 * validated and frozen once resolved;
 * {@link import("./config.ts").resolveServerConfig} turns them into the
 * sectioned config the server runs on.
 */
export type ServerOptions =
  & { readonly [K in FieldName]: FieldValue<K> }
  & {
    /** The `--config` file used, if any. */
    readonly configPath: string | undefined;
  };

/** The built-in defaults: the field table's (and `config/default.yaml`'s). */
export const SERVER_DEFAULTS: ServerOptions = Object.freeze({
  ...FIELD_DEFAULTS,
  configPath: undefined,
});

/**
 * Resolves options from a partial set: defaults < partial, validated with
 * the same rules as flags and YAML (values must already have their types).
 *
 * @param partial the fields to override; `undefined` fields keep their default
 * @returns complete, frozen options
 * @throws {UsageError} naming the field (`ServerOptions.rate`) when a value is
 *   out of range or of the wrong type, or the field does not exist
 * @example
 * ```ts
 * import { resolveServerOptions } from "./options.ts";
 * const options = resolveServerOptions({ port: 0, mode: "naive" });
 * if (options.rate !== 100 || !Object.isFrozen(options)) throw new Error();
 * ```
 */
export function resolveServerOptions(
  partial: Partial<ServerOptions>,
): ServerOptions {
  const out: Record<string, unknown> = { ...SERVER_DEFAULTS };
  for (const [name, raw] of Object.entries(partial)) {
    const label = `ServerOptions.${name}`;
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
  checkCombination(out as unknown as ServerOptions);
  return Object.freeze(out) as unknown as ServerOptions;
}

/**
 * `--channel-ttl` items (`CHANNEL=MS`) as a map.
 * @throws {UsageError} naming the bad item
 */
export function channelTtls(items: readonly string[]): Map<string, number> {
  const out = new Map<string, number>();
  for (const item of items) {
    const m = /^([A-Za-z0-9_.:-]{1,64})=(\d+)$/.exec(item);
    const ms = Number(m?.[2]);
    if (!m || !(ms > 0)) {
      throw new UsageError(
        `--channel-ttl items must be CHANNEL=MS with MS a whole number above 0, got ${
          JSON.stringify(item)
        }`,
      );
    }
    out.set(m[1]!, ms);
  }
  return out;
}

/** Rules across fields, checked once everything is merged. */
function checkCombination(c: ServerOptions): void {
  if (c.source === "http" && c.publishToken === undefined) {
    throw new UsageError(
      "--source http needs --publish-token (or auth.publish_token): publishing must be authenticated",
    );
  }
  if (
    (c.token !== undefined || c.jwtSecret !== undefined) &&
    c.adminToken === undefined && !c.openAdmin
  ) {
    throw new UsageError(
      "--token/--jwt-secret protect subscribers, but the dashboard, /events (every client's address) and /metrics would stay open: add --admin-token TOKEN (or --open-admin to serve them to anyone)",
    );
  }
  if ((c.cert === undefined) !== (c.key === undefined)) {
    throw new UsageError(
      "--cert and --key go together: give both to serve wss:// and https://",
    );
  }
  channelTtls(c.channelTtl);
  if (c.policy === "conflate" && c.conflateKey === undefined) {
    throw new UsageError(
      "--policy conflate needs --conflate-key FIELD (the JSON field to conflate on)",
    );
  }
  if (
    c.conflateKey !== undefined && c.policy !== "conflate" &&
    c.policy !== "ladder"
  ) {
    throw new UsageError(
      "--conflate-key has no effect without --policy conflate or ladder",
    );
  }
}
