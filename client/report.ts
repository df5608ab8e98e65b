/**
 * Text and JSON renderings of clientsim results: the final table and the
 * `--json` document.
 *
 * @module
 */
import type { ClientRow, SwarmReport } from "./swarm.ts";

/** The final table's column titles, in order. */
export const REPORT_COLUMNS = [
  "Client",
  "Messages",
  "Rate/s",
  "Min",
  "Avg",
  "P95",
  "P99",
  "Drops",
  "Recovered",
  "Repeats",
  "Resets",
  "Closed",
] as const;

/** How {@link formatReport} lays the table out. */
export interface ReportFormat {
  /** A row per client above the totals (clientsim: `--per-client`). @default true */
  readonly perClient?: boolean;
}

/**
 * The final table: a header, one row per client (unless
 * `perClient: false`), a totals row, a line with connection counts and the
 * elapsed time, how many clients asked for never connected, and why
 * connections failed (each distinct reason once, with its attempts), if any did.
 *
 * @param report what {@link import("./swarm.ts").runSwarm} returned
 * @param format whether to print a row per client
 * @returns the table, lines joined by `\n` (no trailing newline)
 */
export function formatReport(
  report: SwarmReport,
  format: ReportFormat = {},
): string {
  const clients = format.perClient === false ? [] : report.clients;
  const rows: string[][] = clients.map((c) => [
    c.id,
    String(c.messages),
    c.ratePerSec.toFixed(1),
    c.latency.min.toFixed(1),
    c.latency.avg.toFixed(1),
    c.latency.p95.toFixed(1),
    c.latency.p99.toFixed(1),
    String(c.drops),
    String(c.recovered),
    String(c.repeats),
    String(c.notices.resets),
    closedCell(c),
  ]);
  const t = report.totals;
  rows.push([
    "total",
    String(t.messages),
    t.ratePerSec.toFixed(1),
    t.latency.min.toFixed(1),
    t.latency.avg.toFixed(1),
    t.latency.p95.toFixed(1),
    t.latency.p99.toFixed(1),
    String(t.drops),
    String(t.recovered),
    String(t.repeats),
    String(t.resets),
    t.closes === 0 ? "-" : `${t.closes} close${t.closes === 1 ? "" : "s"}`,
  ]);
  const header = [...REPORT_COLUMNS];
  const last = header.length - 1;
  const widths = header.map((h, i) =>
    i === last ? 0 : Math.max(h.length, ...rows.map((r) => r[i]!.length))
  );
  const line = (cells: readonly string[]) =>
    cells.map((cell, i) =>
      i === last
        ? cell
        : i === 0
        ? cell.padEnd(widths[i]!)
        : cell.padStart(widths[i]!)
    ).join("  ").trimEnd();
  const lines = [line(header), ...rows.map(line)];
  lines.splice(lines.length - 1, 0, "-".repeat(lines[0]!.length));
  lines.push(
    `${t.clients} clients (${t.clientsConnected} connected), ${t.connects} connects, ` +
      `${t.errors} errors, ${t.badFrames} bad frames, ${
        report.elapsedSec.toFixed(1)
      } s${report.stoppedEarly ? " (stopped early)" : ""}; latency ms`,
  );
  const missing = t.requested - t.clientsConnected;
  if (missing > 0) {
    const notStarted = t.requested - t.clients;
    lines.push(
      `${missing} of ${t.requested} clients never connected` +
        (notStarted > 0
          ? ` (${notStarted} not started before the run ended)`
          : ""),
    );
  }
  if (report.failures.length > 0) {
    lines.push(
      "connections failed:",
      ...report.failures.map((f, i) => {
        const n = report.failedAttempts?.[i];
        return n ? `  ${f} (${n} attempt${n === 1 ? "" : "s"})` : `  ${f}`;
      }),
    );
  }
  return lines.join("\n");
}

/**
 * The report as one JSON document (the `--json` output).
 * @returns pretty-printed JSON that `JSON.parse` turns back into the report
 */
export function reportToJson(report: SwarmReport): string {
  return JSON.stringify(report, null, 2);
}

/** `4000 slow client: …` for the latest close, `-` when none. */
function closedCell(row: ClientRow): string {
  const latest = row.closes.at(-1);
  if (!latest) return "-";
  const text = `${latest.code} ${latest.reason.replace(/\s+/g, " ")}`.trim();
  const n = row.closes.length;
  return n === 1 ? text : `${text} (${n} closes)`;
}
