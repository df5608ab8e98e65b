/**
 * Memory per idle connection, measured inside the server process: the
 * JavaScript heap and external (typed array) bytes after a full GC, and the
 * process's RSS, with N idle clients against none. Ten servers in turn, each
 * in a process of its own: fanout (`startServer`, queue mode, 1 Hz) with its
 * defaults, with `--listener serve`, and with `--listener serve
 * --ping-interval 0`, each beside a bare Deno `upgradeWebSocket` server on the
 * same footing (the accept path and the ping setting); then fanout's SSE
 * subscribers (`GET /sse`) with the defaults and with `--listener serve`, each
 * beside a bare Deno server answering with a `ReadableStream` body on the same
 * accept path. What is above the bare row is fanout's own. The clients are one
 * Node process: `ws` from `bench/peers`, or `http.get` readers of `/sse`.
 *
 *   deno task bench:heap            # 2,000 clients → bench/results/heap.json
 *   deno task bench:heap 500         # another client count
 *   deno task bench:heap 300 --out /tmp/heap.json   # a smoke run (CI): results elsewhere
 *   deno task bench:heap 2000 --repeat 3             # interleaved repeats: medians and ranges
 *
 * @module
 */
import {
  resolveServerConfig,
  type ServerOptions,
  startServer,
} from "../server/mod.ts";
import v8 from "node:v8";
import { sleep } from "./_options.ts";
import { round, spreadOfValues } from "./_point.ts";
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
const rowFlag = Deno.args.indexOf("--row");
const repeatFlag = Deno.args.indexOf("--repeat");
const repeat = repeatFlag >= 0 ? Number(Deno.args[repeatFlag + 1]) : 1;
if (!Number.isInteger(repeat) || repeat < 1 || repeat > 9) {
  console.error(
    `bench:heap: --repeat takes an integer in 1..9, got '${
      Deno.args[repeatFlag + 1]
    }'`,
  );
  Deno.exit(2);
}
const flagAt = [outAt, rowFlag, repeatFlag].filter((i) => i >= 0);
const positional = Deno.args.filter((_, i) =>
  !flagAt.some((f) => i === f || i === f + 1)
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

/** Memory use and V8's heap spaces (committed bytes) after two GCs with a pause between. */
async function settled(): Promise<
  Deno.MemoryUsage & { spaces: Record<string, number> }
> {
  gc!();
  await sleep(200);
  gc!();
  const spaces: Record<string, number> = {};
  for (const s of v8.getHeapSpaceStatistics()) {
    spaces[s.space_name] = s.space_size;
  }
  return { ...Deno.memoryUsage(), spaces };
}

/** How a row's clients subscribe. */
type Transport = "ws" | "sse";

/** The Node program that opens `n` idle clients of `transport` on `port`. */
function clientProgram(transport: Transport, port: number, n: number): string {
  if (transport === "sse") {
    // Plain HTTP readers of /sse, each on a connection of its own, reading
    // (and dropping) what comes: the idle subscriber of an EventSource.
    return `const http = require("node:http");
let open = 0;
for (let i = 0; i < ${n}; i++) {
  const req = http.get({ host: "127.0.0.1", port: ${port}, path: "/sse?channel=default", agent: false }, (res) => {
    if (res.statusCode !== 200) { console.error("SSE status " + res.statusCode); process.exit(1); }
    res.on("data", () => {});
    if (++open === ${n}) console.log("open");
  });
  req.on("error", (e) => { console.error(e.message); process.exit(1); });
}
setTimeout(() => process.exit(0), 60000);`;
  }
  return `const WebSocket = require(${JSON.stringify(wsModule)});
let open = 0;
for (let i = 0; i < ${n}; i++) {
  const ws = new WebSocket("ws://127.0.0.1:${port}/");
  ws.on("open", () => { if (++open === ${n}) console.log("open"); });
  ws.on("error", (e) => { console.error(e.message); process.exit(1); });
}
setTimeout(() => process.exit(0), 60000);`;
}

/** Opens `n` idle clients on `port` in a Node child; resolves once all are open. */
async function openClients(
  port: number,
  n: number,
  transport: Transport,
): Promise<Deno.ChildProcess> {
  const child = new Deno.Command("node", {
    args: ["-e", clientProgram(transport, port, n)],
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

/** A server started for one row. */
interface Started {
  readonly port: number;
  /** How its clients subscribe. @default "ws" */
  readonly transport?: Transport;
  count(): number;
  stop(): Promise<void>;
}

/** Per-connection heap and external KiB for one server. */
async function measure(
  name: string,
  start: () => Started,
): Promise<Record<string, number | string>> {
  const server = start();
  await sleep(500);
  const before = await settled();
  const child = await openClients(
    server.port,
    clients,
    server.transport ?? "ws",
  );
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
    // The whole process, native side included (Deno's sockets, hyper's
    // connection state, V8's heap headroom). Noisier than the heap: V8 grows
    // its heap in steps, so compare medians of repeats (--repeat).
    rss_kib_per_connection: per(after.rss, before.rss),
    // What V8 keeps committed for its heap: used heap plus the headroom it
    // grew while the clients connected (part of the RSS above).
    heap_total_kib_per_connection: per(after.heapTotal, before.heapTotal),
    // Of it, the young generation: V8 grows it while clients connect and
    // frames flow, up to a cap, so it is a fixed amount shared out here, not
    // memory each connection keeps; the old generation is what they keep.
    new_space_kib_per_connection: per(
      after.spaces.new_space!,
      before.spaces.new_space!,
    ),
    old_space_kib_per_connection: per(
      after.spaces.old_space!,
      before.spaces.old_space!,
    ),
  };
  console.log(
    `${name}: ${connected} idle clients, JS heap ${row.heap_kib_per_connection} KiB + ` +
      `external ${row.external_kib_per_connection} KiB (V8 heap committed ${row.heap_total_kib_per_connection} KiB), ` +
      `RSS ${row.rss_kib_per_connection} KiB per connection`,
  );
  return row;
}

/** fanout in this process, queue mode at 1 Hz, with `extra` options. */
function fanout(extra: Partial<ServerOptions>, transport: Transport = "ws") {
  return () => {
    const s = startServer(
      resolveServerConfig({
        host: "127.0.0.1",
        port: 0,
        rate: 1,
        summaryInterval: 3600,
        ...extra,
      }),
      { logger: { log() {} } },
    );
    return {
      port: s.port,
      transport,
      count: () => s.hub.size,
      stop: () => s.stop(),
    };
  };
}

/** The HTTP servers a bare upgradeWebSocket server can stand on. */
type Accept = "serve" | "serveHttp";

/** A listening bare server: its port and how to stop accepting. */
interface Listening {
  readonly port: number;
  stop(): Promise<void>;
}

/** Serves `handler` on a free port through `accept`, as a bare server would. */
function listen(
  accept: Accept,
  handler: (req: Request) => Response,
): Listening {
  if (accept === "serve") {
    const server = Deno.serve(
      { hostname: "127.0.0.1", port: 0, onListen() {} },
      handler,
    );
    return { port: server.addr.port, stop: () => server.shutdown() };
  }
  const serveHttp = (Deno as unknown as {
    serveHttp(conn: Deno.Conn): {
      nextRequest(): Promise<
        {
          request: Request;
          respondWith(r: Response): Promise<void>;
        } | null
      >;
      close(): void;
    };
  }).serveHttp;
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const serveOne = async (conn: Deno.Conn) => {
    const http = serveHttp(conn);
    const event = await http.nextRequest().catch(() => null);
    if (!event) return;
    await event.respondWith(handler(event.request)).catch(() => {});
    try {
      http.close();
    } catch { /* the WebSocket owns it */ }
  };
  (async () => {
    for await (const conn of listener) serveOne(conn);
  })().catch(() => {});
  return {
    port: (listener.addr as Deno.NetAddr).port,
    stop: () => Promise.resolve(listener.close()),
  };
}

/**
 * A bare `upgradeWebSocket` server: what Deno itself keeps per connection.
 * @param accept `Deno.serve`, or the legacy per-connection `Deno.serveHttp`
 *   that fanout's guarded listener uses
 * @param idleTimeout Deno's ping setting (40: fanout's default 20 s + 20 s; 0: no pings)
 */
function bare(accept: Accept, idleTimeout: number) {
  return (): Started => {
    const sockets = new Set<WebSocket>();
    const server = listen(accept, (req) => {
      const { socket, response } = Deno.upgradeWebSocket(req, { idleTimeout });
      socket.onopen = () => sockets.add(socket);
      socket.onclose = () => sockets.delete(socket);
      socket.onmessage = () => {};
      return response;
    });
    return {
      port: server.port,
      count: () => sockets.size,
      stop: async () => {
        for (const s of sockets) s.close();
        await server.stop();
      },
    };
  };
}

/**
 * A bare SSE server: each request answered with a `ReadableStream` body
 * that sends one `retry:` line and then waits — what Deno itself keeps per
 * open streaming response.
 * @param accept `Deno.serve`, or `Deno.serveHttp` as fanout's guarded listener
 */
function bareSse(accept: Accept) {
  return (): Started => {
    const open = new Set<ReadableStreamDefaultController<Uint8Array>>();
    const retry = new TextEncoder().encode("retry: 1000\n\n");
    const server = listen(accept, () => {
      let controller: ReadableStreamDefaultController<Uint8Array>;
      const body = new ReadableStream<Uint8Array>({
        start(c) {
          controller = c;
          open.add(c);
          c.enqueue(retry);
        },
        cancel() {
          open.delete(controller);
        },
      }, { highWaterMark: 0 });
      return new Response(body, {
        headers: { "content-type": "text/event-stream" },
      });
    });
    return {
      port: server.port,
      transport: "sse",
      count: () => open.size,
      stop: async () => {
        for (const c of open) c.close();
        await server.stop();
      },
    };
  };
}

// Each fanout row beside the bare server that does what it does underneath:
// the guarded listener accepts through Deno.serveHttp; pings are Deno's.
const ROWS: [name: string, start: () => Started][] = [
  ["fanout (queue, defaults)", fanout({})],
  [
    "Deno serveHttp + upgradeWebSocket, pings (floor of the defaults)",
    bare("serveHttp", 40),
  ],
  ["fanout --listener serve", fanout({ listener: "serve" })],
  [
    "Deno.serve + upgradeWebSocket, pings (floor of --listener serve)",
    bare("serve", 40),
  ],
  [
    "fanout --listener serve --ping-interval 0",
    fanout({ listener: "serve", pingInterval: 0 }),
  ],
  [
    "Deno.serve + upgradeWebSocket, no pings (floor of the row above)",
    bare("serve", 0),
  ],
  // SSE subscribers (GET /sse) on the same footings: the guarded listener's
  // Deno.serveHttp, and Deno.serve.
  ["fanout SSE (defaults)", fanout({}, "sse")],
  [
    "Deno serveHttp + ReadableStream response (floor of fanout SSE)",
    bareSse("serveHttp"),
  ],
  ["fanout SSE --listener serve", fanout({ listener: "serve" }, "sse")],
  [
    "Deno.serve + ReadableStream response (floor of SSE --listener serve)",
    bareSse("serve"),
  ],
];

// Each row in a process of its own: what one server leaves behind (sockets
// still closing, its modules) must not count for or against the next.
const rowAt = Deno.args.indexOf("--row");
if (rowAt >= 0) {
  const [name, start] = ROWS[Number(Deno.args[rowAt + 1])]!;
  console.log(JSON.stringify(await measure(name, start)));
  Deno.exit(0);
}
// Repeats interleave (every row once, then again) so drift on the machine
// hits every row alike; each figure is reported as the median of the repeats
// with its range.
const runs: Record<string, number | string>[][] = ROWS.map(() => []);
for (let r = 0; r < repeat; r++) {
  for (let i = 0; i < ROWS.length; i++) {
    const out = await new Deno.Command(Deno.execPath(), {
      args: [
        "run",
        "-q",
        "-A",
        "--v8-flags=--expose-gc",
        import.meta.filename!,
        String(clients),
        "--row",
        String(i),
      ],
      stderr: "inherit",
    }).output();
    const lines = new TextDecoder().decode(out.stdout).trim().split("\n");
    if (!out.success) {
      console.error(lines.join("\n"));
      Deno.exit(1);
    }
    console.log(lines.slice(0, -1).join("\n"));
    runs[i]!.push(JSON.parse(lines.at(-1)!));
  }
}
const rows = runs.map((rs) => {
  const first = rs[0]!;
  if (repeat === 1) return first;
  const row: Record<string, unknown> = { server: first.server };
  for (const key of Object.keys(first)) {
    if (key === "server") continue;
    const s = spreadOfValues(rs.map((x) => x[key] as number));
    row[key] = s.median;
    if (key !== "clients") row[`${key}_range`] = [s.min, s.max];
  }
  console.log(
    `${row.server}: median of ${repeat}: JS heap ${row.heap_kib_per_connection} KiB, ` +
      `RSS ${row.rss_kib_per_connection} KiB per connection`,
  );
  return row;
});
const out = outArg ?? filePath(new URL("./results/heap.json", import.meta.url));
await Deno.writeTextFile(
  out,
  JSON.stringify(
    { scenario: "heap", deno: Deno.version.deno, repeat, rows },
    null,
    2,
  ) +
    "\n",
);
console.log(`wrote ${out}`);
Deno.exit(0);
