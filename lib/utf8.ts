/**
 * UTF-8 sizes of strings without encoding them: limits stated in bytes
 * (`--max-frame-bytes`, `--max-queue-bytes`, `--max-message-bytes`) are
 * checked in bytes, not in UTF-16 units.
 *
 * @module
 */

/**
 * The number of bytes `text` takes in UTF-8 (a lone surrogate counts as the
 * 3 bytes of U+FFFD, as `TextEncoder` writes it).
 *
 * @example
 * ```ts
 * import { utf8Length } from "./utf8.ts";
 * if (utf8Length("aé€😀") !== 1 + 2 + 3 + 4) throw new Error();
 * ```
 */
export function utf8Length(text: string): number {
  let bytes = text.length;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (c < 0x80) continue;
    if (c < 0x800) bytes += 1;
    else if (
      c >= 0xd800 && c <= 0xdbff && i + 1 < text.length &&
      (text.charCodeAt(i + 1) & 0xfc00) === 0xdc00
    ) {
      bytes += 2; // a surrogate pair: 2 units, 4 bytes
      i++;
    } else bytes += 2;
  }
  return bytes;
}

/**
 * Whether `text` takes more than `limit` bytes in UTF-8, counting only when
 * its length alone cannot tell (a string takes 1 to 3 bytes per unit).
 */
export function utf8Exceeds(text: string, limit: number): boolean {
  if (text.length > limit) return true;
  if (text.length * 3 <= limit) return false;
  return utf8Length(text) > limit;
}
