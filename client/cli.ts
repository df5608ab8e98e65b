/**
 * `fanout clientsim`: parse flags, run the swarm until `--duration` or
 * Ctrl-C, print progress and the final report.
 *
 * @module
 */
import { lineWriter, LiveLine, stdoutWriter } from "../lib/live_line.ts";
import { clientsimHelp, parseClientsimArgs } from "./options.ts";
import {
  PROGRESS_PLAIN_MS,
  PROGRESS_TTY_MS,
  SwarmProgress,
} from "./progress.ts";
import { formatReport, reportToJson } from "./report.ts";
import { redactToken, runSwarm } from "./swarm.ts";

/** Where {@link run} writes; defaults to the console. Tests pass their own. */
export interface ClientsimIo {
  /** Writes one line to stdout. @default console.log */
  out?: (line: string) => void;
  /** Writes one line to stderr. @default console.error */
  err?: (line: string) => void;
  /** Stops the run early, as Ctrl-C does. */
  signal?: AbortSignal;
  /**
   * Redraw a live status line in place (a terminal). @default true when
   * stdout is a terminal, `out` is not given and `--json` is not set
   */
  tty?: boolean;
  /** Raw writes for the live status line on a terminal. @default stdout */
  write?: (text: string) => void;
}

/**
 * Runs `fanout clientsim` with `args` (the arguments after the subcommand).
 * Progress lines go to stdout, or to stderr with `--json` so stdout holds
 * only the JSON report. On a terminal a status line (elapsed/total, clients
 * connected, msgs/s, p99) redraws in place every 500 ms; otherwise it is
 * printed as a plain line every 5 s. SIGINT stops the run early; the report is still
 * printed (a second SIGINT exits with 130 at once).
 *
 * Each distinct reason a connection failed (refused, 401, 403, 503, TLS…)
 * is printed once, on stderr, as it is first seen.
 *
 * @returns the exit code: 0 when every client asked for connected, 1 when
 *   some never did (how many and why are printed on stderr)
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
  const tty = !options.json &&
    (io.tty ?? (io.out === undefined && Deno.stdout.isTerminal()));
  const live = new LiveLine({
    tty,
    write: tty
      ? io.write ?? stdoutWriter()
      : lineWriter(options.json ? err : out),
  });
  const progress = new SwarmProgress(options.durationSec);
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
    `clientsim: ${options.concurrency} client(s) → ${
      redactToken(options.url)
    } for ${options.durationSec} s` +
      (options.slowMs || options.jitterMs
        ? `, processing ${options.slowMs} ± ${options.jitterMs} ms per message`
        : "") +
      " (Ctrl-C stops early)",
  );
  const ticker = setInterval(
    () => live.status(progress.line()),
    tty ? PROGRESS_TTY_MS : PROGRESS_PLAIN_MS,
  );
  try {
    const report = await runSwarm(options, {
      signal,
      ...(options.perClient ? { onLine: (line) => live.line(line) } : {}),
      onClient: (client) => progress.add(client),
      onFailure: (reason) => {
        live.clear();
        err(`clientsim: cannot connect: ${reason}`);
      },
    });
    clearInterval(ticker);
    live.clear();
    out(
      options.json
        ? reportToJson(report)
        : formatReport(report, { perClient: options.perClient }),
    );
    const { requested, clientsConnected, clients } = report.totals;
    if (clientsConnected === 0) {
      err(
        `clientsim: no client ever connected to ${report.url}${
          report.failures.length > 0 ? "" : " (no attempt finished in time)"
        }`,
      );
      return 1;
    }
    if (clientsConnected < requested) {
      const why = report.failures.map((f, i) =>
        `${f} (${report.failedAttempts[i] ?? 0} attempts)`
      ).join("; ");
      err(
        `clientsim: only ${clientsConnected} of ${requested} clients connected` +
          (clients < requested
            ? `, ${requested - clients} not started before the run ended`
            : "") +
          (why ? `; failures: ${why}` : "") +
          " (lower --concurrency, raise --duration or --connect-timeout)",
      );
      return 1;
    }
    return 0;
  } finally {
    clearInterval(ticker);
    live.clear();
    if (listening) Deno.removeSignalListener("SIGINT", onSigint);
  }
}
