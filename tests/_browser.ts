/**
 * Headless Chromium for the browser tests: Debian's `chromium`, driven by
 * playwright-core from npm, in a throwaway profile, offline and quiet.
 *
 * @module
 */
import type { BrowserContext, BrowserType, Page } from "playwright-core";
import { CHROMIUM } from "./_tools.ts";

/**
 * playwright-core, loaded on demand. Its bundled `is-wsl` probes
 * `/proc/sys/fs/binfmt_misc/WSLInterop` with `fs.existsSync` when the module
 * loads; Node answers false, but Deno throws NotCapable for that path under
 * any permission set short of `--allow-all`, which the test suite does not
 * have. `__IS_WSL_TEST__` is is-wsl's own switch to defer that probe; the
 * probe only serves playwright's `open` (show-report), which is never used.
 */
async function loadChromium(): Promise<BrowserType> {
  Deno.env.set("__IS_WSL_TEST__", "1");
  try {
    return (await import("playwright-core")).chromium;
  } finally {
    Deno.env.delete("__IS_WSL_TEST__");
  }
}

/** Flags that keep Chromium offline, quiet and sandbox-free (root in CI). */
const CHROMIUM_ARGS = [
  "--no-sandbox",
  "--disable-gpu",
  "--disable-quic",
  "--no-first-run",
  "--disable-background-networking",
  "--disable-component-update",
  "--disable-sync",
];

/** How long a page may take to show what a test waits for, ms. */
export const UI_TIMEOUT_MS = 20_000;

/** A running browser in its own profile; `await using` closes both. */
export interface Browser extends AsyncDisposable {
  /** The browser context. */
  readonly context: BrowserContext;
  /** The profile directory (screenshots may go there). */
  readonly profile: string;
}

/** Starts headless Chromium (the caller checks `CHROMIUM.missing` first). */
export async function launchChromium(
  viewport = { width: 1280, height: 860 },
): Promise<Browser> {
  const profile = await Deno.makeTempDir({ prefix: "fanout-chromium-" });
  const chromium = await loadChromium();
  const context = await chromium.launchPersistentContext(profile, {
    executablePath: CHROMIUM.path!,
    headless: true,
    args: CHROMIUM_ARGS,
    viewport,
  });
  return {
    context,
    profile,
    async [Symbol.asyncDispose]() {
      await context.close();
      await Deno.remove(profile, { recursive: true }).catch(() => {});
    },
  };
}

/**
 * Reads `selector`'s text until `test` passes, with a deadline: waiting for
 * what the page shows, never a fixed sleep.
 */
export async function waitForText(
  page: Page,
  what: string,
  selector: string,
  test: (text: string) => boolean,
): Promise<string> {
  const deadline = performance.now() + UI_TIMEOUT_MS;
  let last: string | null = null;
  while (performance.now() < deadline) {
    const el = page.locator(selector).first();
    last = await el.count() > 0 ? await el.textContent() : null;
    if (last !== null && test(last)) return last;
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(
    `the page never showed ${what} (${selector}; last text: ${
      JSON.stringify(last)
    })`,
  );
}

/**
 * Evaluates `fn` in the page (it runs there: no closures over test
 * variables) until `test` passes on its result, with a deadline.
 */
export async function waitInPage<T>(
  page: Page,
  what: string,
  fn: () => T,
  test: (value: T) => boolean,
): Promise<T> {
  const deadline = performance.now() + UI_TIMEOUT_MS;
  let last: T | undefined;
  while (performance.now() < deadline) {
    last = await page.evaluate(fn) as T;
    if (test(last)) return last;
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(`the page never had ${what} (last: ${JSON.stringify(last)})`);
}
