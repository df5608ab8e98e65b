/**
 * Shared command-line parsing: strict flags and checked numbers, so every
 * subcommand rejects bad input the same way, with one line and exit code 2.
 *
 * @module
 */
import { parseArgs } from "node:util";

/**
 * Bad command-line or configuration input. The CLI prints `message` (one
 * line) and exits with code 2; nothing has been started.
 */
export class UsageError extends Error {
  /** @param message one line naming the problem and the fix */
  constructor(message: string) {
    super(message);
    this.name = "UsageError";
  }
}

/** Flag declarations in the shape `node:util` `parseArgs` takes. */
export type FlagSpec = Record<
  string,
  { type: "string" | "boolean"; short?: string }
>;

/**
 * Parses `args` strictly: an unknown flag, a missing value or a positional
 * argument is a {@link UsageError} naming it.
 *
 * @param command the subcommand's name, for the error message
 * @returns the flag values keyed by flag name; absent flags are absent
 * @throws {UsageError} on any unknown or malformed flag
 */
export function parseFlags(
  command: string,
  args: readonly string[],
  spec: FlagSpec,
): Record<string, string | boolean | undefined> {
  try {
    const { values } = parseArgs({
      args: [...args],
      options: spec,
      strict: true,
      allowPositionals: false,
    });
    return values as Record<string, string | boolean | undefined>;
  } catch (err) {
    const detail = err instanceof Error
      ? err.message.split("\n")[0]
      : String(err);
    throw new UsageError(
      `fanout ${command}: ${
        detail?.replace(/\.$/, "")
      }; see 'fanout ${command} --help'`,
    );
  }
}

/**
 * Converts a flag or YAML value to a number within [min, max].
 *
 * @param name the flag or key, for the error message (e.g. `--rate`)
 * @param raw the value as given (string from a flag, number from YAML)
 * @param options `integer` to require a whole number
 * @throws {UsageError} when `raw` is not a number in range
 */
export function checkNumber(
  name: string,
  raw: unknown,
  min: number,
  max: number,
  options: { integer?: boolean } = {},
): number {
  const value = typeof raw === "string" && raw.trim() !== ""
    ? Number(raw)
    : raw;
  const kind = options.integer ? "a whole number" : "a number";
  if (typeof value !== "number" || !Number.isFinite(value)) {
    throw new UsageError(
      `${name} must be ${kind} from ${min} to ${max}, got ${
        JSON.stringify(raw)
      }`,
    );
  }
  if (options.integer && !Number.isInteger(value)) {
    throw new UsageError(
      `${name} must be ${kind} from ${min} to ${max}, got ${value}`,
    );
  }
  if (value < min || value > max) {
    throw new UsageError(
      `${name} must be ${kind} from ${min} to ${max}, got ${value}`,
    );
  }
  return value;
}
