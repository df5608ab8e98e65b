/**
 * CI leaves the checkout as it found it: `.ci/run`'s benchmark smoke runs
 * write their figures outside the tree, and the tracked results are only
 * rewritten by full runs.
 */
import assert from "node:assert/strict";
import { REPO_ROOT } from "./_cli.ts";
import { waitFor } from "./_helpers.ts";

const ROOT = REPO_ROOT.pathname;
/** bench:heap's clients use `ws` from bench/peers (npm ci --prefix bench/peers). */
const HAS_WS = (() => {
  try {
    return Deno.statSync(`${ROOT}bench/peers/node_modules/ws/package.json`)
      .isFile;
  } catch {
    return false;
  }
})();
if (!HAS_WS) {
  console.log(
    "bench:heap --out test skipped: bench/peers/node_modules/ws is missing (npm ci --prefix bench/peers)",
  );
}

Deno.test(".ci/run sends every bench:heap smoke run to --out outside the tree, and fails on a dirty tree", () => {
  const script = Deno.readTextFileSync(`${ROOT}.ci/run`);
  const heapRuns = script.split("\n").filter((l) =>
    /^\s*deno task bench:heap\b/.test(l)
  );
  assert.ok(heapRuns.length > 0);
  for (const line of heapRuns) assert.match(line, /--out "\$heap_out"/);
  assert.match(script, /heap_out=\$\(mktemp/);
  assert.match(script, /git status --porcelain/);
});

async function git(...args: string[]): Promise<string> {
  const { stdout } = await new Deno.Command("git", { args, cwd: ROOT })
    .output();
  return new TextDecoder().decode(stdout);
}

Deno.test({
  name:
    "bench:heap with --out writes there and leaves bench/results/heap.json untouched",
  ignore: !HAS_WS,
  async fn() {
    const tracked = "bench/results/heap.json";
    const before = await Deno.readTextFile(`${ROOT}${tracked}`);
    const dir = await Deno.makeTempDir();
    try {
      const out = `${dir}/heap.json`;
      const { code, stderr } = await new Deno.Command(Deno.execPath(), {
        args: [
          "run",
          "-q",
          "-A",
          "--v8-flags=--expose-gc",
          "bench/heap.ts",
          "20",
          "--out",
          out,
        ],
        cwd: ROOT,
        stdout: "null",
        stderr: "piped",
      }).output();
      assert.equal(code, 0, new TextDecoder().decode(stderr));
      const written = JSON.parse(await Deno.readTextFile(out));
      assert.equal(written.scenario, "heap");
      assert.equal(written.rows[0].clients, 20);
      assert.equal(await Deno.readTextFile(`${ROOT}${tracked}`), before);
      assert.equal(await git("status", "--porcelain", "--", tracked), "");
    } finally {
      await Deno.remove(dir, { recursive: true });
    }
  },
});

Deno.test(".ci/run runs the suite twice, the second time beside .ci/cpu_hog.sh, and adds both passes up", () => {
  const script = Deno.readTextFileSync(`${ROOT}.ci/run`);
  assert.equal(script.match(/^run_suite$/gm)?.length, 2);
  const hogAt = script.indexOf(".ci/cpu_hog.sh --max-seconds");
  assert.ok(hogAt > 0, "the hog is started in the background");
  assert.ok(
    script.lastIndexOf("run_suite") > hogAt,
    "the second pass runs beside it",
  );
  assert.match(script, /passed=\$\(\(passed \+ pass_n\)\)/);
  assert.match(script, /echo "\$\{passed\} passed, \$\{failed\} failed"\nexit/);
});

Deno.test(".ci/cpu_hog.sh keeps the cores it is given busy and stops every loop on SIGTERM", async () => {
  const hog = new Deno.Command("bash", {
    args: [`${ROOT}.ci/cpu_hog.sh`, "1"],
    stdout: "piped",
  }).spawn();
  const reader = hog.stdout.getReader();
  const { value } = await reader.read();
  const line = new TextDecoder().decode(value);
  const pid = Number(line.match(/pids (\d+)/)?.[1]);
  assert.ok(pid > 0, line);
  // `ps`, not /proc: Deno reads /proc/<pid> only with every permission.
  const comm = async () => {
    const { stdout } = await new Deno.Command("ps", {
      args: ["-o", "stat=,comm=", "-p", String(pid)],
    }).output();
    const out = new TextDecoder().decode(stdout).trim();
    return out.startsWith("Z") ? "" : out.split(/\s+/).at(-1) ?? "";
  };
  await waitFor(
    `the busy loop ${pid} to run yes`,
    async () => await comm() === "yes",
  );
  hog.kill("SIGTERM");
  await hog.status;
  reader.releaseLock();
  await hog.stdout.cancel();
  await waitFor(
    "the busy loop to end with the hog",
    async () => await comm() !== "yes",
  );
});

Deno.test(".ci/cpu_hog.sh rejects a bad --max-seconds with exit 2, and stops its busy loops when it is stopped", async () => {
  const bad = await new Deno.Command(`${ROOT}.ci/cpu_hog.sh`, {
    args: ["--max-seconds", "-1"],
    stdout: "null",
    stderr: "piped",
  }).output();
  assert.equal(bad.code, 2);
  assert.match(new TextDecoder().decode(bad.stderr), /whole number of seconds/);
  // A one-second run ends by itself and leaves no busy loop behind.
  const ok = await new Deno.Command(`${ROOT}.ci/cpu_hog.sh`, {
    args: ["--max-seconds", "1"],
    stdout: "piped",
    stderr: "piped",
  }).output();
  assert.equal(ok.code, 0, new TextDecoder().decode(ok.stderr));
  const line = new TextDecoder().decode(ok.stdout);
  const pids = (line.match(/pids ([\d ]+)\)/)?.[1] ?? "").trim().split(" ");
  assert.ok(pids.length >= 1 && pids[0] !== "", line);
  for (const pid of pids) {
    const alive = await new Deno.Command("kill", { args: ["-0", pid] })
      .output();
    assert.equal(alive.code === 0, false, `busy loop ${pid} still running`);
  }
});
