/**
 * Small timing helpers that always clean up their timers and listeners, so
 * stopping a run never leaves anything pending (test sanitizers stay quiet).
 *
 * @module
 */

/** Current time as epoch milliseconds, monotonic within the process. */
export function nowMs(): number {
  return performance.timeOrigin + performance.now();
}

/**
 * Waits `ms`, or less when `signal` aborts first. Never rejects.
 * @returns true when the full time passed, false when aborted
 */
export function sleep(ms: number, signal: AbortSignal): Promise<boolean> {
  return new Promise((resolve) => {
    if (signal.aborted) return resolve(false);
    const finish = (full: boolean) => {
      clearTimeout(id);
      signal.removeEventListener("abort", onAbort);
      resolve(full);
    };
    const onAbort = () => finish(false);
    const id = setTimeout(() => finish(true), ms);
    signal.addEventListener("abort", onAbort, { once: true });
  });
}

/**
 * Settles like `promise`, or resolves `undefined` after `ms` if it has not
 * settled by then (the timer is cleared either way).
 */
export async function within<T>(
  promise: Promise<T>,
  ms: number,
): Promise<T | undefined> {
  let id: ReturnType<typeof setTimeout> | undefined;
  const timeout = new Promise<undefined>((resolve) => {
    id = setTimeout(() => resolve(undefined), ms);
  });
  try {
    return await Promise.race([promise, timeout]);
  } finally {
    clearTimeout(id);
  }
}
