/**
 * When a queue-mode client is too slow to keep: plain functions over plain
 * state, testable without a socket or a clock.
 *
 * @module
 */
import { DROP_WINDOW_MS } from "../../lib/close_codes.ts";
import type { Verdict } from "../core/mode.ts";

export { DROP_WINDOW_MS };
/** Resolution of the drop window: it slides in steps of this many ms. */
const SLOT_MS = 500;
const SLOTS = DROP_WINDOW_MS / SLOT_MS;

/** Per-client state the policy reads and updates. */
export interface SlowState {
  /** Drops per {@link SLOT_MS} slot, a ring indexed by slot number; made on the first drop. */
  slots: Uint32Array | undefined;
  /** Slot number (ms / SLOT_MS) of the newest slot written. */
  newestSlot: number;
  /** When the queue last became full, ms; undefined while not full. */
  fullSince: number | undefined;
}

/** The limits of the policy, from the server config. */
export interface SlowLimits {
  /** Disconnect when drops within the window exceed this. */
  readonly dropLimit: number;
  /** Disconnect when the queue stays full longer than this, ms. */
  readonly fullTimeoutMs: number;
  /** Disconnect when the client is further behind than this, ms (`--max-lag`). @default Infinity */
  readonly maxLagMs?: number;
}

/** Fresh state for a new session. */
export function newSlowState(): SlowState {
  return { slots: undefined, newestSlot: 0, fullSince: undefined };
}

/** Zeroes slots that fell out of the window since the newest write. */
function advance(state: SlowState, nowMs: number): void {
  const slot = Math.floor(nowMs / SLOT_MS);
  if (slot <= state.newestSlot) return;
  const slots = state.slots;
  if (slots) {
    const stale = Math.min(SLOTS, slot - state.newestSlot);
    for (let i = 1; i <= stale; i++) slots[(state.newestSlot + i) % SLOTS] = 0;
  }
  state.newestSlot = slot;
}

/** Counts one dropped message at `nowMs`. */
export function recordDrop(state: SlowState, nowMs: number, count = 1): void {
  advance(state, nowMs);
  (state.slots ??= new Uint32Array(SLOTS))[state.newestSlot % SLOTS]! += count;
}

/** Drops counted within the last {@link DROP_WINDOW_MS} before `nowMs`. */
export function dropsInWindow(state: SlowState, nowMs: number): number {
  advance(state, nowMs);
  const slots = state.slots;
  if (slots === undefined) return 0; // never dropped (and nothing allocated per call)
  let sum = 0;
  for (let i = 0; i < slots.length; i++) sum += slots[i]!;
  return sum;
}

/** Tells the policy whether the queue is full at `nowMs`. */
export function noteFull(
  state: SlowState,
  isFull: boolean,
  nowMs: number,
): void {
  if (!isFull) state.fullSince = undefined;
  else if (state.fullSince === undefined) state.fullSince = nowMs;
}

/**
 * Whether the client must be disconnected now.
 * @returns the verdict, or undefined to keep the client
 */
export function judgeSlow(
  state: SlowState,
  limits: SlowLimits,
  nowMs: number,
): Verdict | undefined {
  const drops = dropsInWindow(state, nowMs);
  if (drops > limits.dropLimit) {
    return {
      reason: "slow_drops",
      detail: `slow client: ${drops} messages dropped in ${
        DROP_WINDOW_MS / 1000
      } s, over --drop-limit ${limits.dropLimit}`,
    };
  }
  if (
    state.fullSince !== undefined &&
    nowMs - state.fullSince > limits.fullTimeoutMs
  ) {
    const secs = ((nowMs - state.fullSince) / 1000).toFixed(1);
    return {
      reason: "slow_full",
      detail: `slow client: queue full for ${secs} s, over --full-timeout ${
        limits.fullTimeoutMs / 1000
      } s`,
    };
  }
  return undefined;
}

/**
 * Whether a client `lagMs` behind (the age of the oldest message it has not
 * taken) must be disconnected under `--max-lag`.
 * @returns the verdict, or undefined to keep the client
 */
export function judgeLag(
  lagMs: number,
  limits: SlowLimits,
): Verdict | undefined {
  const max = limits.maxLagMs ?? Infinity;
  if (!(lagMs > max)) return undefined;
  return {
    reason: "slow_lag",
    detail: `slow client: ${
      (lagMs / 1000).toFixed(1)
    } s behind, over --max-lag ${max / 1000} s`,
  };
}
