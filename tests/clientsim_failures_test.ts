/**
 * clientsim says why it could not connect — refused, 401, 403, 503, TLS —
 * once per distinct reason, and exits 1 when no client ever connected:
 * the CLI as a subprocess against real servers on 127.0.0.1.
 */
import assert from "node:assert/strict";
import { FanoutProcess, runToEnd } from "./_cli.ts";
import { ManualClient, startTestServer } from "./_helpers.ts";
import { signJwt } from "./_jwt.ts";
import { makeTestCert } from "./_tls.ts";

/** Runs clientsim briefly; returns the exit code and the `cannot connect` lines. */
async function clientsim(url: string, ...extra: string[]) {
  const { code, stdout, stderr } = await runToEnd([
    "clientsim",
    "--url",
    url,
    "--duration",
    "1.5",
    ...extra,
  ]);
  const reasons = stderr.split("\n").filter((l) =>
    l.startsWith("clientsim: cannot connect: ")
  ).map((l) => l.slice("clientsim: cannot connect: ".length));
  return { code, stdout, stderr, reasons };
}

Deno.test("clientsim: nothing listening → 'connection refused' once for every client and retry, exit 1", async () => {
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const port = (listener.addr as Deno.NetAddr).port;
  listener.close();
  const r = await clientsim(`ws://127.0.0.1:${port}/`, "--concurrency", "3");
  assert.equal(r.code, 1, r.stderr);
  assert.deepEqual(r.reasons, [
    `connection refused: nothing is listening at 127.0.0.1:${port} (is the server running? check --url)`,
  ]);
  assert.match(r.stderr, /no client ever connected/);
  assert.match(r.stdout, /connections failed:\n {2}connection refused/);
});

Deno.test("clientsim: 401 and 403 with the server's own reason and what to do, exit 1", async () => {
  await using server = startTestServer({
    rate: 10,
    jwtSecret: "s3cret",
    adminToken: "admin-s3cret",
  });
  const missing = await clientsim(server.url);
  assert.equal(missing.code, 1);
  assert.deepEqual(missing.reasons, [
    "401 Unauthorized: missing credentials: send Authorization: Bearer <token> or ?token= (pass --token with a subscriber token or JWT)",
  ]);
  const jwt = await signJwt("s3cret", {
    exp: Date.now() / 1000 + 600,
    channels: ["a"],
  });
  const other = await clientsim(server.url, "--token", jwt, "--channel", "b");
  assert.equal(other.code, 1);
  assert.equal(other.reasons.length, 1);
  assert.match(
    other.reasons[0]!,
    /^403 Forbidden: JWT does not grant channel b \(the token does not grant/,
  );
});

Deno.test("clientsim: 503 while the server is full; once a place frees up it connects, and exits 0", async () => {
  await using server = startTestServer({ rate: 10, maxClients: 1 });
  const holder = new ManualClient(server.url);
  await holder.open();
  await using proc = new FanoutProcess([
    "clientsim",
    "--url",
    server.url,
    "--duration",
    "4",
  ]);
  const line = await proc.stderr.waitForLine(
    "the 503",
    (l) => l.startsWith("clientsim: cannot connect: 503"),
  );
  assert.equal(
    line,
    "clientsim: cannot connect: 503 Service Unavailable: server full: 1 clients (--max-clients) (the server is full or cannot take the channel now: lower --concurrency or try later)",
  );
  await holder[Symbol.asyncDispose]();
  const { code } = await proc.exit(15_000);
  assert.equal(code, 0, proc.stderr.text);
  assert.doesNotMatch(proc.stderr.text, /no client ever connected/);
  assert.equal(
    proc.stderr.lines.filter((l) => l.includes("cannot connect")).length,
    1,
    "the reason once, however many retries met it",
  );
});

Deno.test("clientsim: TLS failures say what is wrong — a plain server behind wss://, a certificate this machine does not trust", async () => {
  await using plain = startTestServer({ rate: 10 });
  const noTls = await clientsim(plain.url.replace("ws://", "wss://"));
  assert.equal(noTls.code, 1);
  assert.deepEqual(noTls.reasons, [
    `TLS handshake failed at 127.0.0.1:${plain.port}: the server does not speak TLS (use ws:// or start it with --cert and --key)`,
  ]);
  await using tls = await makeTestCert();
  await using secure = startTestServer({
    rate: 10,
    cert: tls.certFile,
    key: tls.keyFile,
  });
  const untrusted = await clientsim(secure.url);
  assert.equal(untrusted.code, 1);
  assert.equal(untrusted.reasons.length, 1);
  assert.match(
    untrusted.reasons[0]!,
    /^TLS handshake failed at 127\.0\.0\.1:\d+: invalid peer certificate: UnknownIssuer \(trust the server's CA/,
  );
});
