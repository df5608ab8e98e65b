/**
 * A real, throwaway `redis-server` for the scale-out tests and the cluster
 * benchmark: on a free loopback port, in a temp dir, started and stopped by
 * its owner (SIGKILL for a crash, restart with or without its data).
 *
 * @module
 */

/** Where Debian's `redis-server` package puts the binary. */
export const REDIS_SERVER_PATH = "/usr/bin/redis-server";

/** Options of {@link RedisServer.start}. */
export interface RedisOptions {
  /** Keep an append-only file (fsync always), so a restart keeps the data. @default false */
  readonly aof?: boolean;
  /** More `redis-server` arguments, given at every (re)start. @default [] */
  readonly args?: readonly string[];
}

/** One redis-server process the test owns. */
export class RedisServer implements AsyncDisposable {
  /** Its port on 127.0.0.1. */
  readonly port: number;
  /** Its working directory (the AOF lives here). */
  readonly dir: string;
  readonly #aof: boolean;
  /** More arguments, at every (re)start (a test may change them). */
  args: readonly string[] = [];
  #child: Deno.ChildProcess | undefined;

  private constructor(port: number, dir: string, aof: boolean) {
    this.port = port;
    this.dir = dir;
    this.#aof = aof;
  }

  /** Starts a new server on a free port. */
  static async start(options: RedisOptions = {}): Promise<RedisServer> {
    const probe = Deno.listen({ hostname: "127.0.0.1", port: 0 });
    const port = (probe.addr as Deno.NetAddr).port;
    probe.close();
    const dir = await Deno.makeTempDir({ prefix: "fanout-redis-" });
    const server = new RedisServer(port, dir, options.aof ?? false);
    server.args = options.args ?? [];
    await server.restart();
    return server;
  }

  /** The process id while it runs (for `/proc`). */
  get pid(): number | undefined {
    return this.#child?.pid;
  }

  /** `redis://127.0.0.1:PORT`. */
  get url(): string {
    return `redis://127.0.0.1:${this.port}`;
  }

  /**
   * (Re)starts the process on the same port and dir; with `empty`, its data
   * is wiped first (a restart without persistence).
   */
  async restart(empty = false): Promise<void> {
    if (this.#child) throw new Error("redis-server is already running");
    if (empty) {
      for await (const entry of Deno.readDir(this.dir)) {
        await Deno.remove(`${this.dir}/${entry.name}`, { recursive: true });
      }
    }
    this.#child = new Deno.Command(REDIS_SERVER_PATH, {
      args: [
        "--port",
        String(this.port),
        "--bind",
        "127.0.0.1",
        "--dir",
        this.dir,
        "--save",
        "",
        "--appendonly",
        this.#aof ? "yes" : "no",
        "--appendfsync",
        "always",
        ...this.args,
      ],
      stdin: "null",
      stdout: "null",
      stderr: "null",
    }).spawn();
    const deadline = performance.now() + 10_000;
    while (true) {
      try {
        const conn = await Deno.connect({
          hostname: "127.0.0.1",
          port: this.port,
        });
        conn.close();
        return;
      } catch {
        if (performance.now() > deadline) {
          throw new Error(`redis-server did not listen on ${this.port}`);
        }
        await new Promise((r) => setTimeout(r, 20));
      }
    }
  }

  /** Sends `signal` to the process (SIGSTOP/SIGCONT: a stalled Redis) without waiting. */
  signal(signal: Deno.Signal): void {
    this.#child?.kill(signal);
  }

  /** Kills the process (SIGKILL by default: a crash) and waits for it. */
  async kill(signal: Deno.Signal = "SIGKILL"): Promise<void> {
    const child = this.#child;
    if (!child) return;
    this.#child = undefined;
    child.kill(signal);
    await child.status;
  }

  /** Stops the process and removes its dir. */
  async [Symbol.asyncDispose](): Promise<void> {
    await this.kill("SIGKILL");
    await Deno.remove(this.dir, { recursive: true }).catch(() => {});
  }
}
