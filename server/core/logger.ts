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
