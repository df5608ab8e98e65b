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
import { createHash } from "node:crypto";
import { DATA_PREFIX } from "../../lib/protocol.ts";
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
  /** Messages it handed over before the engine went away, to compare with the engine's stream. */
  readonly marks: readonly OutFrame[];
  /** The last message it handed over in that epoch. */
  readonly last?: OutFrame | undefined;
}

/**
 * A message as the engine's scripts compare it with their stream: its seq,
 * and the SHA-1 (hex) of its frame after the seq — exactly what the stream
 * entry holds (`f`), which carries the publisher's `ts_send` and the data.
 */
export interface Mark {
  /** Its seq. */
  readonly seq: number;
  /** SHA-1 of the frame after `{"seq":N`, lowercase hex (Redis' `redis.sha1hex`). */
  readonly hash: string;
}

/**
 * The {@link Mark} of a handed-over frame.
 *
 * @example
 * ```ts
 * import { markOf } from "./engine_reply.ts";
 * const m = markOf({ seq: 7, text: '{"seq":7,"ts_send":1,"data":1}', bytes: 30, enqueuedAt: 0, tsSend: 1 });
 * if (m.seq !== 7 || !/^[0-9a-f]{40}$/.test(m.hash)) throw new Error(m.hash);
 * ```
 */
export function markOf(frame: OutFrame): Mark {
  const rest = frame.text.slice(DATA_PREFIX.length + String(frame.seq).length);
  return {
    seq: frame.seq,
    hash: createHash("sha1").update(rest).digest("hex"),
  };
}

/** The script arguments of `marks`: `seq, hash` per mark. */
export function markArgs(marks: readonly OutFrame[]): string[] {
  return marks.flatMap((f) => {
    const m = markOf(f);
    return [String(m.seq), m.hash];
  });
}

/** A message that arrived over pub/sub before the first JOIN reply. */
export interface EarlyMessage {
  /** Its epoch. */
  readonly epoch: string;
  /** The frame. */
  readonly frame: OutFrame;
}

/**
 * A renumber the node must ask the engine for: only while it is still in
 * `epoch` with a top below `asOf`, or with a stream entry that differs
 * from one of `marks`.
 */
export interface Renumber {
  /** The epoch found behind. */
  readonly epoch: string;
  /** The seq the node had as of its question ({@link ANY_TOP}: whatever the top). */
  readonly asOf: number;
  /** Messages the node handed over that the engine's stream holds otherwise (a reused position). */
  readonly marks?: readonly OutFrame[];
}

/** `follower`'s position now, to compare the reply to a question sent now with. */
export function askedAt(follower: ChannelFollower): AskedAt {
  return {
    epoch: follower.epoch,
    delivered: follower.delivered,
    seen: follower.seen,
    marks: [...follower.marks],
    last: follower.last,
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
 * A regressed one carries the follower's marks and last message: if a peer
 * publishes at the lost seqs before the renumber runs, the engine is no
 * longer behind but holds other messages there, and the renumber still
 * applies.
 *
 * @example
 * ```ts
 * import { ANY_TOP, renumberAfter } from "./engine_reply.ts";
 * const asked = { epoch: "1.a", delivered: 7, seen: 7, marks: [] };
 * if (renumberAfter("regressed", "1.a", asked)?.asOf !== 7) throw new Error();
 * if (renumberAfter("stale", "1.a", asked)?.asOf !== ANY_TOP) throw new Error();
 * if (renumberAfter("behind", "1.a", asked) !== undefined) throw new Error();
 * ```
 */
export function renumberAfter(
  outcome: ResyncOutcome,
  epoch: string,
  asked: AskedAt,
): Renumber | undefined {
  if (outcome === "regressed") return regressed(epoch, asked);
  if (outcome === "stale") return { epoch, asOf: ANY_TOP };
  return undefined;
}

/** The renumber of an engine found behind `asked` (or holding other messages than its marks). */
function regressed(epoch: string, asked: AskedAt): Renumber {
  const { last, marks } = asked;
  const all = last && !marks.includes(last) ? [...marks, last] : marks;
  return { epoch, asOf: asked.seen, marks: all };
}

/** A JOIN's reply: the channel's `(epoch, top)`, and whether its stream differs from a mark sent. */
export interface JoinReply {
  /** The channel's epoch. */
  readonly epoch: string;
  /** Its last seq. */
  readonly top: number;
  /**
   * The stream, in the epoch the node asked in, holds another message than
   * one of its marks at the mark's seq: the engine lost that message and
   * a peer published at its position again.
   */
  readonly diverged?: boolean;
}

/**
 * Takes a JOIN reply: starts the follower (then hands it the `early`
 * messages), or resyncs it per {@link joinStep}. An engine whose stream
 * holds other messages than the follower handed over (`diverged`) is
 * renumbered like one that went backwards: its clients hold messages the
 * engine lost, and only a `reset` tells them.
 *
 * @param asked the follower's position (and marks) when the JOIN was sent
 * @param reply the engine's `(epoch, top)` and whether a mark differed
 * @param early the messages held for the first reply (`undefined` after it)
 * @returns the renumber to ask the engine for, if the reply calls for one
 */
export function applyJoinReply(
  follower: ChannelFollower,
  asked: AskedAt,
  reply: JoinReply,
  early: readonly EarlyMessage[] | undefined,
): Renumber | undefined {
  const step = joinStep(asked.epoch, follower.epoch, reply.epoch, !!early);
  if (step === "start") {
    follower.start(reply.epoch, reply.top);
    for (const m of early ?? []) follower.receive(m.epoch, m.frame);
  } else if (step === "adopt") follower.resync(reply.epoch, reply.top);
  else if (step === "compare") {
    if (reply.diverged && reply.epoch === asked.epoch) {
      return regressed(reply.epoch, asked);
    }
    const outcome = follower.resync(reply.epoch, reply.top, asked.seen);
    // Compared in the same epoch and found equal (or trimmed: past telling).
    if (outcome === "same" || outcome === "behind") {
      follower.verified(asked.marks);
    }
    return renumberAfter(outcome, reply.epoch, asked);
  }
  return undefined;
}

/** The engine's top a check saw a follower behind, in the epoch it was seen in. */
export interface Lag {
  /** The epoch. */
  readonly epoch: string;
  /** The engine's top then. */
  readonly top: number;
}

/** What a check decided for one channel, and the I/O it leaves to the node. */
export interface CheckStep {
  /** The repair made or needed (counted per cause), if any. */
  readonly cause?: RepairCause;
  /** What to remember for the next check, while the follower is behind. */
  readonly lag?: Lag;
  /** JOIN again (the engine has no epoch for the channel). */
  readonly join?: true;
  /** Ask the engine for this renumber. */
  readonly renumber?: Renumber;
  /** Subscribe the channel's subject again (pub/sub may have lost it). */
  readonly renew?: true;
  /** JOIN to compare the follower's marks with the stream (the check's script reads no stream). */
  readonly verify?: true;
}

/**
 * Takes a check's reply for one channel ({@link checkVerdict}): a follower
 * in an older epoch than the engine, or stuck behind it, is resynced here;
 * what needs the engine is returned.
 *
 * @param asked the follower's position when the check was sent
 * @param last what the previous check saw the follower behind, if it was:
 *   compared only in the same epoch (a top of another epoch says nothing
 *   about this one's seqs; a follower that moved on is not stuck)
 * @param engine the engine's `(epoch, top)` ("" epoch: no meta)
 */
export function applyCheckReply(
  follower: ChannelFollower,
  asked: AskedAt,
  last: Lag | undefined,
  engine: { readonly epoch: string; readonly top: number },
): CheckStep {
  const lagTop = last?.epoch === asked.epoch ? last.top : undefined;
  const v = checkVerdict(asked, follower.epoch, lagTop, engine);
  const lag = v.lagTop === undefined
    ? {}
    : { lag: { epoch: asked.epoch, top: v.lagTop } };
  const cause = v.cause;
  if (cause === undefined) {
    const verify = follower.marks.length > 0 && follower.epoch === asked.epoch;
    return verify ? { ...lag, verify: true } : lag;
  }
  if (cause === "missing") return { ...lag, cause, join: true };
  if (cause === "older") {
    return { ...lag, cause, renumber: { epoch: engine.epoch, asOf: ANY_TOP } };
  }
  if (cause === "regressed") {
    return { ...lag, cause, renumber: regressed(engine.epoch, asked) };
  }
  // "epoch" (the engine is in a newer one) or "stuck" (behind it).
  follower.resync(engine.epoch, engine.top);
  return cause === "stuck" ? { ...lag, cause, renew: true } : { ...lag, cause };
}
