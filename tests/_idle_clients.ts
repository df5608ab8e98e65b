/**
 * Run by tests/_sse_heap_probe.ts as its own process: opens N idle
 * subscribers of one transport on a server and keeps them open until it is
 * killed, so their memory is not counted in the server's process. Prints
 * `open` once every one is connected (a WebSocket opened; an SSE response
 * arrived and is being read).
 *
 *   deno run -A tests/_idle_clients.ts ws|sse BASE_URL N
 *
 * @module
 */
const [transport, base, count] = Deno.args;
const n = Number(count);
if ((transport !== "ws" && transport !== "sse") || !base || !(n > 0)) {
  console.error("usage: _idle_clients.ts ws|sse BASE_URL N");
  Deno.exit(2);
}
const keep: unknown[] = [];
const opened = Array.from({ length: n }, async () => {
  if (transport === "ws") {
    const ws = new WebSocket(base.replace(/^http/, "ws"));
    keep.push(ws);
    await new Promise((resolve, reject) => {
      ws.onopen = resolve;
      ws.onerror = () => reject(new Error("WebSocket failed"));
    });
    return;
  }
  const res = await fetch(new URL("sse?channel=default", base));
  if (res.status !== 200 || !res.body) throw new Error(`SSE ${res.status}`);
  const reader = res.body.getReader();
  keep.push(reader);
  (async () => {
    while (!(await reader.read()).done) { /* idle: drop what comes */ }
  })().catch(() => {});
});
await Promise.all(opened);
console.log("open");
