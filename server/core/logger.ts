/**
 * Server output: one JSON object per line with `--log-json`, otherwise one
 * human line per record. Every record is built once and rendered one way.
 *
 * @module
 */

/** Writes records, either as JSON lines or as human lines. */
export interface Logger {
  /**
   * @param record the machine form (must carry `type`)
   * @param human the one-line human form
   */
  log(record: { type: string } & Record<string, unknown>, human: string): void;
}

/**
 * A logger writing to `write` (stdout by default).
 * @param json true for JSON lines (`--log-json`)
 */
export function createLogger(
  json: boolean,
  write: (line: string) => void = (line) => console.log(line),
): Logger {
  return {
    log(record, human) {
      write(
        json
          ? JSON.stringify({ ts: new Date().toISOString(), ...record })
          : human,
      );
    },
  };
}

/**
 * `text` with every control character written as an escape (`\n`, `\r`,
 * `\t`, `\u001b`, …), for human log lines that quote what a client sent
 * (a close reason): one record stays one line, and nothing a client sends
 * can forge a line or move the terminal's cursor.
 *
 * @example
 * ```ts
 * import { printable } from "./logger.ts";
 * if (printable("bye\n[disconnect] forged") !== "bye\\n[disconnect] forged") throw new Error();
 * ```
 */
export function printable(text: string): string {
  // deno-lint-ignore no-control-regex
  return text.replace(/[\u0000-\u001f\u007f-\u009f\u2028\u2029]/g, (c) => {
    switch (c) {
      case "\n":
        return "\\n";
      case "\r":
        return "\\r";
      case "\t":
        return "\\t";
      default:
        return `\\u${c.charCodeAt(0).toString(16).padStart(4, "0")}`;
    }
  });
}
