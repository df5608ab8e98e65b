/**
 * How a subscriber is named in the dashboard and the logs: its address,
 * plus the id its client keeps across reconnects (`?client=<id>`, sent by
 * the SDK), so the same client reconnecting is recognisable as itself.
 *
 * @module
 */

import { clientIdOf } from "./last_close.ts";

/**
 * `HOST:PORT`, and ` client <id>` when the URL carries a well-formed
 * `?client=` (anything else is ignored: it is shown, never trusted).
 *
 * @example
 * ```ts
 * import { remoteLabel } from "./client_label.ts";
 * const url = new URL("ws://x/?client=k7Qx-2");
 * if (remoteLabel("127.0.0.1", 5000, url) !== "127.0.0.1:5000 client k7Qx-2") throw new Error();
 * if (remoteLabel("::1", 1, new URL("ws://x/?client=a%20b")) !== "::1:1") throw new Error();
 * ```
 */
export function remoteLabel(hostname: string, port: number, url: URL): string {
  const id = clientIdOf(url);
  const address = `${hostname}:${port}`;
  return id === undefined ? address : `${address} client ${id}`;
}
