/**
 * clientsim runs exactly the clients it was asked for or says how many did
 * not connect and why, with exit 1: a connect deadline for a server that
 * never answers, a full server that leaves one client out. No output shows
 * the token. The CLI as a subprocess against listeners on 127.0.0.1.
 */
import assert from "node:assert/strict";
import { runToEnd } from "./_cli.ts";
import { startTestServer } from "./_helpers.ts";

const TOKEN = "tok-3f9a1c-secret";

Deno.test("clientsim: a listener that never answers fails each attempt at --connect-timeout, says so, exits 1, and never prints the token", async () => {
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const held: Deno.Conn[] = [];
  const accepting = (async () => {
    for await (const conn of listener) held.push(conn);
  })();
  try {
    const port = (listener.addr as Deno.NetAddr).port;
    const r = await runToEnd([
      "clientsim",
      "--url",
      `ws://127.0.0.1:${port}/`,
      "--token",
      TOKEN,
      "--concurrency",
      "3",
      "--duration",
      "1.5",
      "--connect-timeout",
      "200",
    ]);
    assert.equal(r.code, 1, r.stderr);
    assert.match(
      r.stderr,
      /cannot connect: .*connect timeout: no answer within 200 ms/,
    );
    assert.match(r.stdout, /connect timeout.*\(\d+ attempts?\)/);
    assert.match(r.stdout, /3 of 3 clients never connected/);
    assert.ok(!(r.stdout + r.stderr).includes(TOKEN), r.stdout + r.stderr);
    assert.match(r.stderr, /token=\*\*\*/);
  } finally {
    listener.close();
    await accepting.catch(() => {});
    for (const c of held) c.close();
  }
});

Deno.test("clientsim: a full server leaves one of three clients out: the report and stderr say 2 of 3 with the reason, exit 1, totals only without --per-client", async () => {
  await using server = startTestServer({
    rate: 20,
    maxClients: 2,
    token: TOKEN,
    openAdmin: true,
  });
  const r = await runToEnd([
    "clientsim",
    "--url",
    server.url,
    "--token",
    TOKEN,
    "--concurrency",
    "3",
    "--duration",
    "1.5",
    "--json",
  ]);
  assert.equal(r.code, 1, r.stderr);
  const report = JSON.parse(r.stdout);
  assert.equal(report.totals.requested, 3);
  assert.equal(report.totals.clientsConnected, 2);
  assert.match(report.failures[0], /^503 /);
  assert.ok(report.failedAttempts[0] >= 1);
  assert.match(r.stderr, /only 2 of 3 clients connected; failures: 503 /);
  assert.ok(!(r.stdout + r.stderr).includes(TOKEN));
  assert.doesNotMatch(r.stderr, /\[cli-\d\] Count:/, "no per-client lines");
});
