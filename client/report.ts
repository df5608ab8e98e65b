/**
 * Text and JSON renderings of clientsim results: the per-client progress
 * line (seed format) and the final table.
 *
 * @module
 */
import type { SimClientSnapshot } from "./sim_client.ts";
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
  "Closed",
] as const;

/**
 * One progress line in the seed's format, e.g.
 * `[cli-0] Count:    100 | Rate:   49.8/s | Latency min/avg/p95/p99:   0.3/  0.8/  1.2/  2.0ms | Drops: 0`.
 *
 * @param snap the client's current statistics
 * @param nowMs the current time, epoch ms (for the rate)
 * @example
 * ```ts
 * import { formatProgressLine } from "./report.ts";
 * const line = formatProgressLine({
 *   id: "cli-0", messages: 100, connects: 1, drops: 0, acksSent: 100,
 *   badFrames: 0, closes: [], connected: true, errors: 0, startedAt: 0,
 *   firstMessageAt: 0, lastMessageAt: 2000, lastSeq: 100, repeats: 0, recovered: 0,
 *   notices: { dropped: 0, missed: 0, resets: 0 },
 *   latency: { count: 100, min: 0.3, avg: 0.8, p50: 0.7, p95: 1.2, p99: 2, max: 2 },
 * }, 2000);
 * if (!line.startsWith("[cli-0] Count:    100 | Rate:   50.0/s")) throw new Error(line);
 * ```
 */
export function formatProgressLine(
  snap: SimClientSnapshot,
  nowMs: number,
): string {
  const l = snap.latency;
  const lat = [l.min, l.avg, l.p95, l.p99].map((v) => fixed(v, 5)).join("/");
  const rate = snap.firstMessageAt === null
    ? 0
    : snap.messages / (Math.max(nowMs - snap.firstMessageAt, 1) / 1000);
  return `[${snap.id}] Count: ${String(snap.messages).padStart(6)} | Rate: ${
    fixed(rate, 6)
  }/s | Latency min/avg/p95/p99: ${lat}ms | Drops: ${snap.drops}`;
}

/**
 * The final table: a header, one row per client, a totals row, and a line
 * with connection counts and the elapsed time.
 *
 * @param report what {@link import("./swarm.ts").runSwarm} returned
 * @returns the table, lines joined by `\n` (no trailing newline)
 */
export function formatReport(report: SwarmReport): string {
  const rows: string[][] = report.clients.map((c) => [
    c.id,
    String(c.messages),
    c.ratePerSec.toFixed(1),
    c.latency.min.toFixed(1),
    c.latency.avg.toFixed(1),
    c.latency.p95.toFixed(1),
    c.latency.p99.toFixed(1),
    String(c.drops),
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

function fixed(value: number, width: number): string {
  return value.toFixed(1).padStart(width);
}
