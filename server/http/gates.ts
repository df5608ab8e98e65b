/**
 * The node-wide gates a subscriber passes besides admission's own checks:
 * a drain in progress, the connect rate (`--max-connect-rate`) and the
 * replay budget (`--replay-budget`). Each closed gate is a 503 with a
 * reason, a rejection label and the least time to wait before coming back.
 *
 * @module
 */
import type { Hub } from "../core/hub.ts";
import { type ReplayBudget, replayCost } from "../core/replay_budget.ts";
import type { ConnectRate } from "./connect_rate.ts";

/** The gates a node has (none: always open). */
export interface Gates {
  /** A drain in progress refuses new subscribers. */
  readonly drain?: { readonly draining: boolean } | undefined;
  /** New connections per second. */
  readonly connectRate?: ConnectRate | undefined;
  /** Replayed messages per second shared by resuming clients. */
  readonly replayBudget?: ReplayBudget | undefined;
}

/** A closed gate. */
export interface GateRefusal {
  readonly status: 503;
  readonly reason: string;
  readonly label: string;
  /** The least time before coming back can work, ms. */
  readonly atLeastMs: number;
}

/**
 * The gates checked before admission (they cost nothing): a drain, then
 * the connect rate (which takes a token when open).
 * @returns the refusal, or undefined to go on
 */
export function gateBeforeAdmission(gates: Gates): GateRefusal | undefined {
  if (gates.drain?.draining) {
    return {
      status: 503,
      reason: "server draining (restart or deploy): connect to another node",
      label: "draining",
      atLeastMs: 0,
    };
  }
  const rate = gates.connectRate;
  if (rate && !rate.take()) {
    return {
      status: 503,
      reason: "too many new connections (--max-connect-rate): retry later",
      label: "connect_rate",
      atLeastMs: rate.waitMs(),
    };
  }
  return undefined;
}

/**
 * The replay budget, for an admitted client (its channel and `since` are
 * known); charges the budget when it lets the replay in.
 * @returns the refusal, or undefined to go on
 */
export function gateReplay(
  gates: Gates,
  hub: Hub,
  terms: { channel: string; since?: number; epoch?: string },
): GateRefusal | undefined {
  const budget = gates.replayBudget?.take(
    replayCost(hub.broker.position(terms.channel), terms.since, terms.epoch),
  );
  if (!budget || budget.ok) return undefined;
  return {
    status: 503,
    reason:
      "replay budget of this node spent (--replay-budget): resume when told",
    label: "replay_budget",
    atLeastMs: budget.waitMs,
  };
}
