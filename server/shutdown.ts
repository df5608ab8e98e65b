/**
 * Stopping a server, in order: stop taking messages, let the clients take
 * what is queued for them, close them, then wait for their close handshakes
 * and release the broker. Each phase is its own function so a phase can be
 * added (a graceful drain that spreads the closes goes between
 * {@link letClientsDrain} and {@link closeClients}).
 *
 * @module
 */
import type { Broker } from "./core/broker.ts";
import type { Hub } from "./core/hub.ts";
import type { Listener } from "./http/listener.ts";
import type { MetricsListener } from "./http/metrics_listener.ts";
import type { OpenSockets } from "./http/subscribe.ts";
import type { Housekeeping } from "./housekeeping.ts";
import type { Observers } from "./observe/observers.ts";
import type { RunningSource } from "./sources/source.ts";

/** How long a graceful stop waits for sockets to finish closing, ms. */
export const SHUTDOWN_DEADLINE_MS = 3000;
/**
 * After publishing stops, how long clients get to take what is queued for
 * them and ACK it before they are closed, ms at most: a client that ACKs
 * must not have ACKs in flight when its close arrives (Deno drops a
 * connection that receives a frame while closing, without sending the
 * close frame, and the peer sees no 1001). A busy client can be seconds
 * behind, so the wait is long, but ends after {@link SHUTDOWN_STALL_MS}
 * without progress.
 */
export const SHUTDOWN_GRACE_MS = 5000;
/** The drain ends early when no queue shrinks and no ACK arrives for this long, ms. */
export const SHUTDOWN_STALL_MS = 1000;
/** Once nothing waits for any client, how long ACKs in flight get to arrive, ms. */
export const SHUTDOWN_QUIET_MS = 50;

/** What a running server is made of, as far as stopping it goes. */
export interface ServerParts {
  /** Aborting it stops the source. */
  readonly publishing: AbortController;
  /** The running source. */
  readonly source: RunningSource;
  /** Releases the channel the source holds (none for `--source http`). */
  readonly releaseSourceChannel: (() => void) | undefined;
  /** The hub's tick and the summaries. */
  readonly housekeeping: Housekeeping;
  /** The sessions. */
  readonly hub: Hub;
  /** Metrics, dashboard feed. */
  readonly observers: Observers;
  /** The subscribers' sockets, for their close handshakes. */
  readonly sockets: OpenSockets;
  /** The HTTP listener. */
  readonly listener: Listener;
  /** The `--metrics-port` listener, if any. */
  readonly metricsListener?: MetricsListener | undefined;
  /** The broker, released last. */
  readonly broker: Broker;
}

/** Stops everything, in order. */
export async function shutdown(parts: ServerParts): Promise<void> {
  stopIntake(parts);
  await letClientsDrain(parts.hub);
  await closeClients(parts);
  await release(parts);
}

/** Stops publishing and the periodic work: nothing new is queued. */
export function stopIntake(parts: ServerParts): void {
  parts.publishing.abort();
  parts.housekeeping.stop();
}

/**
 * Lets the clients take what is queued for them and ACK it (up to
 * {@link SHUTDOWN_GRACE_MS}), then gives ACKs in flight
 * {@link SHUTDOWN_QUIET_MS} to arrive.
 */
export async function letClientsDrain(hub: Hub): Promise<void> {
  await drained(hub, SHUTDOWN_GRACE_MS);
  await sleep(SHUTDOWN_QUIET_MS);
}

/** Closes every client with 1001, waits for the source, logs the final summary. */
export async function closeClients(parts: ServerParts): Promise<void> {
  parts.hub.closeAll("shutdown", "server shutting down");
  parts.releaseSourceChannel?.();
  await parts.source.done;
  parts.housekeeping.reportFinal();
  parts.observers.close();
}

/**
 * Waits for the close handshakes (not for peers that stopped reading) and
 * the listener, up to {@link SHUTDOWN_DEADLINE_MS}, then releases the broker.
 */
export async function release(parts: ServerParts): Promise<void> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const deadline = new Promise<void>((resolve) => {
    timer = setTimeout(resolve, SHUTDOWN_DEADLINE_MS);
  });
  await Promise.race([
    Promise.all([
      parts.sockets.closed(SHUTDOWN_DEADLINE_MS),
      parts.listener.shutdown(),
      parts.metricsListener?.shutdown(),
    ]),
    deadline,
  ]);
  clearTimeout(timer);
  await parts.broker[Symbol.asyncDispose]();
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/**
 * Resolves once no message waits for any client (queues and socket buffers
 * empty) and every client that ACKs has ACKed the latest frame it was sent;
 * or after `ms`; or after {@link SHUTDOWN_STALL_MS} without progress (a
 * client that stopped reading or ACKing holds nobody up for long).
 */
async function drained(hub: Hub, ms: number): Promise<void> {
  const start = performance.now();
  let progressAt = start;
  let last = "";
  for (let now = start; now - start < ms; now = performance.now()) {
    const { queued, bufferedBytes } = hub.backlog();
    const { sessions, received } = hub.awaitingAcks();
    if (queued === 0 && bufferedBytes === 0 && sessions === 0) return;
    const state = `${queued} ${bufferedBytes} ${received}`;
    if (state !== last) {
      last = state;
      progressAt = now;
    } else if (now - progressAt >= SHUTDOWN_STALL_MS) return;
    await sleep(10);
  }
}
