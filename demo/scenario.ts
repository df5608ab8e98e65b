/**
 * One half of the demo: a server in one mode, fast clients, and one slow
 * client that joins late, all in-process on a free loopback port.
 *
 * @module
 */
import { Histogram, type LatencySummary } from "../lib/histogram.ts";
import { SimClient } from "../client/mod.ts";
import {
  type BroadcastMode,
  resolveServerConfig,
  type Schedule,
  type SourceStats,
  startServer,
  type SubscriberView,
} from "../server/mod.ts";
import type { DemoOptions } from "./options.ts";

/** A server-side disconnect of the slow client. */
export interface SlowDisconnect {
  /** Seconds into the run. */
  readonly atSec: number;
  /** Close code sent. */
  readonly code: number;
  /** Close-code table key. */
  readonly reason: string;
  /** The reason text sent to the client. */
  readonly detail: string;
}

/** A tier change of the slow client (the ladder run). */
export interface SlowTierChange {
  /** Seconds into the run. */
  readonly atSec: number;
  readonly from: string;
  readonly to: string;
  readonly reason: string;
}

/** Which run: the two modes, and queue mode on the ladder (`--policy ladder`). */
export type DemoRun = BroadcastMode | "ladder";

/** What one mode's run measured. */
export interface ModeResult {
  /** The mode run. */
  readonly mode: BroadcastMode;
  /** The run: `naive`, `queue`, or `ladder` (queue mode, `--policy ladder`). */
  readonly run: DemoRun;
  /** Seconds run. */
  readonly elapsedSec: number;
  /** The fast clients, together. */
  readonly fast: {
    readonly clients: number;
    /** Mean messages/s per fast client over the run. */
    readonly ratePerSec: number;
    readonly messages: number;
    readonly latency: LatencySummary;
    /** Gaps in seq seen by fast clients. */
    readonly drops: number;
    /** Messages due by the end of the run that had not arrived (counted in `latency` at their age). */
    readonly undelivered: number;
    /** Received ÷ (received + missed + undelivered): what the stall kept from them. */
    readonly deliveredRatio: number;
  };
  /** The slow client. */
  readonly slow: {
    readonly messages: number;
    readonly ratePerSec: number;
    readonly latency: LatencySummary;
    /** Messages the server dropped for it. */
    readonly serverDrops: number;
    /** Times the server disconnected it, and why. */
    readonly disconnects: readonly SlowDisconnect[];
    /** Its tier changes, in order (the ladder run; empty otherwise). */
    readonly tiers: readonly SlowTierChange[];
    /** Close frames the client itself received by the end (they queue behind data already in flight). */
    readonly closesSeen: readonly {
      readonly code: number;
      readonly reason: string;
    }[];
  };
  /** Server totals. */
  readonly server: {
    readonly published: number;
    readonly pubRatePerSec: number;
  };
}

/** Live progress once a second: a few lines, the first one `[mode  Ns/Ms] …`. */
export type ProgressListener = (line: string) => void;

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/**
 * Runs one mode and measures it. `ladder` is queue mode under `--policy
 * ladder`, whose slow client asks for control frames and accepts arrays (as
 * the SDK does by default), so it is served a tier instead of cut.
 */
export async function runScenario(
  run: DemoRun,
  o: DemoOptions,
  onProgress: ProgressListener,
): Promise<ModeResult> {
  const mode: BroadcastMode = run === "naive" ? "naive" : "queue";
  const ladder = run === "ladder";
  const t0 = performance.now();
  const atSec = () => (performance.now() - t0) / 1000;
  const slowIds = new Set<string>();
  const tiers: SlowTierChange[] = [];
  const server = startServer(
    resolveServerConfig({
      mode,
      host: "127.0.0.1",
      port: 0,
      rate: o.rate,
      payloadBytes: o.payloadBytes,
      summaryInterval: 86_400,
      ...(ladder ? { policy: "ladder" as const } : {}),
    }),
    {
      // The demo reports for itself; it keeps only the slow client's tiers.
      logger: {
        log(r) {
          if (r.type === "tier" && slowIds.has(String(r.id))) {
            tiers.push({
              atSec: atSec(),
              from: String(r.from),
              to: String(r.tier),
              reason: String(r.reason),
            });
          }
        },
      },
    },
  );
  const stop = new AbortController();
  const slowSessions = new Set<SubscriberView>();
  const disconnects: SlowDisconnect[] = [];
  let slowJoined = false;
  server.hub.on((e) => {
    if (e.type === "connect" && slowJoined) {
      slowSessions.add(e.subscriber);
      slowIds.add(e.subscriber.id);
    }
    // Only the server's own decisions: not our stop, not the shutdown.
    const byServer = e.type === "disconnect" && e.end.reason !== "shutdown" &&
      e.end.reason !== "client_closed";
    if (byServer && slowSessions.has(e.subscriber)) {
      disconnects.push({ atSec: atSec(), ...e.end });
    }
  });
  const fast = Array.from(
    { length: o.fast },
    (_, i) =>
      new SimClient(server.url, { id: `fast-${i}`, signal: stop.signal }),
  );
  const slow = new SimClient(server.url, {
    id: "slow",
    slowMs: o.slowMs,
    signal: stop.signal,
    ...(ladder ? { control: true, batch: true } : {}),
  });
  try {
    for (const c of fast) c.run();
    await Promise.all(fast.map((c) => c.firstAttempt));
    const endAt = t0 + o.durationSec * 1000;
    let lastFastMessages = 0;
    let lastAt = performance.now();
    for (let second = 1; performance.now() < endAt; second++) {
      await sleep(Math.min(t0 + second * 1000, endAt) - performance.now());
      if (!slowJoined && atSec() >= o.slowJoinSec) {
        slowJoined = true;
        slow.run();
      }
      const now = performance.now();
      const fastMessages = fast.reduce((n, c) => n + c.snapshot().messages, 0);
      const fastRate = (fastMessages - lastFastMessages) / fast.length /
        ((now - lastAt) / 1000);
      lastFastMessages = fastMessages;
      lastAt = now;
      const h = new Histogram();
      for (const c of fast) c.mergeLatencyInto(h);
      const fastSnaps = fast.map((c) => c.snapshot());
      const oldest = Math.min(...fastSnaps.map((x) => x.lastSeq ?? 0));
      const age = oldest > 0 ? now - dueAt(server.source, oldest) : 0;
      const s = slow.snapshot();
      const queued = [...slowSessions].reduce((n, x) => n + x.queued, 0);
      const drops = [...slowSessions].reduce((n, x) => n + x.drops, 0);
      onProgress([
        `[${run.padEnd(6)} ${
          atSec().toFixed(0).padStart(3)
        }s/${o.durationSec}s] ${server.hub.size} clients connected`,
        `  fast: ${fastRate.toFixed(1).padStart(5)} msg/s each, p99 ${
          fmtMs(h.percentile(99))
        }, newest data ${fmtMs(age)} old`,
        `  slow: ${
          slowJoined
            ? `${s.messages} msgs, p99 ${fmtMs(s.latency.p99)}`
            : "not joined yet"
        }`,
        `  server: queued ${queued}, dropped ${drops}, disconnects ${disconnects.length}${
          ladder ? `, slow tier ${[...slowSessions].at(-1)?.tier ?? "-"}` : ""
        }`,
      ].join("\n"));
    }
  } finally {
    stop.abort();
    await Promise.all([...fast, slow].map((c) => c.stop()));
  }
  const endAt = performance.now();
  const elapsedSec = atSec();
  const serverDrops = [...slowSessions].reduce((n, x) => n + x.drops, 0);
  const published = server.source.published;
  const lastDue = schedule(server.source).dueBy(endAt);
  await server.stop();
  const fastHist = new Histogram();
  let undelivered = 0;
  for (const c of fast) {
    c.mergeLatencyInto(fastHist);
    // Coordinated omission: a message due but never received counts at its
    // age when the run ended (a lower bound), so a stalled client cannot look
    // fast by receiving nothing.
    for (let seq = (c.snapshot().lastSeq ?? 0) + 1; seq <= lastDue; seq++) {
      fastHist.record(endAt - dueAt(server.source, seq));
      undelivered++;
    }
  }
  const fastSnaps = fast.map((c) => c.snapshot());
  const fastMessages = fastSnaps.reduce((n, s) => n + s.messages, 0);
  const fastDrops = fastSnaps.reduce((n, s) => n + s.drops, 0);
  const slowSnap = slow.snapshot();
  const slowSec = Math.max(1e-3, elapsedSec - o.slowJoinSec);
  return {
    mode,
    run,
    elapsedSec,
    fast: {
      clients: fast.length,
      ratePerSec: fastMessages / fast.length / elapsedSec,
      messages: fastMessages,
      latency: fastHist.summary(),
      drops: fastDrops,
      undelivered,
      deliveredRatio: fastMessages /
        Math.max(1, fastMessages + fastDrops + undelivered),
    },
    slow: {
      messages: slowSnap.messages,
      ratePerSec: slowSnap.messages / slowSec,
      latency: slowSnap.latency,
      serverDrops,
      disconnects,
      tiers,
      closesSeen: slowSnap.closes.map(({ code, reason }) => ({ code, reason })),
    },
    server: { published, pubRatePerSec: published / elapsedSec },
  };
}

/** The synthetic source's schedule: the demo reads due times from the server's own. */
function schedule(p: SourceStats): Schedule {
  if (!p.schedule) throw new Error("the demo runs the synthetic source");
  return p.schedule;
}

/** When message `seq` was due, monotonic ms. */
function dueAt(p: SourceStats, seq: number): number {
  return schedule(p).dueAt(seq - 1);
}

/** Milliseconds, readable at any magnitude: `4 ms`, `1.52 s`. */
export function fmtMs(ms: number): string {
  if (ms >= 1000) return `${(ms / 1000).toFixed(2)} s`;
  if (ms >= 10) return `${ms.toFixed(0)} ms`;
  return `${ms.toFixed(1)} ms`;
}
