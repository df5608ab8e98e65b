/**
 * The dashboard's files, embedded in the program. Text imports put them in
 * the module graph, so `deno compile` embeds them in the binary like any
 * module: the page works offline, with no CDN. uPlot comes from its npm
 * package (pinned in deno.json), not from a copy in this repository.
 *
 * @module
 */
import indexHtml from "./index.html" with { type: "text" };
import appJs from "./app.js" with { type: "text" };
import chartsJs from "./charts.js" with { type: "text" };
import appCss from "./app.css" with { type: "text" };
import uplotJs from "uplot/dist/uPlot.iife.min.js" with { type: "text" };
import uplotCss from "uplot/dist/uPlot.min.css" with { type: "text" };

/** One embedded file. */
export interface Asset {
  /** Its `Content-Type`. */
  readonly type: string;
  /** Its bytes. */
  readonly body: Uint8Array<ArrayBuffer>;
}

const enc = (text: string) => new TextEncoder().encode(text);
const JS = "text/javascript; charset=utf-8";
const CSS = "text/css; charset=utf-8";

/** URL path → file. `/` is the page; the rest are what it loads. */
export const DASHBOARD_ASSETS: ReadonlyMap<string, Asset> = new Map([
  ["/", { type: "text/html; charset=utf-8", body: enc(indexHtml) }],
  ["/dashboard/app.js", { type: JS, body: enc(appJs) }],
  ["/dashboard/charts.js", { type: JS, body: enc(chartsJs) }],
  ["/dashboard/app.css", { type: CSS, body: enc(appCss) }],
  ["/dashboard/uplot.js", { type: JS, body: enc(uplotJs) }],
  ["/dashboard/uplot.css", { type: CSS, body: enc(uplotCss) }],
]);

/**
 * The response for an embedded file, or undefined when `path` is not one.
 * @param path the request's URL path
 */
export function assetResponse(path: string): Response | undefined {
  const asset = DASHBOARD_ASSETS.get(path);
  if (!asset) return undefined;
  return new Response(asset.body, {
    headers: {
      "content-type": asset.type,
      "cache-control": "no-cache",
      "x-content-type-options": "nosniff",
    },
  });
}
