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
      args: joinNegativeValues(args, spec),
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

/** A value that starts with a dash but is a number: `-5`, `-0.5`, `-.5`, `-1e3`. */
const NEGATIVE_NUMBER = /^-(\d|\.\d)/;

/**
 * `--flag -5` as `--flag=-5` for a flag that takes a value, so a negative
 * number reaches the flag's own range check ("--rate must be a number from
 * 0.1 to 100000, got -5") instead of `parseArgs`' "argument is ambiguous".
 */
function joinNegativeValues(
  args: readonly string[],
  spec: FlagSpec,
): string[] {
  const out: string[] = [];
  for (let i = 0; i < args.length; i++) {
    const arg = args[i]!;
    const next = args[i + 1];
    const name = arg.startsWith("--") ? arg.slice(2) : undefined;
    if (
      name !== undefined && Object.hasOwn(spec, name) &&
      spec[name]!.type === "string" && next !== undefined &&
      NEGATIVE_NUMBER.test(next)
    ) {
      out.push(`${arg}=${next}`);
      i++;
    } else out.push(arg);
    if (arg === "--") {
      out.push(...args.slice(i + 1));
      break;
    }
  }
  return out;
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
