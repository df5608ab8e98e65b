/**
 * The ladder's frames as the SDK sees them (protocol 3): `tier`, `lag` and
 * `expired` events, and the client's statistics they keep current.
 *
 * @module
 */
import type { ControlFrame } from "../lib/protocol.ts";

/** The `tier` notice: the server moved this client to another tier (`--policy ladder`). */
export type TierEvent = Extract<ControlFrame, { type: "tier" }>;
/** The `lag` frame: how far behind this client is and what it lost, every `--lag-interval`. */
export type LagEvent = Extract<ControlFrame, { type: "lag" }>;
/** The `expired` notice: `count` messages outlived their time to live before their turn. */
export type ExpiredEvent = Extract<ControlFrame, { type: "expired" }>;

/** What the ladder's frames tell about a client, kept in its statistics. */
export interface LadderStats {
  /** Its tier, as the server last said (`full` until told otherwise). */
  tier: TierEvent["tier"];
  /** Messages waiting for it on the server, at the last `lag` frame. */
  queued: number;
  /** How far behind it was at the last `lag` frame, ms. */
  lagMs: number;
  /** Messages the server did not send it because they expired. */
  expired: number;
  /** Messages replaced by a newer value of their key before it got them (conflation). */
  superseded: number;
}

/** Fresh ladder statistics. */
export function newLadderStats(): LadderStats {
  return { tier: "full", queued: 0, lagMs: 0, expired: 0, superseded: 0 };
}

/**
 * Applies one of the ladder's frames to `stats`.
 * @returns true when `frame` is one of them (`tier`, `lag`, `expired`)
 * @example
 * ```ts
 * import { applyLadderFrame, newLadderStats } from "./ladder_events.ts";
 * const s = newLadderStats();
 * applyLadderFrame({ type: "expired", channel: "c", count: 2 }, s);
 * if (s.expired !== 2) throw new Error();
 * ```
 */
export function applyLadderFrame(
  frame: ControlFrame,
  stats: LadderStats,
): frame is TierEvent | LagEvent | ExpiredEvent {
  switch (frame.type) {
    case "tier":
      stats.tier = frame.tier;
      return true;
    case "lag":
      stats.tier = frame.tier;
      stats.queued = frame.queued;
      stats.lagMs = frame.lag_ms;
      stats.superseded += frame.superseded;
      return true;
    case "expired":
      stats.expired += frame.count;
      return true;
    default:
      return false;
  }
}
