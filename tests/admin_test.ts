/**
 * The admin surfaces over real sockets on 127.0.0.1: with `--admin-token`
 * the dashboard, its feed and `/metrics` need it (a Bearer header, or the
 * cookie a browser gets from `?admin_token=` once); health stays open and
 * says only its status; dashboard streams are capped.
 */
import assert from "node:assert/strict";
import { startTestServer } from "./_helpers.ts";

const ADMIN = "adm1n";

/** The first Server-Sent Event of an `/events` response, then the stream is cancelled. */
async function firstEvent(res: Response): Promise<Record<string, unknown>> {
  const reader = res.body!.getReader();
  let text = "";
  try {
    while (!/data: .*\n\n/.test(text)) {
      const { value, done } = await reader.read();
      if (done) throw new Error(`stream ended: ${text}`);
      text += new TextDecoder().decode(value);
    }
  } finally {
    await reader.cancel();
  }
  return JSON.parse(text.match(/data: (.*)\n\n/)![1]!);
}

Deno.test("--admin-token: the dashboard, /events and /metrics need it; /healthz and /readyz stay open and say only their status", async () => {
  await using server = startTestServer({
    token: "sub",
    adminToken: ADMIN,
    rate: 20,
  });
  const at = (path: string, headers: Record<string, string> = {}) =>
    fetch(`${server.httpUrl}${path.replace(/^\//, "")}`, {
      headers,
      redirect: "manual",
    });
  for (const path of ["/", "/dashboard/app.js", "/events", "/metrics"]) {
    const res = await at(path);
    assert.equal(res.status, 401, path);
    assert.match((await res.json()).error, /admin credentials required/);
  }
  const bearer = { authorization: `Bearer ${ADMIN}` };
  const metrics = await at("/metrics", bearer);
  assert.equal(metrics.status, 200);
  assert.match(await metrics.text(), /^fanout_clients /m);
  // A browser: ?admin_token= once, then the cookie.
  const visit = await at(`/?admin_token=${ADMIN}`);
  assert.equal(visit.status, 303);
  assert.equal(visit.headers.get("location"), "/");
  const cookie = visit.headers.get("set-cookie")!;
  assert.match(cookie, /HttpOnly/);
  assert.match(cookie, /SameSite=Strict/);
  const jar = { cookie: cookie.split(";")[0]! };
  const page = await at("/", jar);
  assert.equal(page.status, 200);
  await page.body?.cancel();
  const event = await firstEvent(await at("/events", jar));
  assert.ok("totals" in event);
  assert.equal((await at(`/?admin_token=wrong`)).status, 401);
  // Health: open, status only; details with the token.
  const health = await at("/healthz");
  assert.equal(health.status, 200);
  assert.deepEqual(await health.json(), { status: "ok" });
  const ready = await at("/readyz");
  assert.deepEqual(await ready.json(), { status: "ready" });
  const detailed = await (await at("/readyz", bearer)).json();
  assert.equal(detailed.mode, "queue");
  // The 426 hint no longer tells strangers the client count.
  const hint = await at("/ws");
  assert.equal(hint.status, 426);
  assert.doesNotMatch(await hint.text(), /clients/);
  assert.equal(
    server.hub.totals().rejections.get("admin_unauthorized"),
    5,
  );
});

Deno.test("--admin-token: a cookie that is not valid percent-encoding is a quiet 401, not a 500", async () => {
  const lines: string[] = [];
  await using server = startTestServer({ adminToken: ADMIN, rate: 20 }, {
    log: (_record, human) => void lines.push(human),
  });
  for (const cookie of ["fanout_admin=%ZZ", "fanout_admin=%E0%A4%A"]) {
    const res = await fetch(`${server.httpUrl}metrics`, {
      headers: { cookie },
    });
    await res.body?.cancel();
    assert.equal(res.status, 401, cookie);
  }
  assert.deepEqual(
    lines.filter((l) => /handler failed|http_error/.test(l)),
    [],
  );
});

Deno.test("--max-dashboards: streams past the cap get 503; dashboards on one view share each tick's event", async () => {
  await using server = startTestServer({ rate: 20, maxDashboards: 2 });
  const open = () => fetch(`${server.httpUrl}events?size=10`);
  const [a, b] = await Promise.all([open(), open()]);
  assert.equal(a.status, 200);
  assert.equal(b.status, 200);
  const third = await open();
  assert.equal(third.status, 503);
  assert.match((await third.json()).error, /--max-dashboards 2/);
  assert.equal(server.hub.totals().rejections.get("too_many_dashboards"), 1);
  const [ea, eb] = await Promise.all([firstEvent(a), firstEvent(b)]);
  assert.deepEqual(Object.keys(ea).sort(), Object.keys(eb).sort());
});
