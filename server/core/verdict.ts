/**
 * A verdict: the decision that a session must end, returned by whoever made
 * it (the session's inbound checks, a mode's writer, the slow-client policy)
 * to the hub, the one place that closes sessions.
 *
 * @module
 */
import type { DisconnectReason } from "../../lib/close_codes.ts";

/** A decision to disconnect a client: why, and the words the client is told. */
export interface Verdict {
  /** Close-code table key. */
  readonly reason: DisconnectReason;
  /** Human reason naming the limit crossed. */
  readonly detail: string;
}
