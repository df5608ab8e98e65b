// The publisher every peer shares, with fanout's semantics (server/publisher.ts):
// message n is due at start + n / rate (no drift), `ts_send` is its due time,
// a late publisher catches up in bursts, and each message is encoded once —
// `{"seq","ts_send","payload_b64"}` with fresh random bytes per message.
import { Buffer } from "node:buffer";
import { randomFillSync } from "node:crypto";
import process from "node:process";

/** Messages published back to back before yielding while catching up. */
const CATCH_UP_BURST = 64;

/** `--name value` pairs from argv, with defaults. */
export function parsePeerArgs(defaults) {
  const out = { ...defaults };
  const argv = process.argv.slice(2);
  for (let i = 0; i < argv.length; i += 2) {
    const key = argv[i]?.replace(/^--/, "");
    if (!key || !(key in defaults)) throw new Error(`unknown flag ${argv[i]}`);
    out[key] = typeof defaults[key] === "number"
      ? Number(argv[i + 1])
      : argv[i + 1];
  }
  return out;
}

/** Epoch seconds with sub-millisecond resolution (as lib/protocol.ts). */
export const epochSeconds = () =>
  (performance.timeOrigin + performance.now()) / 1000;

/**
 * Publishes `encode`d messages at `rate` until `stop()`; `publish(text)`
 * hands one encoded frame to the peer's broadcast.
 */
export function startPublisher({ rate, payloadBytes }, publish) {
  const intervalMs = 1000 / rate;
  const startMs = performance.now();
  const startEpoch = epochSeconds();
  const bytes = new Uint8Array(payloadBytes);
  const stats = { published: 0, maxLagMs: 0 };
  let timer;
  let stopped = false;
  const tick = () => {
    let burst = 0;
    while (!stopped) {
      const dueMs = startMs + stats.published * intervalMs;
      const t = performance.now();
      if (t < dueMs) {
        timer = setTimeout(tick, dueMs - t);
        return;
      }
      if (t - dueMs > stats.maxLagMs) stats.maxLagMs = t - dueMs;
      const seq = stats.published + 1;
      randomFillSync(bytes);
      const b64 = Buffer.from(bytes.buffer, bytes.byteOffset, bytes.length)
        .toString("base64");
      const ts = startEpoch + (dueMs - startMs) / 1000;
      publish(`{"seq":${seq},"ts_send":${ts},"payload_b64":"${b64}"}`);
      stats.published = seq;
      if (++burst >= CATCH_UP_BURST) {
        timer = setTimeout(tick, 0);
        return;
      }
    }
  };
  tick();
  return {
    stats,
    stop() {
      stopped = true;
      clearTimeout(timer);
    },
  };
}

/** Parses an ACK like fanout does (JSON, two numeric fields); false if malformed. */
export function acceptAck(text) {
  try {
    const v = JSON.parse(text);
    return typeof v?.ack_ts === "number" && Number.isSafeInteger(v?.seq);
  } catch {
    return false;
  }
}
