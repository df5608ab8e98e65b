/**
 * Memory per idle connection, measured inside the server process: the
 * JavaScript heap and external (typed array) bytes after a full GC, with N
 * idle WebSocket clients against none. Two servers in turn, both in this
 * process: fanout (`startServer`, queue mode, 1 Hz) and a bare Deno
 * `upgradeWebSocket` server (the floor of Deno's WebSocket API). The clients
 * are one Node process using `ws` from `bench/peers`.
 *
 *   deno task bench:heap            # 2,000 clients → bench/results/heap.json
 *   deno task bench:heap 500         # another client count
 *   deno task bench:heap 300 --out /tmp/heap.json   # a smoke run (CI): results elsewhere
 *
 * @module
 */
import { resolveServerConfig, startServer } from "../server/mod.ts";
import { sleep } from "./_options.ts";
import { round } from "./_point.ts";
import { filePath } from "./_servers.ts";

const gc = (globalThis as { gc?: () => void }).gc;
if (!gc) {
  console.error(
    "bench:heap needs --v8-flags=--expose-gc (deno task bench:heap sets it)",
  );
  Deno.exit(2);
}
const outAt = Deno.args.indexOf("--out");
const outArg = outAt >= 0 ? Deno.args[outAt + 1] : undefined;
if (outAt >= 0 && !outArg) {
  console.error("bench:heap: --out needs a file path");
  Deno.exit(2);
}
const positional = Deno.args.filter((_, i) =>
  outAt < 0 || (i !== outAt && i !== outAt + 1)
);
const clients = Number(positional[0] ?? 2000);
if (!Number.isInteger(clients) || clients < 1 || clients > 20_000) {
  console.error(
    `bench:heap: client count must be an integer in 1..20000, got '${
      positional[0]
    }'`,
  );
  Deno.exit(2);
}
const wsModule = filePath(new URL("./peers/node_modules/ws", import.meta.url));

/** Heap and external bytes after two GCs with a pause between. */
async function settled(): Promise<Deno.MemoryUsage> {
  gc!();
  await sleep(200);
  gc!();
  return Deno.memoryUsage();
}

/** Opens `n` idle clients on `port` in a Node child; resolves once all are open. */
async function openClients(
  port: number,
  n: number,
): Promise<Deno.ChildProcess> {
  const child = new Deno.Command("node", {
    args: [
      "-e",
      `const WebSocket = require(${JSON.stringify(wsModule)});
let open = 0;
for (let i = 0; i < ${n}; i++) {
  const ws = new WebSocket("ws://127.0.0.1:${port}/");
  ws.on("open", () => { if (++open === ${n}) console.log("open"); });
  ws.on("error", (e) => { console.error(e.message); process.exit(1); });
}
setTimeout(() => process.exit(0), 60000);`,
    ],
    stdout: "piped",
    stderr: "inherit",
  }).spawn();
  const reader = child.stdout.pipeThrough(new TextDecoderStream()).getReader();
  const first = await Promise.race([
    reader.read(),
    sleep(30_000).then(() => ({ value: undefined })),
  ]);
  if (!first.value?.includes("open")) {
    child.kill();
    throw new Error(`not all ${n} clients connected within 30 s`);
  }
  reader.releaseLock();
  return child;
}

/** Per-connection heap and external KiB for one server. */
async function measure(
  name: string,
  start: () => { port: number; count: () => number; stop: () => Promise<void> },
): Promise<Record<string, number | string>> {
  const server = start();
  await sleep(500);
  const before = await settled();
  const child = await openClients(server.port, clients);
  await sleep(2000);
  const after = await settled();
  const connected = server.count();
  child.kill();
  await child.status;
  await server.stop();
  const per = (a: number, b: number) => round((a - b) / connected / 1024, 2);
  const row = {
    server: name,
    clients: connected,
    heap_kib_per_connection: per(after.heapUsed, before.heapUsed),
    external_kib_per_connection: per(after.external, before.external),
  };
  console.log(
    `${name}: ${connected} idle clients, JS heap ${row.heap_kib_per_connection} KiB + ` +
      `external ${row.external_kib_per_connection} KiB per connection`,
  );
  return row;
}

const rows = [
  await measure("fanout (queue)", () => {
    const s = startServer(
      resolveServerConfig({
        host: "127.0.0.1",
        port: 0,
        rate: 1,
        summaryInterval: 3600,
      }),
      { logger: { log() {} } },
    );
    return {
      port: s.port,
      count: () => s.hub.size,
      stop: () => s.stop(),
    };
  }),
  await measure("Deno upgradeWebSocket (floor)", () => {
    const sockets = new Set<WebSocket>();
    const server = Deno.serve(
      { hostname: "127.0.0.1", port: 0, onListen() {} },
      (req) => {
        // The same ping setting as fanout's default (interval 20 s + timeout 20 s).
        const { socket, response } = Deno.upgradeWebSocket(req, {
          idleTimeout: 40,
        });
        socket.onopen = () => sockets.add(socket);
        socket.onclose = () => sockets.delete(socket);
        socket.onmessage = () => {};
        return response;
      },
    );
    return {
      port: server.addr.port,
      count: () => sockets.size,
      stop: async () => {
        for (const s of sockets) s.close();
        await server.shutdown();
      },
    };
  }),
];
const out = outArg ?? filePath(new URL("./results/heap.json", import.meta.url));
await Deno.writeTextFile(
  out,
  JSON.stringify({ scenario: "heap", deno: Deno.version.deno, rows }, null, 2) +
    "\n",
);
console.log(`wrote ${out}`);
Deno.exit(0);
