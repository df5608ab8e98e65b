/**
 * Run by sse_heap_test.ts as its own process (it needs
 * `--v8-flags=--expose-gc`): one fanout server in this process, N idle
 * WebSocket subscribers and then N idle SSE subscribers from another
 * process (tests/_idle_clients.ts), and the server's JS heap per
 * connection of each after a full GC, printed as one JSON line. Each
 * transport is warmed up first (a few clients come and go), so code
 * compiled on its first use is not counted per connection.
 *
 * @module
 */
import { resolveServerConfig, startServer } from "../server/mod.ts";

const n = Number(Deno.args[0] ?? 200);
const gc = (globalThis as { gc?: () => void }).gc!;
const pause = (ms: number) => new Promise((r) => setTimeout(r, ms));

const server = startServer(
  resolveServerConfig({
    host: "127.0.0.1",
    port: 0,
    source: "http",
    publishToken: "probe",
    summaryInterval: 3600,
  }),
  { logger: { log() {} } },
);

/** Waits until the hub has `count` sessions (60 s at most). */
async function sessions(count: number): Promise<void> {
  const deadline = performance.now() + 60_000;
  while (server.hub.size !== count) {
    if (performance.now() > deadline) {
      throw new Error(`hub has ${server.hub.size} sessions, not ${count}`);
    }
    await pause(20);
  }
}

/** `count` idle clients of `transport` in a child process, once all are open. */
async function clients(transport: "ws" | "sse", count: number) {
  const child = new Deno.Command(Deno.execPath(), {
    args: [
      "run",
      "-q",
      "-A",
      new URL("./_idle_clients.ts", import.meta.url).pathname,
      transport,
      server.httpUrl,
      String(count),
    ],
    stdout: "piped",
    stderr: "inherit",
  }).spawn();
  const reader = child.stdout.pipeThrough(new TextDecoderStream()).getReader();
  const { value } = await reader.read();
  reader.releaseLock();
  if (!value?.includes("open")) throw new Error(`${transport} clients failed`);
  await sessions(count);
  return {
    async [Symbol.asyncDispose]() {
      child.kill();
      await child.status;
      await child.stdout.cancel().catch(() => {});
      await sessions(0);
    },
  };
}

/** Heap used after two full GCs. */
async function settled(): Promise<number> {
  gc();
  await pause(100);
  gc();
  return Deno.memoryUsage().heapUsed;
}

/** The server's JS heap per idle connection of `transport`, bytes. */
async function perConnection(transport: "ws" | "sse"): Promise<number> {
  {
    await using _warm = await clients(transport, 20);
  }
  const before = await settled();
  await using _c = await clients(transport, n);
  return (await settled() - before) / n;
}

const ws = await perConnection("ws");
const sse = await perConnection("sse");
await server.stop();
console.log(JSON.stringify({ clients: n, ws, sse }));
Deno.exit(0);
