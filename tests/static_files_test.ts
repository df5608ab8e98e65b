/**
 * `--static DIR` on a real server: files under DIR with their content
 * types, directory index, HEAD; and nothing outside DIR however the path is
 * spelled (dot segments, encoded slashes and dots, backslashes, NUL,
 * dotfiles, a symlink out); the server's own paths stay its own.
 */
import assert from "node:assert/strict";
import type { RunningServer } from "../server/mod.ts";
import { FanoutProcess, runToEnd, waitForListening } from "./_cli.ts";
import { startTestServer, waitFor } from "./_helpers.ts";
import { listen } from "../server/http/listener.ts";
import { createStaticFiles } from "../server/http/static_files.ts";

/** A directory to serve, beside a secret that must never be served. */
async function site() {
  const base = await Deno.makeTempDir({ prefix: "fanout-static-" });
  const dir = `${base}/www`;
  await Deno.mkdir(`${dir}/sub`, { recursive: true });
  await Deno.writeTextFile(`${dir}/page.html`, "<h1>page</h1>");
  await Deno.writeTextFile(`${dir}/app.mjs`, "export const x = 1;");
  await Deno.writeTextFile(`${dir}/sub/index.html`, "sub index");
  await Deno.writeTextFile(`${dir}/my file.txt`, "spaced");
  await Deno.writeTextFile(`${dir}/.env`, "SECRET=1");
  await Deno.writeTextFile(`${dir}/sse`, "a file named sse");
  await Deno.writeTextFile(`${base}/secret.txt`, "SECRET");
  await Deno.symlink(`${base}/secret.txt`, `${dir}/link.txt`);
  await Deno.mkdir(`${dir}/.git`);
  await Deno.writeTextFile(`${dir}/.git/config`, "SECRET");
  await Deno.symlink(`${dir}/.env`, `${dir}/env.txt`);
  await Deno.symlink(`${dir}/.git`, `${dir}/gitdir`);
  return {
    dir,
    [Symbol.asyncDispose]: () => Deno.remove(base, { recursive: true }),
  };
}

async function get(server: RunningServer, path: string, method = "GET") {
  const res = await fetch(new URL(path, server.httpUrl), { method });
  return { res, text: await res.text() };
}

/** Sends `path` exactly as written (no client-side normalisation). */
async function raw(server: RunningServer, path: string): Promise<string> {
  const conn = await Deno.connect({ hostname: "127.0.0.1", port: server.port });
  try {
    await conn.write(
      new TextEncoder().encode(
        `GET ${path} HTTP/1.1\r\nhost: x\r\nconnection: close\r\n\r\n`,
      ),
    );
    return await new Response(conn.readable).text();
  } catch {
    return "";
  }
}

Deno.test("--static serves files under DIR with their types, a directory's index.html, and HEAD", async () => {
  await using www = await site();
  await using server = startTestServer({ rate: 10, staticDir: www.dir });
  const page = await get(server, "/page.html");
  assert.equal(page.res.status, 200);
  assert.equal(page.text, "<h1>page</h1>");
  assert.match(page.res.headers.get("content-type")!, /^text\/html/);
  const mjs = await get(server, "/app.mjs");
  assert.match(mjs.res.headers.get("content-type")!, /^text\/javascript/);
  assert.equal((await get(server, "/sub/")).text, "sub index");
  assert.equal((await get(server, "/my%20file.txt")).text, "spaced");
  const head = await get(server, "/page.html", "HEAD");
  assert.equal(head.res.status, 200);
  assert.equal(head.res.headers.get("content-length"), "13");
  assert.equal(head.text, "");
});

Deno.test("--static never serves outside DIR, dotfiles or through a symlink out; the server's own paths stay its own", async () => {
  await using www = await site();
  await using server = startTestServer({ rate: 10, staticDir: www.dir });
  for (
    const path of [
      "/../secret.txt",
      "/..%2fsecret.txt",
      "/%2e%2e/secret.txt",
      "/%2e%2e%2fsecret.txt",
      "/sub/..%2f..%2fsecret.txt",
      "/..%5csecret.txt",
      "/page.html%00.txt",
      "/.env",
      "/%2eenv",
      "/link.txt",
      "/env.txt",
      "/gitdir/config",
      "/nope.html",
      "/%E0%A4%A",
    ]
  ) {
    const { res, text } = await get(server, path);
    assert.equal(res.status, 404, path);
    assert.doesNotMatch(text, /SECRET/, path);
    assert.match(res.headers.get("content-type")!, /^application\/json/, path);
  }
  for (
    const path of [
      "/../secret.txt",
      "/../../../etc/passwd",
      "/sub/../../secret.txt",
    ]
  ) {
    const answer = await raw(server, path);
    assert.doesNotMatch(answer, /SECRET|root:/, path);
  }
  // The dashboard, the SDK and SSE are the server's, whatever DIR holds.
  assert.match((await get(server, "/")).text, /<html/i);
  assert.match((await get(server, "/client.js")).text, /FanoutClient/);
  const sse = await fetch(new URL("/sse", server.httpUrl));
  assert.match(sse.headers.get("content-type")!, /^text\/event-stream/);
  await sse.body?.cancel();
  const post = await fetch(new URL("/page.html", server.httpUrl), {
    method: "POST",
    body: "x",
  });
  assert.equal(post.status, 404, "files are GET/HEAD only");
  await post.body?.cancel();
});

Deno.test("fanout server --static examples/ (the README's command) names the directory, the SDK and SSE when it listens, and serves /ticker.html", async () => {
  await using proc = new FanoutProcess([
    "server",
    "--static",
    "examples/",
    "--host",
    "127.0.0.1",
    "--port",
    "0",
    "--log-json",
  ]);
  const listening = await waitForListening(proc);
  assert.equal(listening.static_dir, "examples/");
  assert.equal(listening.sdk, `http://127.0.0.1:${listening.port}/client.js`);
  assert.equal(listening.sse, `http://127.0.0.1:${listening.port}/sse`);
  const page = await fetch(`http://127.0.0.1:${listening.port}/ticker.html`);
  assert.equal(page.status, 200);
  assert.match(
    await page.text(),
    /import \{ FanoutClient \} from "\/client\.js"/,
  );
  proc.kill("SIGTERM");
  assert.equal((await proc.exit()).code, 0);
});

Deno.test("fanout server --static with a path that is not a directory: one line, exit 2, nothing started", async () => {
  const { code, stdout, stderr } = await runToEnd([
    "server",
    "--port",
    "0",
    "--static",
    "/nonexistent/fanout-www",
  ]);
  assert.equal(code, 2);
  assert.equal(stdout, "");
  assert.match(
    stderr.trim(),
    /^--static \/nonexistent\/fanout-www: not a readable directory \(it does not exist\)/,
  );
  assert.equal(stderr.trim().split("\n").length, 1);
});

Deno.test("--static cuts a download the client never reads after the write deadline and closes its file", async () => {
  const base = await Deno.makeTempDir({ prefix: "fanout-static-" });
  let cuts = 0;
  // Larger than loopback's socket buffers: the server must wait for the client.
  const big = new Uint8Array(32 << 20);
  await Deno.writeFile(`${base}/big.bin`, big);
  const listener = listen(
    {
      hostname: "127.0.0.1",
      port: 0,
      handshakeTimeoutMs: 5000,
      maxPending: 64,
      reject() {},
      logger: { log() {} },
    },
    async (req) => {
      const files = createStaticFiles(Deno.realPathSync(base), {
        writeTimeoutMs: 300,
        onCut: () => cuts++,
      });
      return await files(req, new URL(req.url)) ??
        new Response("no", { status: 404 });
    },
  );
  try {
    const conn = await Deno.connect({
      hostname: "127.0.0.1",
      port: listener.addr.port,
    });
    await conn.write(
      new TextEncoder().encode(
        "GET /big.bin HTTP/1.1\r\nhost: x\r\nconnection: close\r\n\r\n",
      ),
    );
    // Never read: after the deadline the server stops sending and closes the file.
    await waitFor("the cut", () => cuts === 1, 15_000);
    let got = 0;
    const buf = new Uint8Array(1 << 16);
    try {
      for (let n; (n = await conn.read(buf)) !== null;) got += n;
    } catch { /* reset */ }
    conn.close();
    assert.ok(got < big.length, `cut short: ${got} of ${big.length} bytes`);
  } finally {
    await listener.shutdown();
    await Deno.remove(base, { recursive: true });
  }
});
