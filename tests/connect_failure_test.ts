/**
 * clientsim's one-line explanation of a failed connection: the server's
 * own reason (read by a preflight) and a hint that fits it — a draining
 * node is not a full one.
 */
import assert from "node:assert/strict";
import { explainConnectError } from "../client/connect_failure.ts";

/** A fetch that answers every request with `status` and `{"error": reason}`. */
function answering(status: number, reason: string): typeof fetch {
  return () =>
    Promise.resolve(
      new Response(JSON.stringify({ error: reason }), {
        status,
        headers: { "content-type": "application/json" },
      }),
    );
}

const refused = (status: number) =>
  new Error(
    `failed to connect to WebSocket: Invalid status code ${status} Service Unavailable`,
  );

Deno.test("explainConnectError: a 503 from a draining node says to go elsewhere; a full node's says to lower --concurrency", async () => {
  const draining = await explainConnectError(
    "ws://127.0.0.1:1/",
    refused(503),
    answering(503, "server draining (restart or deploy)"),
  );
  assert.match(draining, /^503\b.*: server draining/);
  assert.match(draining, /point --url at another node/);
  assert.doesNotMatch(draining, /lower --concurrency/);
  const full = await explainConnectError(
    "ws://127.0.0.1:1/",
    refused(503),
    answering(503, "server full: 10 subscribers (--max-clients)"),
  );
  assert.match(full, /lower --concurrency/);
});

Deno.test("explainConnectError: 401 names the token flag; nothing listening says so", async () => {
  const unauthorized = await explainConnectError(
    "ws://127.0.0.1:1/",
    refused(401),
    answering(401, "missing credentials"),
  );
  assert.match(unauthorized, /^401\b.*missing credentials.*--token/);
  const down = await explainConnectError(
    "ws://127.0.0.1:1/",
    new Error(
      "failed to connect to WebSocket: tcp connect error: Connection refused",
    ),
  );
  assert.match(down, /nothing is listening at 127\.0\.0\.1:1/);
});
