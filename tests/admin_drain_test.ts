/**
 * `POST /admin/drain` over real sockets: it needs the admin token (401
 * without, 403 on a server without `--admin-token`, 405 for another
 * method), answers 202 with what it will do, turns `/readyz` 503 at once
 * and closes every client with 1012 and a retry hint; a second request
 * finishes the drain; `fanout server` stops by itself once it is over.
 */
import assert from "node:assert/strict";
import { parseRetryHint } from "../lib/retry_hint.ts";
import { adminGate } from "../server/http/admin.ts";
import { createAdminDrainHandler } from "../server/http/admin_drain.ts";
import { FanoutProcess, parseJsonObject, waitForListening } from "./_cli.ts";
import { ackingClients, startTestServer, waitFor } from "./_helpers.ts";

const ADMIN = "adm1n";

function post(base: string, headers: Record<string, string> = {}) {
  return fetch(new URL("/admin/drain", base), { method: "POST", headers });
}

Deno.test("createAdminDrainHandler(): 405, 401, 403 refuse without touching the drain; 202 starts it, 202 again finishes it, 409 while stopping without one", async () => {
  const calls: string[] = [];
  const state = { draining: false, stopping: false };
  const rejects: string[] = [];
  const make = (withToken: boolean) =>
    createAdminDrainHandler({
      admin: withToken
        ? adminGate({ token: ADMIN, secure: false, reject() {} })
        : undefined,
      drainMs: 1234,
      clients: () => 7,
      reject: (label) => rejects.push(label),
      drain: {
        get draining() {
          return state.draining;
        },
        get stopping() {
          return state.stopping;
        },
        start() {
          calls.push("start");
          state.draining = true;
        },
        finishNow() {
          calls.push("finishNow");
        },
      },
    });
  const handler = make(true);
  const req = (method: string, auth?: string) =>
    new Request("http://x/admin/drain", {
      method,
      headers: auth ? { authorization: `Bearer ${auth}` } : {},
    });
  assert.equal(handler(req("GET", ADMIN)).status, 405);
  assert.equal(handler(req("POST")).status, 401);
  assert.equal(handler(req("POST", "wrong")).status, 401);
  assert.equal(make(false)(req("POST", ADMIN)).status, 403);
  assert.deepEqual(calls, [], "no refusal touched the drain");
  assert.equal(rejects.length, 3, "each refusal counted");
  state.stopping = true;
  const late = handler(req("POST", ADMIN));
  assert.equal(late.status, 409);
  await late.body?.cancel();
  state.stopping = false;
  const first = handler(req("POST", ADMIN));
  assert.equal(first.status, 202);
  assert.deepEqual(await first.json(), {
    status: "draining",
    clients: 7,
    drain_ms: 1234,
    plan:
      "refusing new subscribers (503) and /readyz 503 from now; closing the 7 clients with 1012 and a spread retry hint over 1234 ms; then stopping. POST again or send SIGTERM to finish at once",
  });
  const second = handler(req("POST", ADMIN));
  assert.equal(second.status, 202);
  assert.equal((await second.json()).status, "finishing");
  assert.deepEqual(calls, ["start", "finishNow"]);
});

Deno.test("POST /admin/drain needs the admin token, answers 202 with its plan, turns /readyz 503 at once and closes every client with 1012 and a hint; a second request finishes it", async () => {
  await using server = startTestServer({
    adminToken: ADMIN,
    drainMs: 400,
    rate: 20,
  });
  const closes = await ackingClients(server.url, 8);
  const refused = await post(server.httpUrl);
  assert.equal(refused.status, 401);
  assert.match((await refused.json()).error, /admin credentials required/);
  const wrong = await post(server.httpUrl, { authorization: "Bearer nope" });
  assert.equal(wrong.status, 401);
  await wrong.body?.cancel();
  const get = await fetch(new URL("/admin/drain", server.httpUrl), {
    headers: { authorization: `Bearer ${ADMIN}` },
  });
  assert.equal(get.status, 405);
  assert.equal(get.headers.get("allow"), "POST");
  await get.body?.cancel();
  assert.equal(server.hub.size, 8, "nothing drained by a refused request");

  let requested = false;
  server.drainRequested.then(() => requested = true);
  const bearer = { authorization: `Bearer ${ADMIN}` };
  const res = await post(server.httpUrl, bearer);
  assert.equal(res.status, 202);
  const plan = await res.json();
  assert.equal(plan.status, "draining");
  assert.equal(plan.clients, 8);
  assert.equal(plan.drain_ms, 400);
  assert.match(plan.plan, /1012/);
  const ready = await fetch(new URL("/readyz", server.httpUrl));
  assert.equal(ready.status, 503);
  await ready.body?.cancel();
  await waitFor("drainRequested", () => requested);

  const again = await post(server.httpUrl, bearer);
  assert.equal(again.status, 202);
  assert.equal((await again.json()).status, "finishing");
  const seen = await Promise.all(closes);
  for (const { code, reason } of seen) {
    assert.equal(code, 1012, reason);
    assert.ok(parseRetryHint(reason)! > 0, reason);
  }
  await server.drain(); // the drain the request started: over
});

Deno.test("POST /admin/drain on a server without --admin-token is refused (403) and drains nothing", async () => {
  await using server = startTestServer({ rate: 20 });
  const res = await post(server.httpUrl);
  assert.equal(res.status, 403);
  assert.match((await res.json()).error, /--admin-token/);
  const ready = await fetch(new URL("/readyz", server.httpUrl));
  assert.equal(ready.status, 200);
  await ready.body?.cancel();
});

Deno.test("fanout server: POST /admin/drain drains like SIGTERM (clients closed with 1012), then the server stops and exits 0", async () => {
  await using proc = FanoutProcess.server([
    "--rate",
    "20",
    "--drain-ms",
    "300",
    "--admin-token",
    ADMIN,
    "--summary-interval",
    "3600",
    "--log-json",
  ]);
  const { port } = await waitForListening(proc);
  const closes = await ackingClients(`ws://127.0.0.1:${port}/`, 5);
  const res = await post(`http://127.0.0.1:${port}/`, {
    authorization: `Bearer ${ADMIN}`,
  });
  assert.equal(res.status, 202);
  assert.equal((await res.json()).status, "draining");
  const seen = await Promise.all(closes);
  assert.deepEqual(seen.map((s) => s.code), [1012, 1012, 1012, 1012, 1012]);
  assert.equal((await proc.exit(20_000)).code, 0, proc.stderr.text);
  const record = proc.stdout.lines.map(parseJsonObject)
    .find((r) => r?.type === "shutdown");
  assert.equal(record?.signal, "POST /admin/drain");
});
