/**
 * A deadline on every Redis command. node-redis' own command timeout only
 * covers the wait to be written: a command already on the wire to a
 * stalled server waits for ever (until the socket times out, 15 s). Here
 * each command's promise is raced against `--broker-timeout-ms`; the late
 * reply, if one comes, is dropped.
 *
 * @module
 */

/** A command got no reply within the deadline (it was sent: it may have run). */
export class CommandTimeoutError extends Error {
  /** @param ms the deadline, ms */
  constructor(ms: number) {
    super(`no reply within ${ms} ms (--broker-timeout-ms)`);
    this.name = "CommandTimeoutError";
  }
}

/**
 * `client`, with every method that returns a promise bounded by `ms`.
 *
 * @example
 * ```ts
 * import { CommandTimeoutError, withDeadline } from "./redis_deadline.ts";
 * const slow = { ping: () => new Promise<string>(() => {}), name: "x" };
 * const bounded = withDeadline(slow, 5);
 * const err = await bounded.ping().catch((e) => e);
 * if (!(err instanceof CommandTimeoutError) || bounded.name !== "x") throw err;
 * ```
 */
export function withDeadline<T extends object>(client: T, ms: number): T {
  return new Proxy(client, {
    get(target, prop) {
      const value = Reflect.get(target, prop, target);
      if (typeof value !== "function") return value;
      return (...args: unknown[]) => {
        const result = value.apply(target, args);
        return result instanceof Promise ? bounded(result, ms) : result;
      };
    },
  });
}

function bounded<T>(promise: Promise<T>, ms: number): Promise<T> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const deadline = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new CommandTimeoutError(ms)), ms);
  });
  promise.catch(() => {}); // a late failure, after the deadline, is no one's
  return Promise.race([promise, deadline]).finally(() => clearTimeout(timer));
}
