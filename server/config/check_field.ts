/**
 * The one validator for a server option's value, whatever its source
 * (flag, YAML, in-process options), checked against the option's row in the
 * field table.
 *
 * @module
 */
import { checkNumber, UsageError } from "../../lib/cli_args.ts";
import { type FieldName, FIELDS } from "./fields.ts";

/**
 * Checks (and, for flags, converts) one field's value.
 *
 * @param name the field
 * @param raw the value as given
 * @param label how to name the value in an error (`--rate`, a YAML key path)
 * @param fromText true for flag values, which are strings to convert; YAML
 *   and in-process values must already have the right type
 * @returns the validated value
 * @throws {UsageError} naming `label`, the allowed values and what was given
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
