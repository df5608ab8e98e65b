/**
 * How the Redis broker's connections are made (one place for the options).
 *
 * @module
 */
import { createClient } from "@redis/client";

/**
 * A node-redis client as the Redis broker configures it: RESP 2, commands
 * refused at once while offline, reconnecting every second at most.
 *
 * @param url the server
 * @param timeoutMs the command timeout (`--broker-timeout-ms`), ms
 */
export function redisClient(url: string, timeoutMs: number) {
  return createClient({
    url,
    RESP: 2,
    // A command while Redis is away fails at once (the publisher is told
    // 503 and retries) instead of waiting in a queue.
    disableOfflineQueue: true,
    // Waiting to be written counts against the deadline too.
    commandOptions: { timeout: timeoutMs },
    socket: {
      connectTimeout: Math.max(timeoutMs, 1_000),
      socketTimeout: 15_000,
      reconnectStrategy: (retries: number) => Math.min(100 * retries, 1_000),
    },
  });
}

/** A node-redis client, as {@link redisClient} makes it. */
export type RedisClient = ReturnType<typeof redisClient>;
