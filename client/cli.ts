/**
 * `fanout clientsim`: parse flags, run the swarm until `--duration` or
 * Ctrl-C, print progress and the final report.
 *
 * @module
 */
import { clientsimHelp, parseClientsimArgs } from "./options.ts";
import { formatReport, reportToJson } from "./report.ts";
import { runSwarm } from "./swarm.ts";

/** Where {@link run} writes; defaults to the console. Tests pass their own. */
export interface ClientsimIo {
  /** Writes one line to stdout. @default console.log */
  out?: (line: string) => void;
  /** Writes one line to stderr. @default console.error */
  err?: (line: string) => void;
  /** Stops the run early, as Ctrl-C does. */
  signal?: AbortSignal;
}

/**
 * Runs `fanout clientsim` with `args` (the arguments after the subcommand).
 * Progress lines go to stdout, or to stderr with `--json` so stdout holds
 * only the JSON report. SIGINT stops the run early; the report is still
 * printed (a second SIGINT exits with 130 at once).
 *
 * @returns the exit code: 0 (network failures are reported, not fatal)
 * @throws {UsageError} for bad flags, before anything starts; the caller
 *   (main.ts) prints its one-line message and exits with code 2
 */
export async function run(
  args: string[],
  io: ClientsimIo = {},
): Promise<number> {
  const out = io.out ?? ((line: string) => console.log(line));
  const err = io.err ?? ((line: string) => console.error(line));
  const parsed = parseClientsimArgs(args);
  if (parsed.help) {
    out(clientsimHelp());
    return 0;
  }
  const { options } = parsed;
  const progress = options.json ? err : out;
  const interrupt = new AbortController();
  // First Ctrl-C: stop and report. Second: give up at once (exit 130).
  const onSigint = () => {
    if (interrupt.signal.aborted) Deno.exit(130);
    err("clientsim: stopping (Ctrl-C again to quit without a report)");
    interrupt.abort();
  };
  let listening = false;
  try {
    Deno.addSignalListener("SIGINT", onSigint);
    listening = true;
  } catch {
    // No signal support here (e.g. restricted platform): run to the end.
  }
  const signal = io.signal
    ? AbortSignal.any([io.signal, interrupt.signal])
    : interrupt.signal;
  err(
    `clientsim: ${options.concurrency} client(s) → ${options.url} for ${options.durationSec} s` +
      (options.slowMs || options.jitterMs
        ? `, processing ${options.slowMs} ± ${options.jitterMs} ms per message`
        : "") +
      " (Ctrl-C stops early)",
  );
  try {
    const report = await runSwarm(options, { signal, onLine: progress });
    out(options.json ? reportToJson(report) : formatReport(report));
    return 0;
  } finally {
    if (listening) Deno.removeSignalListener("SIGINT", onSigint);
  }
}
