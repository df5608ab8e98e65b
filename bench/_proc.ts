/**
 * What the benchmark reads from Linux `/proc`: a process's CPU time (user +
 * system, all threads, from `/proc/<pid>/stat`) and resident memory
 * (`VmRSS` from `/proc/<pid>/status`).
 *
 * @module
 */

/** Clock ticks per second of `/proc/<pid>/stat` times (`getconf CLK_TCK`). */
export let clockTicks = 100;

/** Reads `CLK_TCK` once; keeps 100 (Linux's universal value) if getconf is missing. */
export async function initClockTicks(): Promise<number> {
  try {
    const out = await new Deno.Command("getconf", { args: ["CLK_TCK"] })
      .output();
    const n = Number(new TextDecoder().decode(out.stdout).trim());
    if (Number.isInteger(n) && n > 0) clockTicks = n;
  } catch {
    // getconf not installed: 100 is right on every Linux we run on.
  }
  return clockTicks;
}

/** One reading of a process. */
export interface ProcSample {
  /** When it was taken, `performance.now()` ms. */
  readonly at: number;
  /** utime + stime of all threads, µs (resolution 1/CLK_TCK s). */
  readonly cpuUs: number;
  /** stime alone (time in the kernel: syscalls, loopback TCP), µs. */
  readonly sysUs: number;
  /** Resident set size, KiB. */
  readonly rssKb: number;
}

/**
 * Reads CPU time and RSS of `pid`.
 * @returns the sample, or undefined once the process has gone
 */
export async function sampleProc(pid: number): Promise<ProcSample | undefined> {
  try {
    const [stat, status] = await Promise.all([
      Deno.readTextFile(`/proc/${pid}/stat`),
      Deno.readTextFile(`/proc/${pid}/status`),
    ]);
    return {
      at: performance.now(),
      ...parseStat(stat),
      ...parseStatus(status),
    };
  } catch {
    return undefined;
  }
}

/** utime + stime (fields 14 and 15) in µs; the command name may hold spaces. */
export function parseStat(text: string): { cpuUs: number; sysUs: number } {
  const fields = text.slice(text.lastIndexOf(")") + 2).split(" ");
  // fields[0] is field 3 (state): utime is field 14, stime field 15.
  const user = Number(fields[11]);
  const sys = Number(fields[12]);
  return {
    cpuUs: ((user + sys) * 1e6) / clockTicks,
    sysUs: (sys * 1e6) / clockTicks,
  };
}

/** `VmRSS` in KiB (0 when absent, e.g. a zombie). */
export function parseStatus(text: string): { rssKb: number } {
  const m = /^VmRSS:\s+(\d+)\s+kB/m.exec(text);
  return { rssKb: m ? Number(m[1]) : 0 };
}
