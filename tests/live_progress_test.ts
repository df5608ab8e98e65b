/**
 * Live terminal progress: LiveLine on its own, then clientsim and the demo
 * on a real pseudo-terminal (util-linux `script`), and without one.
 */
import assert from "node:assert/strict";
import { run as clientsim } from "../client/cli.ts";
import { lineWriter, LiveLine } from "../lib/live_line.ts";
import { resolveServerConfig, startServer } from "../server/mod.ts";
import { REPO_ROOT } from "./_cli.ts";
import { findTool, reportSkip } from "./_tools.ts";

const CLEAR = "\r\x1b[2K";

function capture(tty: boolean, columns = 40, plainEveryMs = 0) {
  let out = "";
  let t = 0;
  const live = new LiveLine({
    tty,
    write: (text) => void (out += text),
    columns: () => columns,
    plainEveryMs,
    now: () => t,
  });
  return {
    live,
    out: () => out,
    advance: (ms: number) => void (t += ms),
  };
}

Deno.test("LiveLine on a terminal redraws the status in place, prints lines above it and cuts it to the width", () => {
  const { live, out } = capture(true, 20);
  live.status("1 s");
  live.status("2 s");
  live.line("[c1] a line");
  live.status("a status much longer than twenty columns");
  live.clear();
  assert.equal(
    out(),
    `1 s${CLEAR}2 s${CLEAR}[c1] a line\n2 s${CLEAR}a status much long…${CLEAR}`,
  );
});

Deno.test("LiveLine.commit() keeps the last status on screen as a line", () => {
  const { live, out } = capture(true);
  live.status("naive 15/15 s");
  live.commit();
  live.line("next");
  assert.equal(out(), `naive 15/15 s\nnext\n`);
});

Deno.test("LiveLine redraws a block of lines in place on a terminal and joins it into one plain line elsewhere", () => {
  const tty = capture(true);
  tty.live.status("[naive 1/3 s]\n  fast ok");
  tty.live.status("[naive 2/3 s]\n  fast ok");
  tty.live.line("above");
  const UP = "\x1b[1A";
  assert.equal(
    tty.out(),
    `[naive 1/3 s]\n  fast ok${CLEAR}${UP}${CLEAR}[naive 2/3 s]\n  fast ok` +
      `${CLEAR}${UP}${CLEAR}above\n[naive 2/3 s]\n  fast ok`,
  );
  const plain = capture(false);
  plain.live.status("[naive 1/3 s]\n  fast ok");
  assert.equal(plain.out(), "[naive 1/3 s] | fast ok\n");
});

Deno.test("LiveLine without a terminal prints plain lines, the status at most every plainEveryMs", () => {
  const { live, out, advance } = capture(false, 10, 1000);
  live.status("a long status, never cut");
  advance(500);
  live.status("skipped");
  advance(500);
  live.status("third");
  live.line("a line");
  live.commit();
  live.clear();
  assert.equal(out(), "a long status, never cut\nthird\na line\n");
  assert.ok(!out().includes("\x1b"), "no escape codes");
});

Deno.test("lineWriter() hands complete lines to a line printer and holds a partial one", () => {
  const lines: string[] = [];
  const write = lineWriter((l) => lines.push(l));
  write("a\nb");
  write("c\n\n");
  assert.deepEqual(lines, ["a", "bc", ""]);
});

const SCRIPT = findTool("/usr/bin/script", "script", "util-linux");

/** Runs `fanout …args` on a pseudo-terminal; returns everything it wrote. */
async function onTerminal(args: string[], timeoutMs: number): Promise<string> {
  const command = [
    Deno.execPath(),
    "run",
    "-q",
    "-P=fanout",
    "main.ts",
    ...args,
  ]
    .map((a) => `'${a.replaceAll("'", "'\\''")}'`).join(" ");
  const out = await new Deno.Command(SCRIPT.path!, {
    args: ["-qefc", command, "/dev/null"],
    cwd: REPO_ROOT,
    stdin: "null",
    stdout: "piped",
    stderr: "piped",
    signal: AbortSignal.timeout(timeoutMs),
  }).output();
  const text = new TextDecoder().decode(out.stdout);
  assert.equal(out.code, 0, text + new TextDecoder().decode(out.stderr));
  return text;
}

Deno.test({
  name:
    "fanout clientsim on a terminal redraws one status line (elapsed, connected, msg/s, p99) and ends with the table",
  ignore: SCRIPT.missing !== undefined,
  async fn() {
    await using server = startServer(
      resolveServerConfig({
        host: "127.0.0.1",
        port: 0,
        rate: 50,
        summaryInterval: 3600,
      }),
      { logger: { log() {} } },
    );
    const text = await onTerminal(
      [
        "clientsim",
        "--url",
        server.url,
        "--concurrency",
        "2",
        "--duration",
        "1.6",
      ],
      30_000,
    );
    const statuses = text.split(CLEAR).slice(1).filter((s) =>
      s.startsWith("[clientsim ")
    );
    assert.ok(
      statuses.length >= 2,
      `redrawn in place:\n${JSON.stringify(text)}`,
    );
    assert.match(
      statuses.at(-1)!,
      /^\[clientsim [\d.]+\/1\.6 s\] 2\/2 connected, [\d.]+ msg\/s, p99 [\d.]+ ms, 0 drops/,
    );
    assert.match(text, /\r?\ntotal +\d+/, "the final table follows");
  },
});

Deno.test({
  name:
    "fanout demo on a terminal redraws each mode's progress in place and keeps its last line",
  ignore: SCRIPT.missing !== undefined,
  async fn() {
    const text = await onTerminal(
      ["demo", "--duration", "3", "--fast", "2", "--payload-bytes", "1024"],
      60_000,
    );
    for (const mode of ["naive", "queue"]) {
      const redraws = text.split(CLEAR).filter((s) => s.startsWith(`[${mode}`));
      assert.ok(
        redraws.length >= 2,
        `${mode} progress redrawn:\n${JSON.stringify(text)}`,
      );
      assert.match(
        redraws.at(-1)!,
        /^\[\w+ +3s\/3s\] \d clients connected\r?\n {2}fast: .*\r?\n {2}slow: .*\r?\n {2}server: queued \d+/,
      );
      assert.match(redraws.at(-1)!, /\r?\n/, "the last state stays as a line");
    }
    assert.match(text, /NAIVE +QUEUE/);
  },
});
reportSkip("terminal progress tests", SCRIPT);

Deno.test("fanout clientsim without a terminal writes plain lines, no escape codes", async () => {
  await using server = startServer(
    resolveServerConfig({
      host: "127.0.0.1",
      port: 0,
      rate: 50,
      summaryInterval: 3600,
    }),
    { logger: { log() {} } },
  );
  const out: string[] = [];
  const err: string[] = [];
  const code = await clientsim(
    [
      "--url",
      server.url,
      "--duration",
      "0.6",
      "--print-every",
      "10",
      "--per-client",
    ],
    { out: (l) => out.push(l), err: (l) => err.push(l) },
  );
  assert.equal(code, 0);
  assert.ok(out.some((l) => l.startsWith("[cli-0] Count:")));
  assert.ok(
    !(out.join("\n") + err.join("\n")).includes("\x1b"),
    "no escape codes",
  );
});
