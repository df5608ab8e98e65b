/**
 * The accept loop under attack, with the CLI as a subprocess under a low
 * `ulimit -n`: file-descriptor exhaustion, silent and trickling
 * connections (slowloris), the cap on connections that have not made a
 * request, malformed upgrades. Every attacking socket is opened from this
 * process on loopback, bounded in number, and closed by the test.
 */
import assert from "node:assert/strict";
import {
  denoRunMain,
  FanoutProcess,
  parseJsonObject,
  waitForListening,
} from "./_cli.ts";
import { waitFor } from "./_helpers.ts";
import { listen } from "../server/http/listener.ts";

/** `fanout server …` under `ulimit -n LIMIT`. */
function serverUnderUlimit(limit: number, args: readonly string[]) {
  return new FanoutProcess(
    [
      "server",
      "--host",
      "127.0.0.1",
      "--port",
      "0",
      "--log-json",
      "--summary-interval",
      "3600",
      ...args,
    ],
    {
      command: [
        "bash",
        "-c",
        `ulimit -n ${limit} && exec "$@"`,
        "bash",
        ...denoRunMain(),
      ],
    },
  );
}

/** A WebSocket client that counts the frames it receives. */
class CountingClient implements AsyncDisposable {
  readonly ws: WebSocket;
  received = 0;
  closeCode: number | undefined;
  readonly opened: Promise<boolean>;
  readonly closed: Promise<void>;

  constructor(url: string) {
    this.ws = new WebSocket(url);
    const open = Promise.withResolvers<boolean>();
    const closed = Promise.withResolvers<void>();
    this.opened = open.promise;
    this.closed = closed.promise;
    this.ws.onopen = () => open.resolve(true);
    this.ws.onerror = () => open.resolve(false);
    this.ws.onmessage = () => this.received++;
    this.ws.onclose = (e) => {
      this.closeCode = e.code;
      open.resolve(false);
      closed.resolve();
    };
  }

  async [Symbol.asyncDispose](): Promise<void> {
    if (this.ws.readyState !== WebSocket.CLOSED) this.ws.close(1000);
    await this.closed;
  }
}

/** Resolves with how a raw socket ended: EOF/reset from the server, or still open. */
async function endedByServer(conn: Deno.Conn): Promise<boolean> {
  try {
    const buf = new Uint8Array(4096);
    while (true) {
      const n = await conn.read(buf);
      if (n === null) return true;
    }
  } catch {
    return true; // reset by the server
  }
}

/** Whether the server ends `conn` within `ms`. */
async function endsWithin(conn: Deno.Conn, ms: number): Promise<boolean> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const late = new Promise<false>((r) => {
    timer = setTimeout(() => r(false), ms);
  });
  try {
    return await Promise.race([endedByServer(conn), late]);
  } finally {
    clearTimeout(timer);
  }
}

/** Whether `promise` resolves true within `ms` (false when it resolves false or is late). */
async function trueWithin(
  promise: Promise<boolean>,
  ms: number,
): Promise<boolean> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const late = new Promise<false>((r) => {
    timer = setTimeout(() => r(false), ms);
  });
  try {
    return await Promise.race([promise, late]);
  } finally {
    clearTimeout(timer);
  }
}

/** Descriptors process `pid` holds open (listed by a child: /proc is not ours to read). */
async function openFdsOf(pid: number): Promise<number> {
  const out = await new Deno.Command("ls", { args: [`/proc/${pid}/fd`] })
    .output();
  return new TextDecoder().decode(out.stdout).split("\n").filter(Boolean)
    .length;
}

function closeAll(conns: Deno.Conn[]): void {
  for (const c of conns) {
    try {
      c.close();
    } catch { /* already closed */ }
  }
}

/**
 * A counter from `/metrics`; 0 while the server refuses the request (a
 * connection not served at a limit), so `waitFor` tries again.
 */
async function metric(httpUrl: string, line: RegExp): Promise<number> {
  try {
    const text = await (await fetch(`${httpUrl}metrics`)).text();
    const match = text.match(line);
    return match ? Number(match[1]) : 0;
  } catch {
    return 0;
  }
}

Deno.test("fd exhaustion: 400 idle sockets under ulimit -n 256 do not kill the server; new connections are refused and counted; it recovers", async () => {
  await using server = serverUnderUlimit(256, [
    "--rate",
    "50",
    "--handshake-timeout",
    "120",
  ]);
  const { port } = await waitForListening(server);
  const url = `ws://127.0.0.1:${port}/`;
  const httpUrl = `http://127.0.0.1:${port}/`;
  await using client = new CountingClient(url);
  assert.ok(await client.opened, "the first client connects");
  await waitFor("the first messages", () => client.received >= 10);

  const idle: Deno.Conn[] = [];
  try {
    for (let i = 0; i < 400; i++) {
      idle.push(await Deno.connect({ hostname: "127.0.0.1", port }));
    }
    const limit = await server.stdout.waitForJson(
      "the fd-limit line",
      (r) => r.type === "listener" && r.trouble === "fd_limit",
    );
    assert.ok(Number(limit.count) >= 1);
    // Refused connections are closed at once by the server.
    const refused = (await Promise.all(idle.map((c) => endsWithin(c, 2000))))
      .filter(Boolean).length;
    assert.ok(refused >= 100, `${refused} of 400 idle sockets refused`);
    // The connected client is still served while the server is at its limit.
    const before = client.received;
    await waitFor(
      "messages during the flood",
      () => client.received >= before + 50,
    );
    // A new client cannot get in now.
    await using late = new CountingClient(url);
    assert.equal(
      await trueWithin(late.opened, 5000),
      false,
      "a new client is refused at the limit",
    );
    console.log(
      `  at the limit: ${refused} of 400 idle sockets refused, the connected client received ${
        client.received - before
      } messages meanwhile`,
    );
  } finally {
    closeAll(idle);
  }
  const freed = performance.now();
  // Once the server has let the idle sockets go, the very first new client
  // gets in: none is taken to be refused after the episode is over.
  await waitFor(
    "the server to free its descriptors",
    async () => (await openFdsOf(server.pid)) < 128,
    20_000,
    100,
  );
  {
    await using first = new CountingClient(url);
    assert.ok(
      await trueWithin(first.opened, 10_000),
      "the first client after the episode gets in",
    );
  }
  await waitFor(
    "a client after the sockets closed",
    async () => {
      await using again = new CountingClient(url);
      if (!await again.opened) return false;
      await waitFor("its first message", () => again.received > 0);
      return true;
    },
    20_000,
    200,
  );
  console.log(
    `  recovered ${
      ((performance.now() - freed) / 1000).toFixed(2)
    } s after the sockets closed`,
  );
  await waitFor(
    "the refusals counted in fanout_rejections_total",
    async () =>
      await metric(
        httpUrl,
        /^fanout_rejections_total\{reason="fd_limit"\} (\d+)/m,
      ) >= 1,
  );
  assert.equal(
    client.ws.readyState,
    WebSocket.OPEN,
    "the first client stayed connected",
  );
  server.kill("SIGTERM");
  const { code } = await server.exit();
  assert.equal(code, 0, server.stderr.text);
  assert.ok(
    server.stdout.lines.some((l) => parseJsonObject(l)?.type === "final"),
  );
  assert.doesNotMatch(server.stderr.text, /Uncaught|Too many open files/);
});

Deno.test("slowloris: silent, half-sent and trickling connections are closed after --handshake-timeout, under ulimit -n 256", async () => {
  await using server = serverUnderUlimit(256, [
    "--rate",
    "50",
    "--handshake-timeout",
    "1",
  ]);
  const { port } = await waitForListening(server);
  const url = `ws://127.0.0.1:${port}/`;
  await using client = new CountingClient(url);
  assert.ok(await client.opened);
  const encoder = new TextEncoder();
  const silent: Deno.Conn[] = [];
  const partial: Deno.Conn[] = [];
  const trickle: Deno.Conn[] = [];
  let trickling = true;
  try {
    // More sockets than the descriptor limit, in waves the timeout clears.
    for (let i = 0; i < 150; i++) {
      silent.push(await Deno.connect({ hostname: "127.0.0.1", port }));
    }
    const firstWave = await Promise.all(
      silent.map((c) => endsWithin(c, 15_000)),
    );
    assert.equal(
      firstWave.filter((x) => !x).length,
      0,
      "the first wave was closed",
    );
    for (let i = 0; i < 150; i++) {
      silent.push(await Deno.connect({ hostname: "127.0.0.1", port }));
    }
    for (let i = 0; i < 5; i++) {
      const c = await Deno.connect({ hostname: "127.0.0.1", port });
      await c.write(encoder.encode("GET / HTTP/1.1\r\nHost: x\r\nUpgr"));
      partial.push(c);
    }
    for (let i = 0; i < 5; i++) {
      const c = await Deno.connect({ hostname: "127.0.0.1", port });
      await c.write(encoder.encode("GET / HTTP/1.1\r\n"));
      trickle.push(c);
    }
    // One header line every 200 ms: each byte arrives well within any
    // per-read timeout, the request never completes.
    (async () => {
      for (let n = 0; trickling && n < 100; n++) {
        await new Promise((r) => setTimeout(r, 200));
        for (const c of trickle) {
          await c.write(encoder.encode(`X-Slow-${n}: 1\r\n`)).catch(() => {});
        }
      }
    })();
    const ended = await Promise.all(
      [...silent.slice(150), ...partial, ...trickle].map((c) =>
        endsWithin(c, 15_000)
      ),
    );
    assert.equal(
      ended.filter((x) => !x).length,
      0,
      "every slow connection was closed by the server",
    );
    const before = client.received;
    await waitFor(
      "messages after the attack",
      () => client.received >= before + 20,
    );
  } finally {
    trickling = false;
    closeAll([...silent, ...partial, ...trickle]);
  }
  const line = await server.stdout.waitForJson(
    "the handshake-timeout line",
    (r) => r.type === "listener" && r.trouble === "handshake_timeout",
  );
  assert.ok(Number(line.count) >= 1);
  await waitFor("300 handshake timeouts counted", async () =>
    await metric(
      `http://127.0.0.1:${port}/`,
      /^fanout_rejections_total\{reason="handshake_timeout"\} (\d+)/m,
    ) >= 300);
  assert.equal(client.ws.readyState, WebSocket.OPEN);
  server.kill("SIGTERM");
  assert.equal((await server.exit()).code, 0, server.stderr.text);
});

Deno.test("--max-pending: at the cap the server stops accepting; a new client waits in the backlog until the waiting connections are gone, then gets in", async () => {
  await using server = serverUnderUlimit(256, [
    "--max-pending",
    "5",
    "--handshake-timeout",
    "120",
  ]);
  const { port } = await waitForListening(server);
  const silent: Deno.Conn[] = [];
  try {
    for (let i = 0; i < 5; i++) {
      silent.push(await Deno.connect({ hostname: "127.0.0.1", port }));
    }
    // Accepted in arrival order: the five fill the cap, the loop pauses,
    // and the client waits in the kernel's backlog.
    await using client = new CountingClient(`ws://127.0.0.1:${port}/`);
    const line = await server.stdout.waitForJson(
      "the accept-paused line",
      (r) => r.type === "listener" && r.trouble === "accept_paused",
    );
    assert.ok(Number(line.count) >= 1);
    assert.equal(client.ws.readyState, WebSocket.CONNECTING, "not in yet");
    closeAll(silent);
    assert.ok(await trueWithin(client.opened, 10_000), "in once they went");
  } finally {
    closeAll(silent);
  }
});

Deno.test("a burst of 2,000 clients connecting at once all get in under --max-pending 1000 (slowed, not refused)", async () => {
  await using server = serverUnderUlimit(4096, ["--rate", "1"]);
  const { port } = await waitForListening(server);
  const sockets = Array.from(
    { length: 2000 },
    () => new WebSocket(`ws://127.0.0.1:${port}/`),
  );
  try {
    const outcomes = await Promise.all(
      sockets.map((ws) =>
        new Promise<boolean>((resolve) => {
          ws.onopen = () => resolve(true);
          ws.onerror = () => resolve(false);
        })
      ),
    );
    assert.equal(outcomes.filter(Boolean).length, 2000);
  } finally {
    await Promise.all(sockets.map((ws) =>
      new Promise<void>((resolve) => {
        if (ws.readyState === WebSocket.CLOSED) return resolve();
        ws.onclose = () => resolve();
        ws.close();
      })
    ));
  }
});

Deno.test("--listener serve (Deno.serve's accept loop) survives fd exhaustion too: it listens again and the connected client is served throughout", async () => {
  await using server = serverUnderUlimit(256, [
    "--rate",
    "50",
    "--listener",
    "serve",
  ]);
  const { port } = await waitForListening(server);
  const url = `ws://127.0.0.1:${port}/`;
  await using client = new CountingClient(url);
  assert.ok(await client.opened);
  const idle: Deno.Conn[] = [];
  try {
    for (let i = 0; i < 400; i++) {
      try {
        idle.push(await Deno.connect({ hostname: "127.0.0.1", port }));
      } catch {
        break; // refused while it listens again
      }
    }
    await server.stdout.waitForJson(
      "the fd-limit line",
      (r) => r.type === "listener" && r.trouble === "fd_limit",
    );
    const before = client.received;
    await waitFor(
      "messages during the flood",
      () => client.received >= before + 50,
    );
  } finally {
    closeAll(idle);
  }
  await waitFor(
    "a client after the sockets closed",
    async () => {
      await using again = new CountingClient(url);
      if (!await trueWithin(again.opened, 2000)) return false;
      await waitFor("its first message", () => again.received > 0);
      return true;
    },
    20_000,
    200,
  );
  assert.equal(client.ws.readyState, WebSocket.OPEN);
  server.kill("SIGTERM");
  assert.equal((await server.exit()).code, 0, server.stderr.text);
  assert.doesNotMatch(server.stderr.text, /Uncaught/);
});

Deno.test("listen() falls back to Deno.serve where Deno.serveHttp is missing, and says once that it is unguarded", async () => {
  const lines: Record<string, unknown>[] = [];
  const listener = listen({
    hostname: "127.0.0.1",
    port: 0,
    handshakeTimeoutMs: 1000,
    maxPending: 10,
    reject() {},
    logger: { log: (r) => void lines.push(r) },
    serveHttp: null,
  }, () => new Response("ok"));
  try {
    assert.equal(listener.guarded, false);
    const res = await fetch(`http://127.0.0.1:${listener.addr.port}/`);
    assert.equal(await res.text(), "ok");
    assert.deepEqual(lines.map((l) => l.trouble), ["unguarded"]);
    assert.match(String(lines[0]!.type), /listener/);
  } finally {
    await listener.shutdown();
  }
});

Deno.test("a request with both Content-Length and Transfer-Encoding is refused with 400 and its connection closed", async () => {
  let handled = 0;
  const listener = listen({
    hostname: "127.0.0.1",
    port: 0,
    handshakeTimeoutMs: 5000,
    maxPending: 10,
    reject() {},
    logger: { log() {} },
  }, () => {
    handled++;
    return new Response("ok");
  });
  try {
    const conn = await Deno.connect({
      hostname: "127.0.0.1",
      port: listener.addr.port,
    });
    await conn.write(new TextEncoder().encode(
      "POST /publish HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\n" +
        "Transfer-Encoding: chunked\r\n\r\n0\r\n\r\n",
    ));
    // The whole answer, up to the server closing the connection.
    const answer = await new Response(conn.readable).text();
    assert.match(answer, /^HTTP\/1\.1 400 /);
    assert.match(answer, /Content-Length and Transfer-Encoding/);
    assert.equal(handled, 0, "the handler never saw it");
  } finally {
    await listener.shutdown();
  }
});
