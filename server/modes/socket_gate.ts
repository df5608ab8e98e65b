/**
 * How much a queue-mode writer lets wait in a client's socket: the gate its
 * frames pass only while the socket buffers less, and the caps of one batch
 * frame (`?batch=1`, `?batch=auto`).
 *
 * @module
 */

/**
 * The writer hands frames to the socket only while the socket buffers fewer
 * bytes than this. Without this gate Deno buffers without limit and the
 * bounded queue bounds nothing. Server memory per client is at most this
 * plus one frame, plus the queue's shared frame references.
 */
export const QUEUE_HIGH_WATER_BYTES = 64 * 1024;
/**
 * …and fewer frames than this: with small frames 64 KiB would let hundreds
 * of them wait in Deno's buffer behind the bounded queue, out of the policy's
 * reach, so what waits per client is bounded in messages too.
 */
export const SOCKET_HIGH_WATER_FRAMES = 64;
/** The frame bound never gates below this many bytes (tiny frames batch up in the kernel anyway). */
const SOCKET_MIN_GATE_BYTES = 16 * 1024;

/**
 * The socket gate for frames of `frameBytes`: at most
 * {@link SOCKET_HIGH_WATER_FRAMES} such frames, never more than
 * {@link QUEUE_HIGH_WATER_BYTES}.
 */
export function socketGate(frameBytes: number): number {
  return Math.min(
    QUEUE_HIGH_WATER_BYTES,
    Math.max(SOCKET_MIN_GATE_BYTES, SOCKET_HIGH_WATER_FRAMES * frameBytes),
  );
}

/** A batching client's frame holds at most this many messages (`?batch=1`). */
export const BATCH_MAX_MESSAGES = 256;
/** A batching client's frame stops growing once it holds this many bytes (`?batch=1`). */
export const BATCH_MAX_BYTES = 1024 * 1024;
/**
 * A coalescing client's frame (`?batch=auto`, the ladder) stops growing at
 * the socket gate: one frame never buffers much more than the gate allows,
 * so a slow reader still gets its control frames soon and memory stays
 * bounded per client.
 */
export const COALESCE_MAX_BYTES = QUEUE_HIGH_WATER_BYTES;
