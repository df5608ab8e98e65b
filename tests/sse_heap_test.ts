/**
 * What an idle SSE subscriber costs the server, against an idle WebSocket
 * one: measured in a process of its own (tests/_sse_heap_probe.ts, with
 * `--expose-gc`), JS heap after a full GC, clients in yet another process.
 * A relation, not a threshold in bytes: an SSE subscriber may cost what
 * Deno's streaming response and the request it keeps cost on top of a
 * WebSocket one (about 1.6 KiB over 9.4 in Deno 2.9), never a stream
 * pipeline, queue or timer of its own per connection (a TransformStream
 * between the sink and the response breaks it: 17.4 KiB against 9.6).
 */
import assert from "node:assert/strict";
import { runGcProbe } from "./_cli.ts";

Deno.test("SSE: an idle SSE subscriber costs the server at most 1.5× the JS heap of an idle WebSocket one (200 of each, after a full GC)", async () => {
  const { ws, sse } = await runGcProbe<{ ws: number; sse: number }>(
    "_sse_heap_probe.ts",
    "200",
  );
  const kib = (b: number) => (b / 1024).toFixed(2);
  console.log(
    `  JS heap per idle connection: WebSocket ${kib(ws)} KiB, SSE ${
      kib(sse)
    } KiB`,
  );
  assert.ok(ws > 0 && sse > 0, `both measured: ${JSON.stringify({ ws, sse })}`);
  assert.ok(
    sse <= 1.5 * ws,
    `SSE ${kib(sse)} KiB per connection, over 1.5× WebSocket's ${kib(ws)} KiB`,
  );
});
