/**
 * The server's own HTTP paths, named once: the router routes them, and
 * `--static` never serves a file over them.
 *
 * @module
 */

/** Where SSE subscribers connect. */
export const SSE_PATH = "/sse";
/** Where the HTTP source takes messages (`--source http`). */
export const PUBLISH_PATH = "/publish";
/** Paths where a WebSocket upgrade subscribes (the seed's clients use `/`). */
export const SUBSCRIBE_PATHS: ReadonlySet<string> = new Set(["/", "/ws"]);
/** Where an admin asks for a drain (`POST`, admin token). */
export const ADMIN_DRAIN_PATH = "/admin/drain";
