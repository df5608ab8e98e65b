/**
 * The dashboard's table of clients: each client's state once per tick, then
 * any number of views (filter, sort, page) over it. Built to stay cheap with
 * thousands of clients: cheap fields for every client, percentiles only for
 * the rows shown (unless the view sorts by latency).
 *
 * @module
 */
import type { SubscriberView } from "../../core/subscriber.ts";

/** How a client is doing: `dropping` lost messages since the last tick; `backlogged` has a queue, or a socket too full to take more. */
export type ClientState = "ok" | "backlogged" | "dropping";

/** Worse states sort first. */
const STATE_RANK: Readonly<Record<ClientState, number>> = {
  ok: 0,
  backlogged: 1,
  dropping: 2,
};

/** Columns a view may sort by; `worst` = state, then drops, then queue. */
export const SORT_KEYS = [
  "worst",
  "id",
  "queue",
  "buffered",
  "sent",
  "drops",
  "send",
  "e2e",
  "age",
] as const;
/** A column to sort by. */
export type SortKey = typeof SORT_KEYS[number];

/** Rows per page at most. */
export const MAX_PAGE_SIZE = 200;

/** One view of the table, from the dashboard's query string. */
export interface TableView {
  /** Sort column. */
  readonly sort: SortKey;
  /** Sort direction. */
  readonly dir: "asc" | "desc";
  /** Page, from 0. */
  readonly page: number;
  /** Rows per page, 1..{@link MAX_PAGE_SIZE}. */
  readonly size: number;
  /** `slow`: only clients that are not `ok`. */
  readonly filter: "all" | "slow";
}

/** One client, as the dashboard shows it. */
export interface ClientRow {
  /** Session id (`c12`). */
  id: string;
  /** Peer address. */
  remote: string;
  /** At a glance. */
  state: ClientState;
  /** Its tier on the ladder (`--policy ladder`), else null. */
  tier: string | null;
  /** Messages in its queue. */
  queue: number;
  /** Bytes its socket has not written out. */
  bufferedBytes: number;
  /** Frames handed to its socket. */
  sent: number;
  /** Messages dropped for it. */
  drops: number;
  /** Drops per second over the last tick. */
  dropRate: number;
  /** Seconds connected. */
  ageSec: number;
  /** Enqueue-to-socket p99 since it connected, ms (null when none, or not computed). */
  sendP99Ms: number | null;
  /** End-to-end p99 since it connected, ms (null when no ACK, or not computed). */
  e2eP99Ms: number | null;
}

/** A page of rows and where it sits. */
export interface TablePage {
  /** The view served (page clamped to what exists). */
  readonly view: TableView;
  /** Clients that pass the filter. */
  readonly total: number;
  /** Pages at this size (at least 1). */
  readonly pages: number;
  /** The rows of this page. */
  readonly rows: ClientRow[];
}

/**
 * Reads a view from `?sort=&dir=&page=&size=&filter=`; anything missing or
 * invalid takes its default (worst first, 25 rows).
 */
export function parseTableView(params: URLSearchParams): TableView {
  const sort = params.get("sort") ?? "";
  const int = (key: string, fallback: number, max: number) => {
    const n = Number(params.get(key) ?? fallback);
    return Number.isInteger(n) && n >= 0 ? Math.min(n, max) : fallback;
  };
  return {
    sort: (SORT_KEYS as readonly string[]).includes(sort)
      ? sort as SortKey
      : "worst",
    dir: params.get("dir") === "asc" ? "asc" : "desc",
    page: int("page", 0, 1e6),
    size: Math.max(1, int("size", 25, MAX_PAGE_SIZE)),
    filter: params.get("filter") === "slow" ? "slow" : "all",
  };
}

interface Entry {
  readonly view: SubscriberView;
  readonly row: ClientRow;
}

/** The clients' rows at the latest {@link ClientTable.update}, and views over them. */
export class ClientTable {
  #entries: Entry[] = [];
  #lastDrops = new WeakMap<SubscriberView, number>();
  #counts: Record<ClientState, number> = { ok: 0, backlogged: 0, dropping: 0 };

  /**
   * Takes every client's numbers and state now.
   * @param views the open sessions
   * @param now monotonic ms (the sessions' clock)
   * @param tickSec seconds since the previous update (for drop rates)
   * @param seed true after a pause (no dashboard was looking): nobody is
   *   "dropping" for drops from before, and the next update tells again
   */
  update(
    views: Iterable<SubscriberView>,
    now: number,
    tickSec: number,
    seed = false,
  ): void {
    const lastDrops = new WeakMap<SubscriberView, number>();
    const counts = { ok: 0, backlogged: 0, dropping: 0 };
    const entries: Entry[] = [];
    for (const view of views) {
      const queue = view.queued;
      const buffered = view.bufferedBytes;
      const drops = view.drops;
      const before = seed ? drops : this.#lastDrops.get(view) ?? 0;
      const state: ClientState = drops > before
        ? "dropping"
        : queue > 0 || view.blocked
        ? "backlogged"
        : "ok";
      counts[state]++;
      lastDrops.set(view, drops);
      entries.push({
        view,
        row: {
          id: view.id,
          remote: view.remote,
          state,
          tier: view.tier ?? null,
          queue,
          bufferedBytes: buffered,
          sent: view.sent,
          drops,
          dropRate: (drops - before) / Math.max(tickSec, 1e-3),
          ageSec: Math.max(0, (now - view.openedAt) / 1000),
          sendP99Ms: null,
          e2eP99Ms: null,
        },
      });
    }
    this.#entries = entries;
    this.#lastDrops = lastDrops;
    this.#counts = counts;
  }

  /** Forgets every row (nobody is looking): no closed session stays referenced. */
  clear(): void {
    this.#entries = [];
    this.#lastDrops = new WeakMap();
    this.#counts = { ok: 0, backlogged: 0, dropping: 0 };
  }

  /** Clients per state at the latest update. */
  counts(): Readonly<Record<ClientState, number>> {
    return this.#counts;
  }

  /** Filters, sorts and cuts one page; fills in latency for the rows it returns. */
  page(view: TableView): TablePage {
    let entries = view.filter === "slow"
      ? this.#entries.filter((e) => e.row.state !== "ok")
      : [...this.#entries];
    const byLatency = view.sort === "send" || view.sort === "e2e";
    if (byLatency) entries.forEach(fillLatency);
    const key = sortValue(view.sort);
    const sign = view.dir === "asc" ? 1 : -1;
    entries.sort((a, b) =>
      sign * (key(a.row) - key(b.row)) || idNumber(a.row) - idNumber(b.row)
    );
    const pages = Math.max(1, Math.ceil(entries.length / view.size));
    const page = Math.min(view.page, pages - 1);
    entries = entries.slice(page * view.size, (page + 1) * view.size);
    if (!byLatency) entries.forEach(fillLatency);
    return {
      view: { ...view, page },
      total: view.filter === "slow"
        ? this.#entries.length - this.#counts.ok
        : this.#entries.length,
      pages,
      rows: entries.map((e) => ({ ...e.row })),
    };
  }
}

function fillLatency(e: Entry): void {
  const { sendLatency, e2eLatency } = e.view;
  if (e.row.sendP99Ms === null && sendLatency.count > 0) {
    e.row.sendP99Ms = round3(sendLatency.percentile(99));
  }
  if (e.row.e2eP99Ms === null && e2eLatency.count > 0) {
    e.row.e2eP99Ms = round3(e2eLatency.percentile(99));
  }
}

function sortValue(key: SortKey): (r: ClientRow) => number {
  switch (key) {
    case "worst":
      return (r) => STATE_RANK[r.state] * 1e15 + r.drops * 1e6 + r.queue;
    case "id":
      return idNumber;
    case "queue":
      return (r) => r.queue;
    case "buffered":
      return (r) => r.bufferedBytes;
    case "sent":
      return (r) => r.sent;
    case "drops":
      return (r) => r.drops;
    case "send":
      return (r) => r.sendP99Ms ?? 0;
    case "e2e":
      return (r) => r.e2eP99Ms ?? 0;
    case "age":
      return (r) => r.ageSec;
  }
}

/** `c12` → 12, so ids sort as numbers. */
function idNumber(r: ClientRow): number {
  return Number(r.id.replace(/\D/g, "")) || 0;
}

function round3(x: number): number {
  return Math.round(x * 1000) / 1000;
}
