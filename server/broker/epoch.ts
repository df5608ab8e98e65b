/**
 * Epochs: short opaque names of one numbering of a channel's stream.
 *
 * @module
 */

/**
 * A fresh epoch: 8 characters of base64url from 48 random bits, so two
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
