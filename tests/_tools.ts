/**
 * External tools some tests need (promtool, Chromium). Where a tool is
 * missing those tests are registered as ignored, and one line says why;
 * `.ci/run` installs both, so in CI they run.
 *
 * @module
 */

import { REDIS_SERVER_PATH } from "../bench/_redis.ts";

/** An executable the tests may use, or why they cannot. */
export type Tool = { path: string; missing?: undefined } | {
  path?: undefined;
  missing: string;
};

/**
 * Looks for an executable at `path`.
 * @param name what to call it in the skip line
 * @param install how to get it (the Debian package)
 */
export function findTool(path: string, name: string, install: string): Tool {
  try {
    const info = Deno.statSync(path);
    if (info.isFile && ((info.mode ?? 0o111) & 0o111) !== 0) return { path };
    return { missing: `${path} is not executable` };
  } catch {
    return { missing: `${name} not found at ${path} (${install})` };
  }
}

/** Prints the one line that says why `tests` are skipped. */
export function reportSkip(tests: string, tool: Tool): void {
  if (tool.missing) console.log(`${tests} skipped: ${tool.missing}`);
}

/** `promtool`, from Debian's `prometheus` package. */
export const PROMTOOL: Tool = findTool(
  "/usr/bin/promtool",
  "promtool",
  "apt-get install prometheus",
);

/** Chromium, from Debian's `chromium` package. */
export const CHROMIUM: Tool = findTool(
  "/usr/bin/chromium",
  "chromium",
  "apt-get install chromium",
);

/** `redis-server`, from Debian's `redis-server` package. */
export const REDIS_SERVER: Tool = findTool(
  REDIS_SERVER_PATH,
  "redis-server",
  "apt-get install redis-server",
);
