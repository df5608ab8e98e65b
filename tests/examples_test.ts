/**
 * Every file in examples/ runs: the subscriber under Deno and Node, the
 * publisher (JSON and NDJSON), `tail -F` into `--source stdin`, the
 * production YAML, and the systemd unit (`systemd-analyze verify`). The
 * browser ticker is in tests/browser_test.ts.
 */
import assert from "node:assert/strict";
import { FanoutClient, type FanoutMessage } from "../sdk/mod.ts";
import { parseServerArgs } from "../server/mod.ts";
import {
  FanoutProcess,
  LineReader,
  REPO_ROOT,
  waitForListening,
  withDeadline,
} from "./_cli.ts";
import { ManualClient, startTestServer, waitFor } from "./_helpers.ts";
import { makeTestCert } from "./_tls.ts";
import { findTool, reportSkip } from "./_tools.ts";

const NODE = findTool("/usr/bin/node", "node", "install Node.js 20 or later");
const SYSTEMD_ANALYZE = findTool(
  "/usr/bin/systemd-analyze",
  "systemd-analyze",
  "apt-get install systemd",
);
const SETSID = findTool(
  "/usr/bin/setsid",
  "setsid",
  "apt-get install util-linux",
);
reportSkip("the Node example runs", NODE);
reportSkip("the systemd unit check", SYSTEMD_ANALYZE);
reportSkip("the tail -F example", SETSID);

/** Runs a command in the repository to its end, with a deadline. */
async function run(cmd: string, args: string[], timeoutMs = 20_000) {
  const child = new Deno.Command(cmd, {
    args,
    cwd: REPO_ROOT,
    stdout: "piped",
    stderr: "piped",
    stdin: "null",
  }).spawn();
  const timer = setTimeout(() => {
    try {
      child.kill("SIGKILL");
    } catch { /* exited */ }
  }, timeoutMs);
  const out = await child.output();
  clearTimeout(timer);
  const dec = new TextDecoder();
  return {
    code: out.code,
    stdout: dec.decode(out.stdout),
    stderr: dec.decode(out.stderr),
  };
}

const deno = (...args: string[]) => run(Deno.execPath(), args);

/** Checks the subscriber's output: `count` consecutive messages, then done. */
function checkSubscriberOutput(stdout: string, count: number) {
  const seqs = stdout.split("\n").filter((l) => l.startsWith("message "))
    .map((l) => Number(l.split(" ")[1]));
  assert.equal(seqs.length, count, stdout);
  seqs.forEach((s, i) => i > 0 && assert.equal(s, seqs[i - 1]! + 1));
  assert.match(stdout, /^connected \(attempt 1\)$/m);
  assert.match(
    stdout,
    new RegExp(
      `^done: ${count} messages, last position \\{"epoch":"[\\w-]+","seq":${
        seqs.at(-1)
      },"ts":[\\d.]+\\}$`,
      "m",
    ),
  );
}

Deno.test("examples/subscribe.mjs under Deno: consecutive messages through the SDK, then a clean stop", async () => {
  await using server = startTestServer({ rate: 100 });
  const r = await deno(
    "run",
    "-q",
    "--allow-net",
    "examples/subscribe.mjs",
    server.url,
    "--count",
    "20",
  );
  assert.equal(r.code, 0, r.stderr);
  checkSubscriberOutput(r.stdout, 20);
});

Deno.test({
  name:
    "examples/subscribe.mjs under Node 20 (--experimental-websocket), on a channel",
  ignore: NODE.missing !== undefined,
  async fn() {
    await using server = startTestServer({
      source: "http",
      publishToken: "pt",
    });
    const child = new Deno.Command(NODE.path!, {
      args: [
        "--experimental-websocket",
        "--no-warnings",
        "examples/subscribe.mjs",
        server.url,
        "--channel",
        "prices",
        "--count",
        "3",
      ],
      cwd: REPO_ROOT,
      stdout: "piped",
      stderr: "piped",
    }).spawn();
    const out = new LineReader(child.stdout);
    const err = new LineReader(child.stderr);
    try {
      await out.waitForLine("connected", (l) => l.startsWith("connected"));
      for (let n = 1; n <= 3; n++) {
        const res = await fetch(
          new URL("/publish?channel=prices", server.httpUrl),
          {
            method: "POST",
            headers: {
              authorization: "Bearer pt",
              "content-type": "application/json",
            },
            body: JSON.stringify({ n }),
          },
        );
        assert.equal(res.status, 200);
        await res.body?.cancel();
      }
      const status = await withDeadline("node to exit", child.status);
      assert.equal(status.code, 0, err.text);
      await out.done;
      checkSubscriberOutput(out.text, 3);
      assert.match(out.text, /^message \d+ prices \{"n":3\}$/m);
    } finally {
      try {
        child.kill("SIGKILL");
      } catch { /* exited */ }
      await child.status;
      await Promise.all([out.done, err.done]);
    }
  },
});

Deno.test("examples/publish.mjs publishes JSON ticks (Deno) and an NDJSON batch (Node) that a subscriber receives in order; a wrong token fails with the server's reason", async () => {
  await using server = startTestServer({ source: "http", publishToken: "pt" });
  const client = new FanoutClient(server.url, { channel: "prices" });
  const got: FanoutMessage[] = [];
  client.on("message", (m) => got.push(m));
  client.start();
  try {
    await waitFor("the subscriber", () => server.hub.size === 1);
    const one = await deno(
      "run",
      "-q",
      "--allow-net",
      "examples/publish.mjs",
      "--url",
      server.httpUrl,
      "--token",
      "pt",
      "--channel",
      "prices",
      "--count",
      "4",
      "--interval-ms",
      "5",
    );
    assert.equal(one.code, 0, one.stderr);
    assert.match(one.stdout, /^published to prices: seq 4 \(epoch [\w-]+\)$/m);
    if (NODE.path) {
      const batch = await run(NODE.path, [
        "examples/publish.mjs",
        "--url",
        server.httpUrl,
        "--token",
        "pt",
        "--channel",
        "prices",
        "--count",
        "3",
        "--batch",
      ]);
      assert.equal(batch.code, 0, batch.stderr);
      assert.match(
        batch.stdout,
        /^published 3 messages to prices: seq 5\.\.7/m,
      );
    }
    const total = NODE.path ? 7 : 4;
    await waitFor("every message", () => got.length >= total);
    assert.deepEqual(
      got.map((m) => m.seq),
      [...Array(total)].map((_, i) => i + 1),
    );
    assert.deepEqual(
      got.map((m) => (m.data as { n: number }).n),
      NODE.path ? [1, 2, 3, 4, 1, 2, 3] : [1, 2, 3, 4],
    );
    const wrong = await deno(
      "run",
      "-q",
      "--allow-net",
      "examples/publish.mjs",
      "--url",
      server.httpUrl,
      "--token",
      "nope",
    );
    assert.equal(wrong.code, 1);
    assert.match(
      wrong.stderr,
      /^publish\.mjs: 401 publishing needs the publish token/,
    );
  } finally {
    client.close();
    await client.closed;
  }
});

Deno.test({
  name:
    "examples/tail_stdin.sh: lines already in the log and lines written later reach a subscriber, in order",
  ignore: SETSID.missing !== undefined,
  async fn() {
    const dir = await Deno.makeTempDir({ prefix: "fanout-tail-" });
    const log = `${dir}/app.log`;
    await Deno.writeTextFile(
      log,
      'first line\n{"level":"info","n":2}\nthird\n',
    );
    const path = `${Deno.execPath().replace(/\/[^/]+$/, "")}:${
      Deno.env.get("PATH")
    }`;
    const child = new Deno.Command(SETSID.path!, {
      args: [
        "sh",
        "examples/tail_stdin.sh",
        log,
        "--host",
        "127.0.0.1",
        "--port",
        "0",
        "--log-json",
        "--history",
        "100",
        "--summary-interval",
        "3600",
      ],
      cwd: REPO_ROOT,
      env: { PATH: path },
      stdin: "null",
      stdout: "piped",
      stderr: "piped",
    }).spawn();
    const out = new LineReader(child.stdout);
    const err = new LineReader(child.stderr);
    try {
      const first = await out.waitForLine(
        "the listening line",
        () => true,
        20_000,
      );
      const { port } = JSON.parse(first);
      assert.equal(typeof port, "number", first);
      await using sub = new ManualClient(`ws://127.0.0.1:${port}/?since=0`);
      await sub.open();
      const frames: Record<string, unknown>[] = [];
      const next = async () => {
        const f = JSON.parse(String(await sub.read()));
        if (!("type" in f)) frames.push(f);
        return f;
      };
      assert.equal((await next()).type, "position");
      while (frames.length < 3) await next();
      await Deno.writeTextFile(log, "written later\nand another\n", {
        append: true,
      });
      while (frames.length < 5) await next();
      assert.deepEqual(frames.map((f) => f.data), [
        "first line",
        { level: "info", n: 2 },
        "third",
        "written later",
        "and another",
      ]);
      assert.deepEqual(frames.map((f) => f.seq), [1, 2, 3, 4, 5]);
    } finally {
      // The whole pipeline (sh, tail, deno) is one process group.
      try {
        Deno.kill(-child.pid, "SIGTERM");
      } catch { /* gone */ }
      await child.status;
      await Promise.all([out.done, err.done]);
      await Deno.remove(dir, { recursive: true });
    }
  },
});

Deno.test("examples/production.yaml: fanout server --config accepts it (TLS, JWT, publish token, limits) and serves wss:// with it", async () => {
  const parsed = await parseServerArgs([
    "--config",
    "examples/production.yaml",
  ]);
  assert.equal(parsed.help, false);
  if (parsed.help) return;
  const c = parsed.config;
  assert.equal(c.server.source, "http");
  assert.ok(c.auth.jwtSecret && c.auth.publishToken);
  assert.deepEqual(c.tls, {
    certFile: "/etc/fanout/tls/fullchain.pem",
    keyFile: "/etc/fanout/tls/privkey.pem",
  });
  assert.equal(c.limits.maxClients, 50_000);
  assert.deepEqual(c.limits.allowedOrigins, ["https://app.example.com"]);
  // The subscribers are protected, so the admin surfaces must be too.
  assert.ok(c.auth.adminToken, "production.yaml sets auth.admin_token");
  // And it runs: the real certificate paths replaced by a throwaway pair.
  await using tls = await makeTestCert();
  await using proc = new FanoutProcess([
    "server",
    "--config",
    "examples/production.yaml",
    "--cert",
    tls.certFile,
    "--key",
    tls.keyFile,
    "--host",
    "127.0.0.1",
    "--port",
    "0",
  ]);
  const listening = await waitForListening(proc);
  assert.match(String(listening.url), /^wss:\/\/127\.0\.0\.1:\d+\/$/);
  proc.kill("SIGTERM");
  assert.equal((await proc.exit()).code, 0, proc.stderr.text);
});

Deno.test({
  name: "examples/fanout.service passes systemd-analyze verify",
  ignore: SYSTEMD_ANALYZE.missing !== undefined,
  async fn() {
    const unit = await Deno.readTextFile(
      new URL("examples/fanout.service", REPO_ROOT),
    );
    const exec = /^ExecStart=(\S+)/m.exec(unit)?.[1];
    assert.equal(exec, "/usr/local/bin/fanout");
    const verify = async (text: string) => {
      const dir = await Deno.makeTempDir({ prefix: "fanout-unit-" });
      try {
        await Deno.writeTextFile(`${dir}/fanout.service`, text);
        return await run(SYSTEMD_ANALYZE.path!, [
          "verify",
          `${dir}/fanout.service`,
        ]);
      } finally {
        await Deno.remove(dir, { recursive: true });
      }
    };
    // Every directive, with ExecStart's binary swapped for one that exists
    // here (verify checks that it is executable, and runs nothing).
    const swapped = await verify(unit.replaceAll(exec, Deno.execPath()));
    assert.equal(swapped.code, 0, swapped.stderr);
    assert.equal(swapped.stderr.trim(), "", "no warnings about any directive");
    const binary = findTool(
      exec,
      "the fanout binary",
      "deno task compile, then install it",
    );
    if (binary.missing) {
      console.log(
        `fanout.service verified with ExecStart as written skipped: ${binary.missing}`,
      );
      return;
    }
    const asIs = await verify(unit);
    assert.equal(asIs.code, 0, asIs.stderr);
    assert.equal(asIs.stderr.trim(), "");
  },
});

Deno.test("examples/ladder_watch.mjs under Deno: slow for a while, it is moved down the ladder, then climbs back", async () => {
  await using server = startTestServer({
    policy: "ladder",
    payloadBytes: 65536,
    ladderDownMs: 300,
    ladderUpMs: 1000,
  });
  const r = await deno(
    "run",
    "-q",
    "--allow-net",
    "examples/ladder_watch.mjs",
    server.url,
    "--slow-s",
    "4",
    "--for",
    "14",
  );
  assert.equal(r.code, 0, r.stderr);
  assert.match(r.stdout, /tier full -> \w+ \((behind|queue_full)/, r.stdout);
  assert.match(r.stdout, /tier \w+ -> \w+ \(kept_up/, r.stdout);
  assert.match(r.stdout, /lag: /);
  assert.match(r.stdout, /closed 1000 done/);
  assert.match(r.stdout, /^done: \d+ messages/m);
});

Deno.test("every file in examples/ is run by a test (here, or the ticker page in browser_test.ts)", async () => {
  const here = await Deno.readTextFile(
    new URL("tests/examples_test.ts", REPO_ROOT),
  );
  const browser = await Deno.readTextFile(
    new URL("tests/browser_test.ts", REPO_ROOT),
  );
  const left: string[] = [];
  for await (const { name } of Deno.readDir(new URL("examples/", REPO_ROOT))) {
    // Named as a path a command or a URL opens: "examples/x" here, or the
    // page ".../x`" served by --static examples/ in the browser test.
    const ran = here.includes(`"examples/${name}"`) ||
      browser.includes(`/${name}\``);
    if (!ran) left.push(name);
  }
  assert.deepEqual(left, [], "examples that no test runs");
});
