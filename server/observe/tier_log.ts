/**
 * One log line per tier change of a client on the ladder (`--policy ladder`).
 *
 * @module
 */
import type { Session } from "../core/session.ts";
import type { Logger } from "../core/logger.ts";
import type { TierChange } from "../modes/ladder.ts";

/**
 * Logs that `session` moved from one tier to another, and why.
 *
 * @param logger where the line goes
 * @param session the client
 * @param change from, to, why
 */
export function logTierChange(
  logger: Logger,
  session: Session,
  change: TierChange,
): void {
  logger.log(
    {
      type: "tier",
      id: session.id,
      remote: session.remote,
      channel: session.channel,
      tier: change.to,
      from: change.from,
      reason: change.reason,
    },
    `[tier] ${session.id} ${session.remote} ${change.from} -> ${change.to} (${change.reason})`,
  );
}
