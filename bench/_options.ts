/**
 * Options of `deno task bench`, shared by every scenario.
 *
 * @module
 */
import type { ServerKind } from "./_servers.ts";

/** Resolved options of one benchmark run. */
export interface BenchOptions {
  /** The ~1-minute smoke run CI uses: fewer, shorter points. */
  readonly quick: boolean;
  /** Extra `fanout server` flags for every fanout run. */
  readonly fanoutFlags: readonly string[];
  /** Request path of the generator's clients (a query may opt in to features). */
  readonly clientPath: string;
  /** Clients ACK every message (the seed's clients do); off measures pure fan-out. */
  readonly ack: boolean;
  /** The peers to measure against in the same run. */
  readonly peers: readonly ServerKind[];
  /** Scale scenario's client counts. */
  readonly scaleClients: readonly number[];
  /** Cluster scenario's client counts. */
  readonly clusterClients: readonly number[];
  /** Cluster scenario's publish rate, messages/s. */
  readonly clusterRate: number;
  /** Interleaved repeats of each scale point (medians and ranges are reported). */
  readonly repeat: number;
}

/** Wait `ms`. */
export const sleep = (ms: number): Promise<void> =>
  new Promise((r) => setTimeout(r, ms));

/** One progress line on stderr (stdout stays for the final table). */
export function progress(text: string): void {
  console.error(`[bench ${new Date().toISOString().slice(11, 19)}] ${text}`);
}
