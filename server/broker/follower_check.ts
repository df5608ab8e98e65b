/**
 * The periodic check of a followed channel against the engine: what to do
 * when the engine's `(epoch, top)` and the follower's position disagree.
 * Pub/sub can go silent without an error (a node deaf on a channel, a
 * message lost on a connection that came back): the check finds it within
 * two rounds and says which repair it needs. No network here.
 *
 * @module
 */
import { isOlderEpoch } from "../../lib/protocol.ts";

/** Why a check repaired a follower (the `cause` label of `fanout_follower_repairs_total`). */
export type RepairCause =
  | "missing" // the engine has no epoch for the channel (expired, restarted empty)
  | "epoch" // the engine is in a newer epoch than the follower
  | "older" // the engine is in an older epoch (a failover to a replica that missed a renumber): renumber it
  | "stuck" // the engine was ahead at the last check and the follower still is not there
  | "regressed"; // the engine is behind what the follower had: it lost data

/** What a check decided for one channel. */
export interface CheckVerdict {
  /** The repair needed, if any. */
  readonly cause?: RepairCause;
  /** The engine's top to remember while the follower is behind (next check compares). */
  readonly lagTop?: number;
}

/**
 * Decides one channel's check.
 *
 * @param asked the follower's `(epoch, delivered, seen)` when the check was sent
 * @param now the follower's epoch when the reply came
 * @param lagTop the engine's top remembered at the previous check, when the follower was behind
 * @param engine the engine's `(epoch, top)` ("" epoch: no meta)
 *
 * @example
 * ```ts
 * import { checkVerdict } from "./follower_check.ts";
 * const asked = { epoch: "1.a", delivered: 5 };
 * const first = checkVerdict(asked, "1.a", undefined, { epoch: "1.a", top: 9 });
 * if (first.cause !== undefined || first.lagTop !== 9) throw new Error();
 * const again = checkVerdict(asked, "1.a", 9, { epoch: "1.a", top: 9 });
 * if (again.cause !== "stuck") throw new Error();
 * ```
 */
export function checkVerdict(
  asked: {
    readonly epoch: string;
    readonly delivered: number;
    /** Delivered or held ahead of a hole (the follower's `seen`); `delivered` when absent. */
    readonly seen?: number;
  },
  now: string,
  lagTop: number | undefined,
  engine: { readonly epoch: string; readonly top: number },
): CheckVerdict {
  // The follower moved while the check was out: the next check compares.
  if (now !== asked.epoch || asked.epoch === "") return {};
  if (engine.epoch === "") return { cause: "missing" };
  if (engine.epoch !== asked.epoch) {
    return isOlderEpoch(engine.epoch, asked.epoch)
      ? { cause: "older" }
      : { cause: "epoch" };
  }
  if (engine.top < (asked.seen ?? asked.delivered)) {
    return { cause: "regressed" };
  }
  if (engine.top === asked.delivered) return {};
  // Behind: messages may still be on their way over pub/sub. Behind what
  // the engine already had a whole check ago is stuck (or deaf).
  if (lagTop !== undefined && asked.delivered < lagTop) {
    return { cause: "stuck", lagTop: engine.top };
  }
  return { lagTop: engine.top };
}
