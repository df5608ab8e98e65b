/**
 * Run by client_sim_client_test.ts as its own process (it needs
 * `--v8-flags=--expose-gc`): a SimClient reads N large frames from a
 * WsFixture, then the heap is measured after a full GC and printed as one
 * JSON line. A client that kept every frame alive would hold them all.
 *
 * @module
 */
import { SimClient } from "../client/sim_client.ts";
import { waitFor, WsFixture } from "./_ws_fixture.ts";

const messages = Number(Deno.args[0] ?? 2000);
const gc = (globalThis as { gc?: () => void }).gc!;
{
  await using fixture = WsFixture.start({
    rate: 1000,
    payloadBytes: 48 * 1024,
  });
  await using client = new SimClient(fixture.url, { id: "heap" });
  client.run();
  await waitFor(
    () => client.snapshot().messages >= messages,
    `${messages} messages`,
    60_000,
  );
  gc();
  await new Promise((r) => setTimeout(r, 100));
  gc();
  const { heapUsed } = Deno.memoryUsage();
  console.log(
    JSON.stringify({ messages: client.snapshot().messages, heapUsed }),
  );
}
