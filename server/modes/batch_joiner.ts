/**
 * Joins the frames of one batch (`?batch=1`) into one JSON array text, and
 * shares that text with every client holding the same run of frames in the
 * same batch tick: built once, sent many times.
 *
 * @module
 */
import type { OutFrame } from "../core/frame.ts";

/** A joined batch text, cached for the other clients holding the same run. */
interface BatchText {
  readonly last: OutFrame;
  readonly count: number;
  readonly text: string;
}

/** One batch tick's joined texts, by the run's first frame. */
export class BatchJoiner {
  readonly #texts = new Map<OutFrame, BatchText>();

  /**
   * `[frame,frame,…]` for `frames` (oldest first).
   * @param shareable true when `frames` is a contiguous run of seqs, the
   *   same text for every client holding it (conflated queues hold others)
   */
  join(frames: readonly OutFrame[], shareable: boolean): string {
    const first = frames[0]!;
    const last = frames[frames.length - 1]!;
    const count = frames.length;
    if (shareable) {
      const cached = this.#texts.get(first);
      if (cached && cached.last === last && cached.count === count) {
        return cached.text;
      }
    }
    let text = "[";
    for (let i = 0; i < count; i++) {
      if (i > 0) text += ",";
      text += frames[i]!.text;
    }
    text += "]";
    if (shareable) this.#texts.set(first, { last, count, text });
    return text;
  }

  /** Forgets this tick's texts. */
  clear(): void {
    this.#texts.clear();
  }
}
