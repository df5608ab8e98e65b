/**
 * What a node does with the engine's reply about a channel it follows — a
 * JOIN's `(epoch, top)` or a periodic check's — given the follower's
 * position as of when it asked (a reply is older than what pub/sub may
 * have delivered meanwhile). The rules: a first reply starts the follower;
 * a follower that moved to another epoch while the question was out only
 * takes a reply that names yet another one; otherwise the reply is
 * compared with the position as of the ask, and an engine behind it in the
 * same epoch (it lost data) or in an older epoch (a replica that missed a
 * renumber) is renumbered — compare-and-set on the epoch and that
 * position. Accepting, repairing, `gap` and discarding older epochs are
 * {@link ChannelFollower}'s.
 *
 * No network here: the node (`redis_channels.ts`) runs these against
 * Redis, and the seeded fault simulator against its simulated engine, so
 * both run the same decisions.
 *
 * @module
 */
import type { OutFrame } from "../core/frame.ts";
import type { ChannelFollower, ResyncOutcome } from "./channel_follower.ts";
import { checkVerdict, type RepairCause } from "./follower_check.ts";

/** The `asOf` of a renumber that applies whatever the engine's top (an older epoch). */
export const ANY_TOP = Number.MAX_SAFE_INTEGER;

/** A follower's position when the node sent its question. */
export interface AskedAt {
  /** The epoch it followed. */
  readonly epoch: string;
  /** The last seq it had delivered. */
  readonly delivered: number;
  /** The highest seq it knew of in that epoch: delivered or held ahead of a hole. */
  readonly seen: number;
}

/** A message that arrived over pub/sub before the first JOIN reply. */
export interface EarlyMessage {
  /** Its epoch. */
  readonly epoch: string;
  /** The frame. */
  readonly frame: OutFrame;
}

/** A renumber the node must ask the engine for: only while it is still in `epoch` with a top below `asOf`. */
export interface Renumber {
  /** The epoch found behind. */
  readonly epoch: string;
  /** The seq the node had as of its question ({@link ANY_TOP}: whatever the top). */
  readonly asOf: number;
}

/** `follower`'s position now, to compare the reply to a question sent now with. */
export function askedAt(follower: ChannelFollower): AskedAt {
  return {
    epoch: follower.epoch,
    delivered: follower.delivered,
    seen: follower.seen,
  };
}

/**
 * How a JOIN reply is taken: `start` (the follower's first), `skip` (the
 * follower moved to the reply's epoch meanwhile), `adopt` (it moved
 * meanwhile and the reply names yet another epoch: resync with that, not
 * compared with the old position), `compare` (with the position as of the
 * ask).
 *
 * @param asked the follower's epoch when the JOIN was sent
 * @param now its epoch when the reply came
 * @param reply the epoch the reply names
 * @param first whether this is the follower's first reply
 *
 * @example
 * ```ts
 * import { joinStep } from "./engine_reply.ts";
 * if (joinStep("1.a", "2.b", "2.b", false) !== "skip") throw new Error();
 * if (joinStep("1.a", "1.a", "1.a", false) !== "compare") throw new Error();
 * ```
 */
export function joinStep(
  asked: string,
  now: string,
  reply: string,
  first: boolean,
): "start" | "skip" | "adopt" | "compare" {
  if (first) return "start";
  if (now !== asked) return reply === now ? "skip" : "adopt";
  return "compare";
}

/**
 * The renumber a resync's outcome calls for: the engine behind the
 * position as of the ask in the same epoch (`regressed`: it lost data), or
 * in an older epoch (`stale`: what is published there would be discarded).
 *
 * @example
 * ```ts
 * import { ANY_TOP, renumberAfter } from "./engine_reply.ts";
 * if (renumberAfter("regressed", "1.a", 7)?.asOf !== 7) throw new Error();
 * if (renumberAfter("stale", "1.a", 7)?.asOf !== ANY_TOP) throw new Error();
 * if (renumberAfter("behind", "1.a", 7) !== undefined) throw new Error();
 * ```
 */
export function renumberAfter(
  outcome: ResyncOutcome,
  epoch: string,
  asOf: number,
): Renumber | undefined {
  if (outcome === "regressed") return { epoch, asOf };
  if (outcome === "stale") return { epoch, asOf: ANY_TOP };
  return undefined;
}

/**
 * Takes a JOIN reply: starts the follower (then hands it the `early`
 * messages), or resyncs it per {@link joinStep}.
 *
 * @param asked the follower's position when the JOIN was sent
 * @param reply the engine's `(epoch, top)`
 * @param early the messages held for the first reply (`undefined` after it)
 * @returns the renumber to ask the engine for, if the reply calls for one
 */
export function applyJoinReply(
  follower: ChannelFollower,
  asked: AskedAt,
  reply: { readonly epoch: string; readonly top: number },
  early: readonly EarlyMessage[] | undefined,
): Renumber | undefined {
  const step = joinStep(asked.epoch, follower.epoch, reply.epoch, !!early);
  if (step === "start") {
    follower.start(reply.epoch, reply.top);
    for (const m of early ?? []) follower.receive(m.epoch, m.frame);
  } else if (step === "adopt") follower.resync(reply.epoch, reply.top);
  else if (step === "compare") {
    const outcome = follower.resync(reply.epoch, reply.top, asked.seen);
    return renumberAfter(outcome, reply.epoch, asked.seen);
  }
  return undefined;
}

/** What a check decided for one channel, and the I/O it leaves to the node. */
export interface CheckStep {
  /** The repair made or needed (counted per cause), if any. */
  readonly cause?: RepairCause;
  /** The engine's top to remember for the next check, while the follower is behind. */
  readonly lagTop?: number;
  /** JOIN again (the engine has no epoch for the channel). */
  readonly join?: true;
  /** Ask the engine for this renumber. */
  readonly renumber?: Renumber;
  /** Subscribe the channel's subject again (pub/sub may have lost it). */
  readonly renew?: true;
}

/**
 * Takes a check's reply for one channel ({@link checkVerdict}): a follower
 * in an older epoch than the engine, or stuck behind it, is resynced here;
 * what needs the engine is returned.
 *
 * @param asked the follower's position when the check was sent
 * @param lagTop the engine's top remembered at the previous check
 * @param engine the engine's `(epoch, top)` ("" epoch: no meta)
 */
export function applyCheckReply(
  follower: ChannelFollower,
  asked: AskedAt,
  lagTop: number | undefined,
  engine: { readonly epoch: string; readonly top: number },
): CheckStep {
  const v = checkVerdict(asked, follower.epoch, lagTop, engine);
  const lag = v.lagTop === undefined ? {} : { lagTop: v.lagTop };
  const cause = v.cause;
  if (cause === undefined) return lag;
  if (cause === "missing") return { ...lag, cause, join: true };
  if (cause === "older" || cause === "regressed") {
    const asOf = cause === "older" ? ANY_TOP : asked.seen;
    return { ...lag, cause, renumber: { epoch: engine.epoch, asOf } };
  }
  // "epoch" (the engine is in a newer one) or "stuck" (behind it).
  follower.resync(engine.epoch, engine.top);
  return cause === "stuck" ? { ...lag, cause, renew: true } : { ...lag, cause };
}
