/**
 * A graceful stop, with the CLI as a subprocess: clients that ACK every
 * message all see the close (1001), none a broken connection (1006),
 * because the server lets them take what is queued and ACK it before it
 * closes them, then waits for the close handshakes.
 *
 * The load is modest on purpose (100 clients at 20 msg/s, all in this one
 * test process): the server waits at most SHUTDOWN_DEADLINE_MS for the close
 * handshakes, and on a busy machine a test process that reads 30,000 frames
 * a second (300 clients at 100/s) could not answer its closes in time.
 */
import assert from "node:assert/strict";
import { FanoutProcess, parseJsonObject, waitForListening } from "./_cli.ts";
import { waitFor } from "./_helpers.ts";

const CLIENTS = 100;

Deno.test("SIGTERM with --drain-ms 0: 100 clients ACKing every message all see 1001 and the final summary is printed", async () => {
  // The immediate stop: publishing stops first, ACKs in flight arrive, then
  // the closes (a drain closes while messages flow: README, "Graceful drain").
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
  const codes = new Map<number, number>();
  let received = 0;
  const closed: Promise<void>[] = [];
  const sockets: WebSocket[] = [];
  for (let i = 0; i < CLIENTS; i++) {
    const ws = new WebSocket(`ws://127.0.0.1:${port}/`);
    sockets.push(ws);
    ws.onmessage = (e) => {
      received++;
      const { seq, ts_send } = JSON.parse(e.data);
      if (ws.readyState === WebSocket.OPEN) {
        ws.send(JSON.stringify({ ack_ts: ts_send, seq }));
      }
    };
    ws.onerror = () => {};
    closed.push(
      new Promise((resolve) => {
        ws.onclose = (e) => {
          codes.set(e.code, (codes.get(e.code) ?? 0) + 1);
          resolve();
        };
      }),
    );
  }
  await waitFor(
    "every client receiving",
    () => received >= CLIENTS * 5,
    60_000,
  );
  proc.kill("SIGTERM");
  await Promise.all(closed);
  const { code } = await proc.exit();
  assert.equal(code, 0, proc.stderr.text);
  const summary = Object.fromEntries(codes);
  console.log(`  close codes seen by the clients: ${JSON.stringify(summary)}`);
  assert.deepEqual(summary, { 1001: CLIENTS }, "every client saw the close");
  assert.ok(
    proc.stdout.lines.some((l) => parseJsonObject(l)?.type === "final"),
  );
});
