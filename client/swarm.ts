/**
 * Runs N simulated subscribers against one server for a fixed time and
 * collects their statistics into one report.
 *
 * @module
 */
import { Histogram, type LatencySummary } from "../lib/histogram.ts";
import { nowMs } from "./_abortable.ts";
import { explainConnectError } from "./connect_failure.ts";
import type { ClientsimOptions } from "./options.ts";
import {
  type CloseRecord,
  SimClient,
  type SimClientSnapshot,
} from "./sim_client.ts";
import { formatProgressLine } from "./progress.ts";

/** What {@link runSwarm} needs from the clientsim options (`json` is the CLI's). */
export type SwarmConfig = Omit<ClientsimOptions, "json">;

/** Connections opened at once; the next batch starts when these settled. */
export const CONNECT_BATCH_SIZE = 50;

/** Collaborators and hooks for {@link runSwarm}. */
export interface SwarmOptions {
  /** Stops the run early; the report is still returned. */
  signal?: AbortSignal;
  /** Receives a progress line per client every `printEvery` messages. */
  onLine?: (line: string) => void;
  /** Receives each client as it is created, e.g. to poll `snapshot()`. */
  onClient?: (client: SimClient) => void;
  /** Connections opened per batch. @default {@link CONNECT_BATCH_SIZE} */
  batchSize?: number;
  /** Receives each distinct reason a connection attempt failed, once, as it is first seen. */
  onFailure?: (reason: string) => void;
}

/** One client's row in the final report. */
export interface ClientRow {
  /** The client's id. */
  id: string;
  /** Data frames received. */
  messages: number;
  /** Messages per second from its first message to the end of the run. */
  ratePerSec: number;
  /** Latency now − ts_send, ms. */
  latency: LatencySummary;
  /** Messages missed, from seq gaps. */
  drops: number;
  /** Successful connections. */
  connects: number;
  /** Failed connects and broken connections. */
  errors: number;
  /** Malformed frames skipped. */
  badFrames: number;
  /** ACKs written. */
  acksSent: number;
  /** Closes the server made (or connection losses), oldest first. */
  closes: CloseRecord[];
  /** Frames whose seq was not above the last one. */
  repeats: number;
  /** Messages replayed from history after a resume. */
  recovered: number;
  /** What the server's control frames announced. */
  notices: SimClientSnapshot["notices"];
}

/** Sums over every client. */
export interface SwarmTotals {
  /** Clients asked for (`--concurrency`). */
  requested: number;
  /** Clients run (fewer than requested when the run ended before all were started). */
  clients: number;
  /** Clients that connected at least once. */
  clientsConnected: number;
  /** Data frames received by all clients. */
  messages: number;
  /** Sum of the clients' rates, messages/s. */
  ratePerSec: number;
  /** Latency over all clients' messages, ms. */
  latency: LatencySummary;
  /** Drops over all clients. */
  drops: number;
  /** Connections over all clients. */
  connects: number;
  /** Errors over all clients. */
  errors: number;
  /** Malformed frames over all clients. */
  badFrames: number;
  /** Server closes over all clients. */
  closes: number;
  /** Messages replayed from history after resumes, over all clients. */
  recovered: number;
  /** Frames whose seq was not above the last one, over all clients. */
  repeats: number;
  /** `reset` notices (the stream started over), over all clients. */
  resets: number;
}

/** The outcome of {@link runSwarm}; plain JSON-safe data. */
export interface SwarmReport {
  /** The server URL. */
  url: string;
  /** The configuration run. */
  config: SwarmConfig;
  /** Start, epoch ms. */
  startedAt: number;
  /** End, epoch ms. */
  endedAt: number;
  /** Seconds actually run. */
  elapsedSec: number;
  /** Whether the signal stopped the run before `durationSec`. */
  stoppedEarly: boolean;
  /** One row per client, in id order. */
  clients: ClientRow[];
  /** Sums over every client. */
  totals: SwarmTotals;
  /** Every distinct reason a connection attempt failed, in the order first seen. */
  failures: string[];
  /** How many attempts failed for each reason of `failures`, in the same order. */
  failedAttempts: number[];
}

/**
 * Starts `config.concurrency` clients named `${idPrefix}-${i}` (connecting in
 * small batches so a listener's backlog is not overrun), lets them run for
 * `durationSec` or until `signal` aborts, stops them and reports.
 *
 * @param config the clientsim options (url, concurrency, delays, duration…)
 * @param options stop signal and progress hooks
 * @returns the report; never rejects for network failures (they are counted)
 * @example
 * ```ts ignore
 * import { runSwarm } from "./swarm.ts";
 * import { DEFAULT_CLIENTSIM_OPTIONS } from "./options.ts";
 * const report = await runSwarm(
 *   { ...DEFAULT_CLIENTSIM_OPTIONS, concurrency: 3, durationSec: 5 },
 *   { onLine: console.log },
 * );
 * console.log(report.totals.messages);
 * ```
 */
export async function runSwarm(
  config: SwarmConfig,
  options: SwarmOptions = {},
): Promise<SwarmReport> {
  const startedAt = nowMs();
  const stop = new AbortController();
  const signal = options.signal
    ? AbortSignal.any([options.signal, stop.signal])
    : stop.signal;
  let timedOut = false;
  const timer = setTimeout(() => {
    timedOut = true;
    stop.abort();
  }, config.durationSec * 1000);
  const onLine = options.onLine;
  const onMessage = onLine
    ? (client: SimClient) => {
      const snap = client.snapshot();
      if (snap.messages % config.printEvery === 0) {
        onLine(formatProgressLine(snap, nowMs()));
      }
    }
    : undefined;
  const clients: SimClient[] = [];
  const runs: Promise<void>[] = [];
  // One explanation per distinct error (a swarm of refused clients does not
  // preflight once per attempt), reported once per distinct reason.
  const explained = new Map<string, Promise<void>>();
  const failures: string[] = [];
  const attemptsByKey = new Map<string, number>();
  const reasonByKey = new Map<string, string>();
  const onConnectError = (error: unknown, url: string) => {
    const key = error instanceof Error ? error.message : String(error);
    attemptsByKey.set(key, (attemptsByKey.get(key) ?? 0) + 1);
    if (explained.has(key)) return;
    explained.set(
      key,
      explainConnectError(url, error).then((explanation) => {
        const reason = redactToken(explanation);
        reasonByKey.set(key, reason);
        if (failures.includes(reason)) return;
        failures.push(reason);
        options.onFailure?.(reason);
      }),
    );
  };
  const batchSize = options.batchSize ?? CONNECT_BATCH_SIZE;
  try {
    for (let i = 0; i < config.concurrency && !signal.aborted;) {
      const batch: Promise<void>[] = [];
      for (const end = i + batchSize; i < end && i < config.concurrency; i++) {
        const client = new SimClient(config.url, {
          id: `${config.idPrefix}-${i}`,
          slowMs: config.slowMs,
          jitterMs: config.jitterMs,
          resume: config.resume,
          control: config.control,
          batch: config.batch,
          connectTimeoutMs: config.connectTimeoutMs,
          signal,
          onConnectError,
          ...(onMessage ? { onMessage } : {}),
        });
        clients.push(client);
        options.onClient?.(client);
        runs.push(client.run());
        batch.push(client.firstAttempt);
      }
      await untilAborted(Promise.all(batch), signal);
    }
    await untilAborted(new Promise<never>(() => {}), signal);
  } finally {
    clearTimeout(timer);
    stop.abort();
    await Promise.all(runs);
    await Promise.all(explained.values());
  }
  const endedAt = nowMs();
  const failedAttempts = failures.map(() => 0);
  for (const [key, n] of attemptsByKey) {
    const i = failures.indexOf(reasonByKey.get(key) ?? "");
    if (i >= 0) failedAttempts[i]! += n;
  }
  return {
    ...buildReport(config, clients, startedAt, endedAt, !timedOut),
    failures,
    failedAttempts,
  };
}

async function untilAborted(
  promise: Promise<unknown>,
  signal: AbortSignal,
): Promise<void> {
  const aborted = Promise.withResolvers<void>();
  const onAbort = () => aborted.resolve();
  signal.addEventListener("abort", onAbort, { once: true });
  if (signal.aborted) onAbort();
  try {
    await Promise.race([promise, aborted.promise]);
  } finally {
    signal.removeEventListener("abort", onAbort);
  }
}

/**
 * A client's rate: messages over the window from its first message to `endMs`.
 * @returns messages per second, 0 before the first message
 */
export function clientRate(snap: SimClientSnapshot, endMs: number): number {
  if (snap.firstMessageAt === null || snap.messages === 0) return 0;
  const windowSec = Math.max(endMs - snap.firstMessageAt, 1) / 1000;
  return Math.round((snap.messages / windowSec) * 10) / 10;
}

function buildReport(
  config: SwarmConfig,
  clients: readonly SimClient[],
  startedAt: number,
  endedAt: number,
  stoppedEarly: boolean,
): Omit<SwarmReport, "failures" | "failedAttempts"> {
  const all = new Histogram();
  const rows: ClientRow[] = clients.map((client) => {
    client.mergeLatencyInto(all);
    const s = client.snapshot();
    return {
      id: s.id,
      messages: s.messages,
      ratePerSec: clientRate(s, endedAt),
      latency: s.latency,
      drops: s.drops,
      connects: s.connects,
      errors: s.errors,
      badFrames: s.badFrames,
      acksSent: s.acksSent,
      closes: s.closes,
      repeats: s.repeats,
      recovered: s.recovered,
      notices: s.notices,
    };
  });
  const sum = (f: (r: ClientRow) => number) =>
    rows.reduce((acc, r) => acc + f(r), 0);
  const url = redactToken(config.url);
  return {
    url,
    config: {
      url,
      concurrency: config.concurrency,
      slowMs: config.slowMs,
      jitterMs: config.jitterMs,
      durationSec: config.durationSec,
      printEvery: config.printEvery,
      idPrefix: config.idPrefix,
      resume: config.resume,
      control: config.control,
      batch: config.batch,
      connectTimeoutMs: config.connectTimeoutMs,
      perClient: config.perClient,
    },
    startedAt: Math.round(startedAt),
    endedAt: Math.round(endedAt),
    elapsedSec: Math.round(endedAt - startedAt) / 1000,
    stoppedEarly,
    clients: rows,
    totals: {
      requested: config.concurrency,
      clients: rows.length,
      clientsConnected: rows.filter((r) => r.connects > 0).length,
      messages: sum((r) => r.messages),
      ratePerSec: Math.round(sum((r) => r.ratePerSec) * 10) / 10,
      latency: all.summary(),
      drops: sum((r) => r.drops),
      connects: sum((r) => r.connects),
      errors: sum((r) => r.errors),
      badFrames: sum((r) => r.badFrames),
      closes: sum((r) => r.closes.length),
      recovered: sum((r) => r.recovered),
      repeats: sum((r) => r.repeats),
      resets: sum((r) => r.notices.resets),
    },
  };
}

/**
 * `text` with every `token=` value replaced by `***`: no output of
 * clientsim shows a credential.
 * @example
 * ```ts
 * import { redactToken } from "./swarm.ts";
 * const r = redactToken("ws://h/?channel=a&token=eyJ.x.y");
 * if (r !== "ws://h/?channel=a&token=***") throw new Error(r);
 * ```
 */
export function redactToken(text: string): string {
  return text.replace(/([?&]token=)[^&#\s]+/g, "$1***");
}
