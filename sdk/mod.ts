/**
 * The fanout client SDK: subscribe to a fanout server from a browser, Deno
 * or Node ≥ 20, with resume. One module, no dependencies; the server serves
 * it bundled at `GET /client.js`, so a page can
 * `import { FanoutClient } from "/client.js"`. The wire contract it speaks
 * is `docs/PROTOCOL.md`.
 *
 * - {@link FanoutClient}: connect to a channel, hold `(epoch, seq)`,
 *   reconnect with backoff and `?since=&epoch=`, typed events for messages,
 *   `gap`, `reset`, `dropped`, `position` and `close` (terminal or not).
 * - {@link StreamState}, {@link classifyClose}, {@link Backoff}: the same
 *   protocol logic without a transport, for clients that bring their own
 *   (clientsim reads `WebSocketStream` with it).
 *
 * @example
 * ```ts ignore
 * import { FanoutClient } from "./mod.ts";
 * const client = new FanoutClient("ws://localhost:8765/", { batch: true, ack: true });
 * client.on("message", (m) => console.log(m.seq, m.ts_send));
 * client.on("gap", (g) => console.warn(`lost ${g.missed} messages`));
 * client.start();
 * ```
 *
 * @module
 */
export {
  type DroppedEvent,
  FanoutClient,
  type FanoutClientOptions,
  type FanoutClientState,
  type FanoutClientStats,
  type FanoutCloseEvent,
  type FanoutEvents,
  type GapEvent,
  type LastCloseEvent,
  type PositionEvent,
  type ResetEvent,
  type WebSocketConstructor,
  type WebSocketLike,
} from "./client.ts";
export {
  type ConnectRequest,
  type Delivery,
  type FanoutMessage,
  type Incoming,
  type StreamPosition,
  StreamState,
  type StreamStateOptions,
} from "./stream_state.ts";
export { classifyClose, type CloseInfo } from "./close_reason.ts";
export {
  Attempt,
  type AttemptHandlers,
  type AttemptOptions,
  CONNECT_TIMEOUT_MS,
  ERROR_GRACE_MS,
} from "./attempt.ts";
export {
  parseRetryHint,
  refusalCloseCode,
  refusalStatus,
  withRetryHint,
} from "../lib/retry_hint.ts";
export {
  Backoff,
  type BackoffOptions,
  INITIAL_BACKOFF_MS,
  MAX_BACKOFF_MS,
} from "./backoff.ts";
export { Emitter, type Unsubscribe } from "./emitter.ts";
export {
  applyLadderFrame,
  type ExpiredEvent,
  type LadderStats,
  type LagEvent,
  newLadderStats,
  type TierEvent,
} from "./ladder_events.ts";
export {
  type ControlFrame,
  DEFAULT_CHANNEL,
  encodeAck,
  PROTOCOL_VERSION,
} from "../lib/protocol.ts";
export {
  CLOSE_CODES,
  type CloseCodeEntry,
  type DisconnectReason,
} from "../lib/close_codes.ts";
