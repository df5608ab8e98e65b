/**
 * A graceful stop and a graceful drain, with the CLI as a subprocess:
 * clients that ACK every message all see the server's close (1001 for the
 * immediate stop, 1012 for a drain), none a broken connection (1006).
 * Deno drops a connection that receives a frame while it is closing, so
 * the server stops sending to a client and lets its ACKs catch up before
 * it closes it: the stop does so for everyone once publishing has stopped,
 * the drain client by client while messages still flow to the others.
 *
 * The load is modest on purpose (100 clients at 20 msg/s, all in this one
 * test process): the server waits at most SHUTDOWN_DEADLINE_MS for the close
 * handshakes, and on a busy machine a test process that reads 30,000 frames
 * a second (300 clients at 100/s) could not answer its closes in time.
 */
import assert from "node:assert/strict";
import { parseRetryHint } from "../lib/retry_hint.ts";
import { FanoutProcess, parseJsonObject, waitForListening } from "./_cli.ts";
import { ackingClients, type SeenClose } from "./_helpers.ts";

const CLIENTS = 100;

function tally(seen: readonly SeenClose[]): Record<number, number> {
  const codes: Record<number, number> = {};
  for (const { code } of seen) codes[code] = (codes[code] ?? 0) + 1;
  return codes;
}

Deno.test("SIGTERM with --drain-ms 0: 100 clients ACKing every message all see 1001 and the final summary is printed", async () => {
  // The immediate stop: publishing stops first, ACKs in flight arrive, then
  // the closes.
  await using proc = new FanoutProcess([
    "server",
    "--drain-ms",
    "0",
    "--host",
    "127.0.0.1",
    "--port",
    "0",
    "--rate",
    "20",
    "--log-json",
    "--summary-interval",
    "3600",
  ]);
  const { port } = await waitForListening(proc);
  const closed = await ackingClients(`ws://127.0.0.1:${port}/`, CLIENTS, 3);
  proc.kill("SIGTERM");
  const seen = await Promise.all(closed);
  const { code } = await proc.exit();
  assert.equal(code, 0, proc.stderr.text);
  const summary = tally(seen);
  console.log(`  close codes seen by the clients: ${JSON.stringify(summary)}`);
  assert.deepEqual(summary, { 1001: CLIENTS }, "every client saw the close");
  assert.ok(
    proc.stdout.lines.some((l) => parseJsonObject(l)?.type === "final"),
  );
});

Deno.test("SIGTERM drain while messages flow: 100 clients ACKing every message all see 1012 with a retry hint, none 1006", async () => {
  await using proc = new FanoutProcess([
    "server",
    "--drain-ms",
    "500",
    "--host",
    "127.0.0.1",
    "--port",
    "0",
    "--rate",
    "50",
    "--log-json",
    "--summary-interval",
    "3600",
  ]);
  const { port } = await waitForListening(proc);
  const closed = await ackingClients(`ws://127.0.0.1:${port}/`, CLIENTS, 3);
  proc.kill("SIGTERM");
  const seen = await Promise.all(closed);
  const { code } = await proc.exit(30_000);
  assert.equal(code, 0, proc.stderr.text);
  const summary = tally(seen);
  console.log(`  close codes seen by the clients: ${JSON.stringify(summary)}`);
  assert.deepEqual(summary, { 1012: CLIENTS }, "every client saw the drain");
  for (const { reason } of seen) {
    assert.ok(parseRetryHint(reason)! > 0, `a hint in ${reason}`);
  }
});
