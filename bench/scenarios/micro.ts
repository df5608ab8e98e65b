/**
 * Scenario 6 — `deno bench` micro-benchmarks of the hot paths, run as a
 * subprocess with `--json` and kept with the other results.
 *
 * @module
 */
import { type BenchOptions, progress } from "../_options.ts";
import { type BenchPaths, filePath } from "../_servers.ts";

/** The micro-benchmarks' output: name → mean and percentiles, ns. */
export interface MicroResult {
  readonly scenario: "micro";
  readonly benches: {
    name: string;
    group: string | null;
    avg_ns: number;
    min_ns: number;
    p75_ns: number;
    p99_ns: number;
  }[];
}

/** Runs `deno bench --json bench/micro/`. */
export async function runMicro(
  _options: BenchOptions,
  _paths: BenchPaths,
): Promise<MicroResult> {
  progress("micro: deno bench bench/micro/");
  const out = await new Deno.Command(Deno.execPath(), {
    args: ["bench", "-q", "--json", "bench/micro/"],
    // The micro-benchmarks import the working tree's lib/ and server/.
    cwd: filePath(new URL("../..", import.meta.url)),
    stdout: "piped",
    stderr: "piped",
    env: { NO_COLOR: "1" },
  }).output();
  const text = new TextDecoder().decode(out.stdout);
  if (!out.success) {
    throw new Error(
      `deno bench failed:\n${new TextDecoder().decode(out.stderr)}`,
    );
  }
  const report = JSON.parse(text) as {
    benches: {
      name: string;
      group: string | null;
      results: {
        ok?: { avg: number; min: number; p75: number; p99: number };
      }[];
    }[];
  };
  const benches = report.benches.map((b) => {
    const ok = b.results[0]?.ok;
    return {
      name: b.name,
      group: b.group,
      avg_ns: Math.round((ok?.avg ?? NaN) * 10) / 10,
      min_ns: Math.round((ok?.min ?? NaN) * 10) / 10,
      p75_ns: Math.round((ok?.p75 ?? NaN) * 10) / 10,
      p99_ns: Math.round((ok?.p99 ?? NaN) * 10) / 10,
    };
  });
  for (const b of benches) {
    progress(`  ${b.name}: ${fmtNs(b.avg_ns)}`);
  }
  return { scenario: "micro", benches };
}

function fmtNs(ns: number): string {
  return ns >= 1e6
    ? `${(ns / 1e6).toFixed(2)} ms`
    : ns >= 1e3
    ? `${(ns / 1e3).toFixed(2)} µs`
    : `${ns.toFixed(1)} ns`;
}
