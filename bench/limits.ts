/**
 * The figures of the README's "Limits of the runtime" that no test holds:
 * what fanout cannot stop because Deno does not expose it, measured.
 *
 *   deno run -q -A bench/limits.ts continuations   # one client flooding empty continuation frames
 *   deno run -q -A bench/limits.ts static 50       # 50 --static downloads that are never read (~40 s)
 *
 * `continuations`: a fanout server (defaults) in a process of its own; one
 * client sends a text frame without FIN, then nothing but empty
 * continuation frames as fast as it can. Prints the server's CPU at rest
 * and under the flood (cores, from /proc), the frames sent per second, and
 * whether the client was still connected at the end.
 *
 * `static N`: a fanout server with `--static` in this process; N clients in
 * another process each ask for a 32 MiB file and never read. Prints this
 * process's descriptors and RSS at rest, while they stall, after the 30-s
 * cut, and once the clients are gone.
 *
 * @module
 */
import { resolveServerConfig, startServer } from "../server/mod.ts";
import { sleep } from "./_options.ts";
import { initClockTicks, parseStat } from "./_proc.ts";

const [what, count] = Deno.args;

/** A free loopback port. */
function freePort(): number {
  const probe = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const { port } = probe.addr as Deno.NetAddr;
  probe.close();
  return port;
}

/** CPU seconds `pid` has used so far. */
async function cpuSeconds(pid: number): Promise<number> {
  const { cpuUs } = parseStat(await Deno.readTextFile(`/proc/${pid}/stat`));
  return cpuUs / 1e6;
}

/** Cores `pid` used over the next `ms`. */
async function cores(pid: number, ms: number): Promise<number> {
  const before = await cpuSeconds(pid);
  await sleep(ms);
  return (await cpuSeconds(pid) - before) / (ms / 1000);
}

/** Writes all of `bytes` (a socket write may take only part). */
async function writeAll(conn: Deno.Conn, bytes: Uint8Array): Promise<void> {
  for (let at = 0; at < bytes.length;) {
    at += await conn.write(bytes.subarray(at));
  }
}

async function continuations(): Promise<void> {
  await initClockTicks();
  const port = freePort();
  const server = new Deno.Command(Deno.execPath(), {
    args: [
      "run",
      "-q",
      "-A",
      new URL("../main.ts", import.meta.url).pathname,
      "server",
      "--host",
      "127.0.0.1",
      "--port",
      String(port),
    ],
    stdout: "null",
    stderr: "null",
  }).spawn();
  try {
    for (let i = 0;; i++) {
      try {
        (await Deno.connect({ hostname: "127.0.0.1", port })).close();
        break;
      } catch (err) {
        if (i === 100) throw err;
        await sleep(100);
      }
    }
    const atRest = await cores(server.pid, 5000);
    const conn = await Deno.connect({ hostname: "127.0.0.1", port });
    await writeAll(
      conn,
      new TextEncoder().encode(
        "GET / HTTP/1.1\r\nhost: x\r\nupgrade: websocket\r\nconnection: Upgrade\r\n" +
          "sec-websocket-version: 13\r\nsec-websocket-key: dGhlIHNhbXBsZSBub25jZQ==\r\n\r\n",
      ),
    );
    const head = new Uint8Array(4096);
    const n = await conn.read(head);
    const status = new TextDecoder().decode(head.subarray(0, n ?? 0))
      .split("\r\n")[0];
    if (!status?.includes(" 101 ")) throw new Error(`no upgrade: ${status}`);
    let open = true;
    // Read (and drop) what the server sends, so it never waits on us.
    const reading = (async () => {
      const buf = new Uint8Array(1 << 16);
      while ((await conn.read(buf)) !== null) { /* drop */ }
    })().catch(() => {}).finally(() => open = false);
    // A text frame without FIN ("a"), then empty continuations without FIN,
    // masked as a client's frames must be.
    await writeAll(conn, new Uint8Array([0x01, 0x81, 0, 0, 0, 0, 0x61]));
    const batch = new Uint8Array(6 * 10_000);
    for (let i = 0; i < batch.length; i += 6) batch.set([0x00, 0x80], i);
    let sent = 0;
    let flooding = true;
    const flood = (async () => {
      while (flooding) {
        await writeAll(conn, batch);
        sent += 10_000;
      }
    })().catch(() => open = false);
    await sleep(1000);
    const from = sent;
    const underFlood = await cores(server.pid, 5000);
    const perSecond = Math.round((sent - from) / 5);
    const stillOpen = open;
    flooding = false;
    await flood;
    conn.close();
    await reading;
    console.log(JSON.stringify({
      cores_at_rest: Number(atRest.toFixed(2)),
      cores_under_flood: Number(underFlood.toFixed(2)),
      empty_continuations_per_second: perSecond,
      client_still_connected: stillOpen,
    }));
  } finally {
    server.kill();
    await server.status;
  }
}

async function stalledStatic(n: number): Promise<void> {
  const dir = await Deno.makeTempDir({ prefix: "fanout-limits-" });
  await Deno.writeFile(`${dir}/big.bin`, new Uint8Array(32 << 20));
  const server = startServer(
    resolveServerConfig({
      host: "127.0.0.1",
      port: 0,
      summaryInterval: 3600,
      staticDir: dir,
    }),
    { logger: { log() {} } },
  );
  const state = () => ({
    descriptors: [...Deno.readDirSync("/proc/self/fd")].length,
    rss_kib: Math.round(Deno.memoryUsage().rss / 1024),
  });
  const clients = new Deno.Command(Deno.execPath(), {
    args: [
      "eval",
      `const conns = [];
for (let i = 0; i < ${n}; i++) {
  const c = await Deno.connect({ hostname: "127.0.0.1", port: ${server.port} });
  await c.write(new TextEncoder().encode("GET /big.bin HTTP/1.1\\r\\nhost: x\\r\\n\\r\\n"));
  conns.push(c);
}
console.log("sent");
await new Promise((r) => setTimeout(r, 120000));`,
    ],
    stdout: "piped",
  });
  try {
    await sleep(500);
    const atRest = state();
    const child = clients.spawn();
    const reader = child.stdout.pipeThrough(new TextDecoderStream())
      .getReader();
    await reader.read();
    reader.releaseLock();
    await sleep(3000);
    const stalled = state();
    // The write deadline of --static is 30 s without progress.
    await sleep(32_000);
    const afterCut = state();
    child.kill();
    await child.status;
    await child.stdout.cancel().catch(() => {});
    await sleep(2000);
    console.log(JSON.stringify({
      downloads: n,
      at_rest: atRest,
      stalled,
      after_the_cut: afterCut,
      clients_gone: state(),
    }));
  } finally {
    await server.stop();
    await Deno.remove(dir, { recursive: true });
  }
}

if (what === "continuations") await continuations();
else if (what === "static") {
  const n = Number(count ?? 50);
  if (!Number.isInteger(n) || n < 1 || n > 500) {
    console.error(
      `bench/limits.ts static: download count must be an integer in 1..500, got '${count}'`,
    );
    Deno.exit(2);
  }
  await stalledStatic(n);
} else {
  console.error(
    `bench/limits.ts: say what to measure: continuations, or static [N] (got '${
      what ?? ""
    }')`,
  );
  Deno.exit(2);
}
Deno.exit(0);
