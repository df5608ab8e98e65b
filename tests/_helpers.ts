/**
 * Test helpers shared by the server suites: deadline waits and fake sinks.
 *
 * @module
 */
import type { Sink } from "../server/sink.ts";

/**
 * Resolves once `check()` is truthy; rejects after `timeoutMs` naming `what`.
 * Polls every `everyMs`: this is waiting for a condition, not a fixed sleep.
 */
export async function waitFor<T>(
  what: string,
  check: () => T | undefined | false | null | 0,
  timeoutMs = 10_000,
  everyMs = 20,
): Promise<T> {
  const deadline = performance.now() + timeoutMs;
  while (true) {
    const value = check();
    if (value) return value;
    if (performance.now() > deadline) {
      throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    }
    await new Promise((r) => setTimeout(r, everyMs));
  }
}

/** A sink that records frames and lets the test set its backlog. */
export class FakeSink implements Sink {
  /** Frames sent, in order. */
  readonly frames: string[] = [];
  /** Close calls received. */
  readonly closes: { code: number; reason: string }[] = [];
  /** Bytes the fake transport still holds; tests set it to simulate a slow peer. */
  bufferedAmount = 0;
  /** When true, every sent frame stays buffered (a peer that stopped reading). */
  stalled = false;

  /** Records `text`; buffers it when stalled. */
  send(text: string): void {
    this.frames.push(text);
    if (this.stalled) this.bufferedAmount += text.length;
  }

  /** Records the close. */
  close(code: number, reason: string): void {
    this.closes.push({ code, reason });
  }
}

/** A controllable monotonic clock, ms. */
export class FakeClock {
  /** Current time, ms. */
  t = 1_000_000;
  /** The clock as a function, for injection. */
  readonly now = (): number => this.t;
  /** Moves time forward by `ms`. */
  advance(ms: number): void {
    this.t += ms;
  }
}
