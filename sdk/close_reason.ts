/**
 * What a close means for a client: reconnect, or stop. Read from the one
 * close-code table (`lib/close_codes.ts`); codes the table does not list are
 * classified by range, as `docs/PROTOCOL.md` says.
 *
 * @module
 */
import { CLOSE_CODES, type DisconnectReason } from "../lib/close_codes.ts";
import {
  isTerminalRefusal,
  parseRetryHint,
  refusalStatus,
} from "../lib/retry_hint.ts";

/** A connection's end, classified. */
export interface CloseInfo {
  /** The close code (1006 when the connection broke without a close frame). */
  readonly code: number;
  /** The close reason the server sent (it names the limit crossed), or "". */
  readonly reason: string;
  /** The close-code table's key for `code`, when the table has it. */
  readonly key: DisconnectReason | undefined;
  /**
   * Whether coming back may work: true for the "reconnect" rows (1001,
   * 4000–4099) and for broken connections; false for the terminal rows
   * (1000, 1009, 4100–4199): reconnecting unchanged would fail again.
   */
  readonly reconnect: boolean;
  /**
   * The HTTP status of a refusal sent as a close (code `4000 + status`:
   * 4401, 4403, 4429, 4503, …), else undefined.
   */
  readonly status: number | undefined;
  /** When the server asked the client to come back (`retry_in_ms=` in the reason), ms. */
  readonly hintMs: number | undefined;
}

const BY_CODE = new Map<number, DisconnectReason>(
  (Object.keys(CLOSE_CODES) as DisconnectReason[]).map((key) => [
    CLOSE_CODES[key].code,
    key,
  ]),
);

/** RFC 6455 codes that mean the client itself broke a rule: retrying unchanged cannot help. */
const TERMINAL_STANDARD = new Set([1002, 1003, 1007, 1008, 1010]);

/**
 * Classifies a close: the table's row when it has the code, else 4000–4099
 * reconnect, 4100–4199 and RFC 6455's protocol/policy codes (1002, 1003,
 * 1007, 1008, 1010) terminal, refusals `4000 + status` terminal for
 * 400/401/403/404 and reconnect for the others (429, 503), anything else
 * (1006 a broken connection, 1011–1014 server trouble) reconnect.
 *
 * @param code the close code
 * @param reason the close reason
 * @returns the code, reason, table key and whether to reconnect
 * @example
 * ```ts
 * import { classifyClose } from "./close_reason.ts";
 * if (!classifyClose(4002, "ping timeout").reconnect) throw new Error();
 * const flood = classifyClose(4101, "flood");
 * if (flood.reconnect || flood.key !== "flood") throw new Error();
 * if (!classifyClose(1006, "").reconnect) throw new Error("broken: retry");
 * const full = classifyClose(4503, "server full; retry_in_ms=1200");
 * if (!full.reconnect || full.status !== 503 || full.hintMs !== 1200) throw new Error();
 * if (classifyClose(4401, "bad token").reconnect) throw new Error("401: stop");
 * ```
 */
export function classifyClose(code: number, reason: string): CloseInfo {
  const key = BY_CODE.get(code);
  const status = refusalStatus(code);
  let reconnect: boolean;
  if (key !== undefined) reconnect = CLOSE_CODES[key].reconnect;
  else if (status !== undefined) reconnect = !isTerminalRefusal(status);
  else if (code >= 4000 && code <= 4099) reconnect = true;
  else if (code >= 4100 && code <= 4199) reconnect = false;
  else reconnect = !TERMINAL_STANDARD.has(code);
  return {
    code,
    reason,
    key,
    reconnect,
    status,
    hintMs: parseRetryHint(reason),
  };
}
