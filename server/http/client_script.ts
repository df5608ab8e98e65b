/**
 * `GET /client.js`: the client SDK (`sdk/mod.ts`), bundled into one
 * JavaScript module by `deno task sdk`, so a page can
 * `import { FanoutClient } from "/client.js"`. A text import puts the file
 * in the module graph: `deno compile` embeds it like any module.
 *
 * @module
 */
import bundle from "../../sdk/fanout_client.js" with { type: "text" };

/** Where the SDK is served. */
export const CLIENT_SCRIPT_PATH = "/client.js";

const BODY = new TextEncoder().encode(bundle);

/**
 * The SDK bundle as a JavaScript module. Any origin may load it (it is
 * public code, and a module script from another origin needs CORS).
 * @returns the response for `GET`/`HEAD /client.js`
 */
export function clientScript(req: Request): Response {
  return new Response(req.method === "HEAD" ? null : BODY, {
    headers: {
      "content-type": "text/javascript; charset=utf-8",
      "content-length": String(BODY.length),
      "cache-control": "no-cache",
      "access-control-allow-origin": "*",
      "x-content-type-options": "nosniff",
    },
  });
}
