/**
 * Reads a sectioned YAML configuration file (the layout of
 * `config/default.yaml`) into a partial configuration. This module owns the
 * file, the YAML syntax and the shape (sections, known keys); the values are
 * checked by the caller's `check`, so flags and YAML share one validator.
 *
 * @module
 */
import { parseDocument } from "yaml";
import { UsageError } from "../../lib/cli_args.ts";

/** Where each field lives in the YAML file, and the validator for its values. */
export interface YamlSchema<T> {
  /** Field → `"section.key"`; sections and keys are listed in this order. */
  readonly paths: Readonly<Partial<Record<keyof T, string>>>;
  /**
   * Validates a raw YAML value (never converting strings to numbers).
   *
   * @param field the field the key sets
   * @param raw the value as parsed from YAML
   * @param label how to name the key in an error: `--config x.yaml: 'server.rate'`
   * @returns the validated value
   * @throws {UsageError} when the value has the wrong type or is out of range
   */
  check(field: keyof T, raw: unknown, label: string): unknown;
}

/**
 * Loads `path` and returns the fields it sets. An empty file (or one holding
 * only comments) sets nothing; a section left empty (`server:`) sets nothing.
 *
 * @param path the file named by `--config`, as the user spelled it
 * @param schema the sections and keys allowed, and their validator
 * @returns the fields the file sets, validated
 * @throws {UsageError} with one line naming the file, the key path and the
 *   fix, when the file cannot be read, is not valid YAML, has an unknown
 *   section or key, or holds a value of the wrong type or out of range
 */
export async function loadYamlConfig<T>(
  path: string,
  schema: YamlSchema<T>,
): Promise<Partial<T>> {
  const where = `--config ${path}`;
  const fail = (detail: string): never => {
    throw new UsageError(`${where}: ${detail}`);
  };
  let text: string;
  try {
    text = await Deno.readTextFile(path);
  } catch (err) {
    return fail(`cannot read file (${readErrorDetail(err)})`);
  }
  const root = parseYaml(text, fail);
  const layout: Record<string, Record<string, keyof T>> = {};
  for (const [field, keyPath] of Object.entries(schema.paths)) {
    const [section = "", key = ""] = String(keyPath).split(".");
    (layout[section] ??= {})[key] = field as keyof T;
  }
  const sections = Object.keys(layout);
  const mappingHint = `must be a mapping with sections ${list(sections)}`;
  if (root === null || root === undefined) return {};
  if (!isMapping(root)) return fail(`top level ${mappingHint}`);

  const out: Partial<Record<keyof T, unknown>> = {};
  for (const [section, body] of Object.entries(root)) {
    const keys = Object.hasOwn(layout, section) ? layout[section] : undefined;
    if (keys === undefined) {
      return fail(
        `unknown section '${section}' (known sections: ${list(sections)})`,
      );
    }
    if (body === null) continue;
    if (!isMapping(body)) {
      return fail(
        `'${section}' must be a mapping with keys ${list(Object.keys(keys))}`,
      );
    }
    for (const [key, raw] of Object.entries(body)) {
      const field = Object.hasOwn(keys, key) ? keys[key] : undefined;
      if (field === undefined) {
        return fail(
          `unknown key '${section}.${key}' (known keys: ${
            list(Object.keys(keys))
          })`,
        );
      }
      out[field] = schema.check(field, raw, `${where}: '${section}.${key}'`);
    }
  }
  return out as Partial<T>;
}

/** Parses one YAML document; any error or warning fails with its first line. */
function parseYaml(text: string, fail: (detail: string) => never): unknown {
  let doc;
  try {
    doc = parseDocument(text, { uniqueKeys: true, prettyErrors: true });
  } catch (err) {
    return fail(`invalid YAML: ${firstLine(err)}`);
  }
  const problem = doc.errors[0] ?? doc.warnings[0];
  if (problem !== undefined) {
    const line = problem.linePos?.[0]?.line;
    const short = firstLine(problem)
      .replace(/ at line \d+, column \d+:?.*$/, "")
      .replace(/; please use YAML\.\w+\(\)/, "");
    return fail(`invalid YAML${line ? ` at line ${line}` : ""}: ${short}`);
  }
  try {
    return doc.toJS();
  } catch (err) {
    return fail(`invalid YAML: ${firstLine(err)}`);
  }
}

/** "No such file or directory" from Deno's "No such file … (os error 2): readfile 'x'". */
function readErrorDetail(err: unknown): string {
  return firstLine(err).replace(/ \(os error \d+\).*$/, "").replace(/\.$/, "");
}

function firstLine(err: unknown): string {
  const text = err instanceof Error ? err.message : String(err);
  return text.split("\n")[0] ?? "";
}

function isMapping(value: unknown): value is Record<string, unknown> {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}

function list(names: readonly string[]): string {
  return names.join(", ");
}
