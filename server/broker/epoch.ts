/**
 * Epochs: short names of one numbering of a channel's stream. A shared
 * engine's epochs are `<generation>.<name>`: the generation only grows
 * (kept in the engine, raised atomically with every new numbering), so
 * nodes, hubs and clients can tell the newer of two epochs
 * (`isOlderEpoch` in `lib/protocol.ts`).
 *
 * @module
 */

/**
 * A fresh epoch name: 8 characters of base64url from 48 random bits, so two
 * numberings of one channel practically never share a name.
 *
 * @example
 * ```ts
 * import { newEpoch } from "./epoch.ts";
 * const a = newEpoch();
 * if (!/^[A-Za-z0-9_-]{8}$/.test(a) || a === newEpoch()) throw new Error(a);
 * ```
 */
export function newEpoch(): string {
  return crypto.getRandomValues(new Uint8Array(6)).toBase64({
    alphabet: "base64url",
    omitPadding: true,
  });
}
