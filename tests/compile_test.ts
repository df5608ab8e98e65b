/**
 * The compiled binary (`deno task compile`) behaves like `deno run main.ts`.
 *
 * The binary is built once, at load time, into a temporary directory, with
 * the `compile` task's own command line (only `--output` changes). `deno
 * compile` downloads a runtime from Deno's servers; when it cannot, the tests
 * are registered as ignored and one line says why.
 *
 * @module
 */
import assert from "node:assert/strict";
import {
  FanoutProcess,
  parseJsonObject,
  REPO_ROOT,
  runToEnd,
  waitForListening,
} from "./_cli.ts";

/** The `compile` task's arguments after `deno`, with `--output` set to `output` and `-q` added. */
async function compileArgs(output: string): Promise<string[]> {
  const config = JSON.parse(
    await Deno.readTextFile(new URL("deno.json", REPO_ROOT)),
  ) as { tasks?: Record<string, string> };
  const task = config.tasks?.compile;
  if (task === undefined) throw new Error("deno.json has no compile task");
  const words = task.trim().split(/\s+/);
  if (words[0] !== "deno" || words[1] !== "compile") {
    throw new Error(`unexpected compile task: ${task}`);
  }
  const args = words.slice(1);
  const at = args.findIndex((w) => w === "--output" || w === "-o");
  if (at >= 0) args.splice(at, 2, "--output", output);
  else {
    const eq = args.findIndex((w) => w.startsWith("--output="));
    if (eq >= 0) args.splice(eq, 1, "--output", output);
    else args.splice(1, 0, "--output", output);
  }
  if (!args.includes("-q") && !args.includes("--quiet")) {
    args.splice(1, 0, "-q");
  }
  return args;
}

/** ANSI colour codes out, for matching and printing. */
function plain(text: string): string {
  // deno-lint-ignore no-control-regex
  return text.replace(/\x1b\[[0-9;]*m/g, "");
}

const tmpDir = await Deno.makeTempDir({ prefix: "fanout-compile-" });
let cleaned = false;
function cleanUp(): void {
  if (cleaned) return;
  cleaned = true;
  try {
    Deno.removeSync(tmpDir, { recursive: true });
  } catch {
    // Already gone.
  }
}
// Runs even when a filter skips every test below.
globalThis.addEventListener("unload", cleanUp);

const binary = `${tmpDir}/fanout${Deno.build.os === "windows" ? ".exe" : ""}`;
const compiled = await new Deno.Command(Deno.execPath(), {
  args: await compileArgs(binary),
  cwd: REPO_ROOT,
  stdin: "null",
  stdout: "piped",
  stderr: "piped",
}).output();
const compileError = plain(
  new TextDecoder().decode(compiled.stderr) +
    new TextDecoder().decode(compiled.stdout),
);
/** True when the runtime download (not our code) made `deno compile` fail. */
const noRuntime = !compiled.success &&
  /denort|dl\.deno\.land|Setting up base binary|error sending request/i.test(
    compileError,
  );
if (noRuntime) {
  cleanUp();
  const lines = compileError.split("\n").map((l) => l.trim()).filter((l) =>
    l !== ""
  );
  // The first line says only "Writing deno compile executable …"; the line
  // naming the failed download says why.
  const why = lines.find((l) => /error sending request/i.test(l))?.replace(
    /^\d+:\s*/,
    "",
  ) ?? lines[0] ?? `exit code ${compiled.code}`;
  console.log(
    `compiled-binary tests skipped: deno compile could not fetch its runtime (${why})`,
  );
}

/** Fails the test with `deno compile`'s own error if it failed for another reason. */
function assertCompiled(): void {
  assert.ok(
    compiled.success,
    `deno compile failed (exit ${compiled.code}):\n${compileError}`,
  );
}

const COMMAND: [string] = [binary];

Deno.test({
  name: "compiled fanout prints usage and exits 0 when given --help",
  ignore: noRuntime,
  fn: async () => {
    assertCompiled();
    const { code, stdout } = await runToEnd(["--help"], 30_000, {
      command: COMMAND,
    });
    assert.equal(code, 0);
    assert.match(stdout, /Usage: fanout <command>/);
  },
});

Deno.test({
  name: "compiled fanout server exits 2 with one stderr line when --rate is 0",
  ignore: noRuntime,
  fn: async () => {
    assertCompiled();
    const { code, stdout, stderr } = await runToEnd(
      ["server", "--rate", "0"],
      30_000,
      { command: COMMAND },
    );
    assert.equal(code, 2);
    assert.equal(stdout, "");
    const lines = stderr.split("\n").filter((l) => l !== "");
    assert.equal(lines.length, 1, stderr);
    assert.match(lines[0]!, /--rate/);
  },
});

Deno.test({
  name: "compiled fanout server prints listening and exits 0 when sent SIGINT",
  ignore: noRuntime,
  fn: async () => {
    assertCompiled();
    await using server = new FanoutProcess([
      "server",
      "--port",
      "0",
      "--host",
      "127.0.0.1",
      "--log-json",
      "--summary-interval",
      "0.2",
    ], { command: COMMAND });
    const listening = await waitForListening(server);
    assert.ok(listening.port > 0);
    // The first summary proves the signal handlers are installed (see
    // readyForSignals in cli_test.ts).
    await server.stdout.waitForJson(
      "the first summary",
      (r) => r.type === "summary",
    );
    server.kill("SIGINT");
    const status = await server.exit(20_000);
    assert.equal(status.code, 0, server.stderr.text);
    assert.ok(
      server.stdout.lines.some((l) => parseJsonObject(l)?.type === "final"),
      server.stdout.text,
    );
  },
});

Deno.test({
  name:
    "compiled fanout server serves the dashboard and uPlot from inside the binary, offline",
  ignore: noRuntime,
  fn: async () => {
    assertCompiled();
    await using server = new FanoutProcess(
      ["server", "--port", "0", "--host", "127.0.0.1", "--log-json"],
      { command: COMMAND },
    );
    const { port } = await waitForListening(server);
    const base = `http://127.0.0.1:${port}`;
    const page = await fetch(`${base}/`);
    assert.equal(page.status, 200);
    assert.match(await page.text(), /\/dashboard\/uplot\.js/);
    const uplot = await fetch(`${base}/dashboard/uplot.js`);
    assert.equal(uplot.status, 200);
    assert.match(await uplot.text(), /uPlot/);
    const metrics = await fetch(`${base}/metrics`);
    assert.match(await metrics.text(), /^fanout_clients 0$/m);
  },
});
