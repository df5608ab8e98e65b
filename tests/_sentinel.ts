/**
 * A primary, a replica and a Sentinel on free loopback ports, started and
 * stopped by the test that owns them: the failover tests' engine.
 *
 * @module
 */
import { RedisServer } from "../bench/_redis.ts";
import { waitFor } from "./_helpers.ts";
import { direct } from "./_cluster.ts";

/** A `redis-sentinel` monitoring one primary as `mymaster`, on a free port. */
export class Sentinel implements AsyncDisposable {
  /** Its port on 127.0.0.1. */
  readonly port: number;
  readonly #dir: string;
  readonly #child: Deno.ChildProcess;

  private constructor(port: number, dir: string, child: Deno.ChildProcess) {
    this.port = port;
    this.#dir = dir;
    this.#child = child;
  }

  /** Starts one monitoring the primary on `primaryPort` (quorum 1, down after 1 s). */
  static async start(primaryPort: number): Promise<Sentinel> {
    const probe = Deno.listen({ hostname: "127.0.0.1", port: 0 });
    const port = (probe.addr as Deno.NetAddr).port;
    probe.close();
    const dir = await Deno.makeTempDir({ prefix: "fanout-sentinel-" });
    await Deno.writeTextFile(
      `${dir}/sentinel.conf`,
      [
        `port ${port}`,
        "bind 127.0.0.1",
        `dir ${dir}`,
        `sentinel monitor mymaster 127.0.0.1 ${primaryPort} 1`,
        "sentinel down-after-milliseconds mymaster 1000",
        "sentinel failover-timeout mymaster 5000",
        "",
      ].join("\n"),
    );
    const child = new Deno.Command("/usr/bin/redis-server", {
      args: [`${dir}/sentinel.conf`, "--sentinel"],
      stdin: "null",
      stdout: "null",
      stderr: "null",
    }).spawn();
    return new Sentinel(port, dir, child);
  }

  /** `redis://127.0.0.1:PORT` (the Sentinel itself). */
  get url(): string {
    return `redis://127.0.0.1:${this.port}`;
  }

  async [Symbol.asyncDispose](): Promise<void> {
    this.#child.kill("SIGKILL");
    await this.#child.status;
    await Deno.remove(this.#dir, { recursive: true }).catch(() => {});
  }
}

/**
 * Waits until the replica has acknowledged every write the primary at `url`
 * took (WAIT, repeated: on a busy machine one 5-s WAIT may end first).
 */
export async function replicated(url: string): Promise<void> {
  const p = await direct(url);
  try {
    await waitFor(
      "the replica to acknowledge every write",
      async () => Number(await p.sendCommand(["WAIT", "1", "1000"])) >= 1,
      30_000,
    );
  } finally {
    await p.close();
  }
}

/** A primary, its replica and a Sentinel watching them. */
export interface SentinelSetup extends AsyncDisposable {
  readonly primary: RedisServer;
  readonly replica: RedisServer;
  readonly sentinel: Sentinel;
  /** A connection to the replica (to stop its replication: `REPLICAOF 127.0.0.1 1`). */
  readonly r: Awaited<ReturnType<typeof direct>>;
  /** A connection to the Sentinel. */
  readonly s: Awaited<ReturnType<typeof direct>>;
  /** The URL nodes use: `redis+sentinel://127.0.0.1:PORT/mymaster`. */
  readonly url: string;
  /** Kills the primary and has Sentinel promote the replica. */
  failover(): Promise<void>;
  /** The port Sentinel names as the primary now. */
  primaryPort(): Promise<number>;
}

/** Starts a primary, a replica of it and a Sentinel, and waits until Sentinel knows the replica. */
export async function sentinelSetup(): Promise<SentinelSetup> {
  const primary = await RedisServer.start();
  const replica = await RedisServer.start();
  const r = await direct(replica.url);
  await r.sendCommand(["REPLICAOF", "127.0.0.1", String(primary.port)]);
  const sentinel = await Sentinel.start(primary.port);
  const s = await waitFor(
    "sentinel up",
    () => direct(sentinel.url).catch(() => undefined),
    15_000,
  );
  await waitFor("sentinel to know the replica", async () => {
    const replicas = await s.sendCommand([
      "SENTINEL",
      "REPLICAS",
      "mymaster",
    ]) as string[][];
    return replicas.some((fields) => {
      const flags = fields[fields.indexOf("flags") + 1] ?? "";
      return flags === "slave";
    });
  }, 30_000);
  return {
    primary,
    replica,
    sentinel,
    r,
    s,
    url: `redis+sentinel://127.0.0.1:${sentinel.port}/mymaster`,
    async failover() {
      await primary.kill();
      await waitFor(
        "Sentinel to fail over",
        async () => {
          try {
            await s.sendCommand(["SENTINEL", "FAILOVER", "mymaster"]);
            return true;
          } catch (err) {
            return /INPROG/.test(String(err));
          }
        },
        30_000,
        200,
      );
    },
    async primaryPort() {
      const master = await s.sendCommand([
        "SENTINEL",
        "GET-MASTER-ADDR-BY-NAME",
        "mymaster",
      ]) as string[];
      return Number(master[1]);
    },
    async [Symbol.asyncDispose]() {
      await s.close().catch(() => {});
      await r.close().catch(() => {});
      await sentinel[Symbol.asyncDispose]();
      await replica[Symbol.asyncDispose]();
      await primary[Symbol.asyncDispose]();
    },
  };
}
