/**
 * The SDK as users get it: `sdk/fanout_client.js`, one JavaScript module
 * bundled from `sdk/mod.ts` by `deno task sdk`. It must be current, free of
 * Deno APIs, served at `GET /client.js`, and work under Node (with a cut
 * mid-stream: resumed, no hole, no duplicate).
 */
import assert from "node:assert/strict";
import { REPO_ROOT } from "./_cli.ts";
import { LineReader, parseJsonObject } from "./_cli.ts";
import { startTestServer, waitFor } from "./_helpers.ts";
import { findTool, reportSkip } from "./_tools.ts";

const BUNDLE = new URL("sdk/fanout_client.js", REPO_ROOT);
const NODE = findTool("/usr/bin/node", "node", "install Node.js 20 or later");
reportSkip("the SDK-under-Node test", NODE);

Deno.test("the committed SDK bundle is what `deno task sdk` builds from sdk/mod.ts now (run `deno task sdk` after changing the SDK)", async () => {
  const config = JSON.parse(
    await Deno.readTextFile(new URL("deno.json", REPO_ROOT)),
  );
  const task: string = config.tasks.sdk;
  const [deno, ...args] = task.split(/\s+/);
  assert.equal(deno, "deno");
  const out = args.indexOf("-o");
  assert.equal(args[out + 1], "sdk/fanout_client.js");
  const dir = await Deno.makeTempDir({ prefix: "fanout-sdk-" });
  try {
    args[out + 1] = `${dir}/fanout_client.js`;
    const run = await new Deno.Command(Deno.execPath(), {
      args,
      cwd: REPO_ROOT,
      stdout: "piped",
      stderr: "piped",
    }).output();
    assert.equal(run.code, 0, new TextDecoder().decode(run.stderr));
    const fresh = await Deno.readTextFile(`${dir}/fanout_client.js`);
    const committed = await Deno.readTextFile(BUNDLE);
    assert.ok(
      fresh === committed,
      "sdk/fanout_client.js is stale: run `deno task sdk` and commit it",
    );
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("the SDK bundle uses no Deno API and exports the client, its core and the close-code table", async () => {
  const text = await Deno.readTextFile(BUNDLE);
  assert.doesNotMatch(text, /\bDeno\./);
  const exports = text.slice(text.lastIndexOf("export {"));
  for (
    const name of [
      "FanoutClient",
      "StreamState",
      "classifyClose",
      "Backoff",
      "CLOSE_CODES",
      "PROTOCOL_VERSION",
    ]
  ) {
    assert.match(exports, new RegExp(`\\b${name}\\b`), name);
  }
});

Deno.test("GET /client.js serves the bundle as JavaScript any origin may import", async () => {
  await using server = startTestServer({ rate: 10 });
  const res = await fetch(new URL("/client.js", server.httpUrl));
  assert.equal(res.status, 200);
  assert.match(res.headers.get("content-type") ?? "", /^text\/javascript/);
  assert.equal(res.headers.get("access-control-allow-origin"), "*");
  assert.equal(await res.text(), await Deno.readTextFile(BUNDLE));
  const head = await fetch(new URL("/client.js", server.httpUrl), {
    method: "HEAD",
  });
  assert.equal(head.status, 200);
  await head.body?.cancel();
});

Deno.test({
  name:
    "the SDK bundle under Node resumes after a server-side cut (4002) with no hole and no duplicate",
  ignore: NODE.missing !== undefined,
  async fn() {
    await using server = startTestServer({ rate: 200, history: 1000 });
    const child = new Deno.Command(NODE.path!, {
      args: [
        "--experimental-websocket",
        "--no-warnings",
        "tests/_node_subscriber.mjs",
        BUNDLE.href,
        server.url,
        "200",
      ],
      cwd: REPO_ROOT,
      stdout: "piped",
      stderr: "piped",
    }).spawn();
    const out = new LineReader(child.stdout);
    const err = new LineReader(child.stderr);
    try {
      await out.waitForJson("20 messages", (r) => Number(r.messages) >= 20);
      await waitFor("the session", () => server.hub.size === 1);
      for (const s of server.hub.sessions) {
        server.hub.close(s, "ping_timeout", "test cut");
      }
      const done = await out.waitForJson("done", (r) => r.event === "done");
      console.log(
        `sdk under node ${done.node}: ${done.messages} messages, ${done.connects} connections, holes ${done.holes}, duplicates ${done.duplicates}`,
      );
      assert.equal(done.holes, 0);
      assert.equal(done.duplicates, 0);
      assert.equal(done.connects, 2);
      const status = await child.status;
      assert.equal(status.code, 0, err.text);
      const closes = out.lines.map(parseJsonObject).filter((r) =>
        r?.event === "close"
      );
      const { reason, ...close } = closes[0]!;
      assert.deepEqual(close, {
        event: "close",
        code: 4002,
        willReconnect: true,
      });
      assert.match(String(reason), /^test cut; retry_in_ms=\d+$/);
    } finally {
      try {
        child.kill("SIGKILL");
      } catch { /* exited */ }
      await child.status;
      await Promise.all([out.done, err.done]);
    }
  },
});
