/**
 * The one route table (server/http/router.ts), with labelled fake handlers:
 * which request reaches which handler, and what the router answers itself.
 */
import assert from "node:assert/strict";
import { createRouter, type PathHandler } from "../server/http/router.ts";

const INFO = {
  remoteAddr: { transport: "tcp", hostname: "127.0.0.1", port: 1 },
  completed: Promise.resolve(),
} as unknown as Deno.ServeHandlerInfo<Deno.NetAddr>;

const labelled = (label: string): PathHandler => () =>
  new Response(label, { headers: { "x-handler": label } });

function router(withPublish: boolean, withFiles: boolean) {
  return createRouter({
    websocket: labelled("websocket"),
    sse: labelled("sse"),
    publish: withPublish ? labelled("publish") : undefined,
    routes: new Map([["/metrics", () => new Response("metrics")]]),
    files: withFiles
      ? (_req, url) =>
        Promise.resolve(
          url.pathname === "/page.html" || url.pathname === "/"
            ? new Response("file", { headers: { "x-handler": "file" } })
            : undefined,
        )
      : undefined,
  });
}

async function route(
  handler: ReturnType<typeof router>,
  path: string,
  init: RequestInit = {},
): Promise<string> {
  const res = await handler(new Request(`http://x${path}`, init), INFO);
  const label = res.headers.get("x-handler");
  const body = await res.text();
  return label ?? (res.status === 200 ? body : String(res.status));
}

const UPGRADE = { headers: { upgrade: "websocket", connection: "Upgrade" } };

Deno.test("router: one table — each path reaches one handler, and the router answers 404/405 itself", async () => {
  const plain = router(false, false);
  assert.equal(await route(plain, "/", UPGRADE), "websocket");
  assert.equal(await route(plain, "/ws", UPGRADE), "websocket");
  assert.equal(await route(plain, "/ws"), "websocket", "426 hint is its own");
  assert.equal(await route(plain, "/metrics", UPGRADE), "404");
  assert.equal(await route(plain, "/elsewhere", UPGRADE), "404");
  assert.equal(await route(plain, "/metrics"), "metrics");
  assert.equal(await route(plain, "/metrics", { method: "POST" }), "405");
  assert.equal(await route(plain, "/sse"), "sse");
  assert.equal(await route(plain, "/publish", { method: "POST" }), "404");
  assert.equal(await route(plain, "/page.html"), "404");
  const full = router(true, true);
  assert.equal(await route(full, "/publish", { method: "POST" }), "publish");
  assert.equal(await route(full, "/page.html"), "file");
  assert.equal(
    await route(full, "/"),
    "file",
    "an index.html wins over the hint",
  );
  assert.equal(await route(full, "/", UPGRADE), "websocket");
});
