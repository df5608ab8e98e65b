/**
 * `fanout server --help`, rendered from the field table: one section per
 * group of flags, every line under {@link HELP_WIDTH} columns, then the YAML
 * layout, the precedence and the exit codes.
 *
 * @module
 */
import {
  FIELD_NAMES,
  FIELDS,
  HELP_SECTIONS,
  type HelpSection,
} from "./fields.ts";
import { SERVER_DEFAULTS } from "./options.ts";

/** Help lines are shorter than this many columns. */
export const HELP_WIDTH = 100;
const LAST_COLUMN = HELP_WIDTH - 1;
const LEFT = 28;

/** A default as help shows it. */
function shown(value: unknown): string {
  if (value === undefined) return "none";
  if (Array.isArray(value)) return value.length ? value.join(",") : "none";
  return String(value);
}

/** Words of `text` filled into lines of at most `width` columns. */
function wrap(text: string, width: number): string[] {
  const out: string[] = [];
  let line = "";
  for (const word of text.split(" ")) {
    if (line !== "" && line.length + 1 + word.length > width) {
      out.push(line);
      line = word;
    } else line = line === "" ? word : `${line} ${word}`;
  }
  if (line !== "") out.push(line);
  return out;
}

/**
 * One flag's rows: `left`, then the first line of its help wrapped beside
 * it, then the further lines (authored to fit) indented under it.
 */
function flagRows(left: string, help: string): string[] {
  const [first = "", ...sub] = help.split("\n");
  const pad = " ".repeat(LEFT);
  const body = [
    ...wrap(first, LAST_COLUMN - LEFT),
    ...sub.map((line) => `  ${line}`),
  ];
  const head = `  ${left}`;
  if (head.length + 1 >= LEFT) return [head, ...body.map((l) => pad + l)];
  return body.map((l, i) => (i === 0 ? head.padEnd(LEFT) : pad) + l);
}

/** `help` with the default stated at the end of its first line (before a colon that introduces the lines under it). */
function withDefault(help: string, value: string): string {
  const [first = "", ...rest] = help.split("\n");
  const note = `(default: ${value})`;
  const line = first.endsWith(":")
    ? `${first.slice(0, -1)} ${note}:`
    : `${first} ${note}`;
  return [line, ...rest].join("\n");
}

/** The rows of every help section, in {@link HELP_SECTIONS} order. */
function flagSections(): string[] {
  const rows = new Map<HelpSection, string[]>();
  for (const section of Object.keys(HELP_SECTIONS) as HelpSection[]) {
    rows.set(section, []);
  }
  rows.get("server")!.push(
    ...flagRows(
      "--config FILE",
      "YAML file in the layout below; flags override it",
    ),
    ...flagRows("-h, --help", "show this help and exit"),
  );
  for (const name of FIELD_NAMES) {
    const { flag, metavar, help, section } = FIELDS[name];
    rows.get(section)!.push(
      ...flagRows(
        `${flag} ${metavar}`.trim(),
        withDefault(
          help,
          FIELDS[name].shownDefault ?? shown(SERVER_DEFAULTS[name]),
        ),
      ),
    );
  }
  return [...rows].flatMap(([section, lines]) => [
    `${HELP_SECTIONS[section]}:`,
    ...lines,
    "",
  ]);
}

/** The YAML layout with every key's default, as `config/default.yaml` has it. */
function yamlLayout(): string[] {
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
  return [...sections].flatMap(([section, lines]) => [
    `  ${section}:`,
    ...lines,
  ]);
}

/**
 * The `fanout server --help` text: the flags in sections, each with its
 * default and meaning, the YAML layout, the precedence and the exit codes.
 *
 * @returns the help text, ending with a newline; every line is shorter than
 *   {@link HELP_WIDTH} columns
 */
export function serverHelp(): string {
  return [
    "Usage: fanout server [flags]",
    "",
    "Serves WebSocket subscribers at ws://HOST:PORT/ the messages of one source",
    "(--source). The same port serves a live dashboard (GET /), Prometheus",
    "metrics (GET /metrics) and health checks (GET /healthz, GET /readyz).",
    "",
    ...flagSections(),
    "Precedence: built-in defaults < --config YAML < flags.",
    "",
    "YAML layout (see config/default.yaml; every key is optional):",
    ...yamlLayout(),
    "",
    "Exit codes:",
    "  0  shut down cleanly (SIGINT/SIGTERM), or --help",
    "  1  runtime failure (e.g. the port is already in use)",
    "  2  bad flags or --config file; nothing was started",
    "",
  ].join("\n");
}
