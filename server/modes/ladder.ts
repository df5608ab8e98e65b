/**
 * The ladder (`--policy ladder`): each client has a tier, moves down one
 * step when it falls behind and back up one step after it has kept up for a
 * while. Plain functions over plain state; the clock is the caller's `now`.
 *
 * - `full`: every message, one frame each;
 * - `coalesced`: everything queued leaves in one batch frame the moment the
 *   socket can take it (only for clients that accept batch frames);
 * - `conflated`: only the latest value per key is kept in the queue;
 * - `dropping`: drop-oldest, with `dropped` notices; only here do drops
 *   count against `--drop-limit` and a full queue against `--full-timeout`
 *   (the cut, 4000/4001).
 *
 * @module
 */
import type { AckWindow } from "./ack_pacer.ts";

/** A client's tier on the ladder, best first. */
export type Tier = "full" | "coalesced" | "conflated" | "dropping";

/** Every tier, best first. */
export const TIERS: readonly Tier[] = [
  "full",
  "coalesced",
  "conflated",
  "dropping",
];

/** Why a tier changed. */
export type TierReason =
  | "behind"
  | "queue_full"
  | "overload"
  | "kept_up";

/** The ladder's thresholds (flags, with defaults below). */
export interface LadderLimits {
  /** Behind when this many messages wait in its queue (`--ladder-down-msgs`). */
  readonly downMsgs: number;
  /** …or when its oldest queued message is this old, ms (`--ladder-down-ms`). */
  readonly downMs: number;
  /** Up one step after keeping up this long, ms (`--ladder-up-ms`). */
  readonly upMs: number;
  /** How much of its stream a client that ACKs may have in flight (none: no pacing). */
  readonly ackWindow?: AckWindow;
}

/** Default of `--ladder-down-msgs`: half the default `--maxsize`. */
export const DEFAULT_LADDER_DOWN_MSGS = 50;
/** Default of `--ladder-down-ms`. */
export const DEFAULT_LADDER_DOWN_MS = 500;
/** Default of `--ladder-up-ms`: ten times the way down, so a client does not flap. */
export const DEFAULT_LADDER_UP_MS = 5000;
/** A client keeps up while it loses nothing and its queue and lag are under this share of the down thresholds. */
export const KEEP_UP_SHARE = 0.25;

/** One client's place on the ladder. */
export interface LadderState {
  /** The tier now. */
  tier: Tier;
  /** When the tier last changed, ms. */
  changedAt: number;
  /** Since when the client has kept up without a break, ms; undefined while it does not. */
  calmSince: number | undefined;
}

/** What the ladder reads about a client. */
export interface LadderReading {
  /** Messages waiting in its queue. */
  readonly queued: number;
  /** True when its queue cannot take the next message without a drop. */
  readonly full: boolean;
  /**
   * How far behind it is, ms: the age of its oldest queued message, or how
   * long its socket has refused more, whichever is longer (a conflated queue
   * holds only fresh values, so its age alone never says behind).
   */
  readonly lagMs: number;
  /** Whether it accepts batch frames (the `coalesced` tier exists for it). */
  readonly batch: boolean;
  /** Whether the server itself is behind (then a batch client is at least coalesced). */
  readonly overloaded: boolean;
  /** Whether it lost anything (dropped, superseded, expired) since the last look: then it is not keeping up. @default false */
  readonly lossy?: boolean;
}

/** A tier change: from, to, why. */
export interface TierChange {
  readonly from: Tier;
  readonly to: Tier;
  readonly reason: TierReason;
}

/** A new client's ladder state: `full`. */
export function newLadderState(now: number): LadderState {
  return { tier: "full", changedAt: now, calmSince: undefined };
}

function below(tier: Tier, batch: boolean): Tier {
  const next = TIERS[Math.min(TIERS.indexOf(tier) + 1, TIERS.length - 1)]!;
  return next === "coalesced" && !batch ? "conflated" : next;
}

function above(tier: Tier, batch: boolean): Tier {
  const next = TIERS[Math.max(TIERS.indexOf(tier) - 1, 0)]!;
  return next === "coalesced" && !batch ? "full" : next;
}

/**
 * Whether `reading` is behind under `limits` for a client in `tier`. In
 * `conflated` only a growing queue counts: while conflation keeps the
 * queue short it absorbs whatever the client cannot read, however far
 * behind its socket is, so there is nothing to drop.
 */
export function isBehind(
  reading: LadderReading,
  limits: LadderLimits,
  tier: Tier = "full",
): boolean {
  if (reading.full || reading.queued >= limits.downMsgs) return true;
  return tier !== "conflated" && reading.lagMs >= limits.downMs;
}

/**
 * One look at a client: moves it one step down when it is behind (at once
 * when its queue is full, otherwise once it has spent `downMs` in its tier,
 * so the tier gets its chance to work), and one step up after it kept up for
 * `upMs` (each further step needs another `upMs`: hysteresis). While the
 * server is overloaded the lag is the server's: nobody moves, except that a
 * batch client at `full` is told it is `coalesced`.
 *
 * @returns the change made, or undefined
 * @example
 * ```ts
 * import { newLadderState, stepLadder } from "./ladder.ts";
 * const limits = { downMsgs: 50, downMs: 500, upMs: 5000 };
 * const s = newLadderState(0);
 * const behind = { queued: 60, full: false, lagMs: 0, batch: true, overloaded: false };
 * stepLadder(s, behind, limits, 600);
 * if (s.tier !== "coalesced") throw new Error(s.tier);
 * ```
 */
export function stepLadder(
  state: LadderState,
  reading: LadderReading,
  limits: LadderLimits,
  now: number,
): TierChange | undefined {
  const from = state.tier;
  if (reading.overloaded) {
    // The server is behind, not the client: nobody moves down for it (a
    // client still slow once the server keeps up is judged then), and no
    // one moves up either; a batch client is told it is coalesced.
    state.calmSince = undefined;
    return reading.batch && from === "full"
      ? move(state, "coalesced", "overload", now)
      : undefined;
  }
  if (isBehind(reading, limits, from)) {
    state.calmSince = undefined;
    if (from === "dropping") return undefined;
    if (!reading.full && now - state.changedAt < limits.downMs) {
      return undefined;
    }
    return move(
      state,
      below(from, reading.batch),
      reading.full ? "queue_full" : "behind",
      now,
    );
  }
  const keepingUp = !reading.lossy &&
    reading.queued <= limits.downMsgs * KEEP_UP_SHARE &&
    reading.lagMs <= limits.downMs * KEEP_UP_SHARE;
  if (!keepingUp) {
    state.calmSince = undefined;
    return undefined;
  }
  state.calmSince ??= now;
  if (from === "full" || now - state.calmSince < limits.upMs) return undefined;
  const to = above(from, reading.batch);
  if (to === from) return undefined;
  state.calmSince = now;
  return move(state, to, "kept_up", now);
}

function move(
  state: LadderState,
  to: Tier,
  reason: TierReason,
  now: number,
): TierChange {
  const change = { from: state.tier, to, reason };
  state.tier = to;
  state.changedAt = now;
  if (reason !== "kept_up") state.calmSince = undefined;
  return change;
}

/** Whether `tier` keeps only the latest value per key. */
export function conflates(tier: Tier): boolean {
  return tier === "conflated";
}

/** Whether drops and a full queue count against the client in `tier` (toward the cut). */
export function charges(tier: Tier): boolean {
  return tier === "dropping";
}
