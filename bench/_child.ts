/**
 * Child processes of the benchmark: spawn with piped stdout, read JSON lines,
 * wait for one that matches, and stop with SIGTERM then SIGKILL.
 *
 * @module
 */

/** A spawned process whose stdout is read line by line. */
export class Child implements AsyncDisposable {
  readonly name: string;
  readonly process: Deno.ChildProcess;
  /** JSON objects seen on stdout so far (non-JSON lines are kept as `{line}`). */
  readonly lines: Record<string, unknown>[] = [];
  readonly #waiters: {
    match: (line: Record<string, unknown>) => boolean;
    resolve: (line: Record<string, unknown>) => void;
  }[] = [];
  readonly #stderr: string[] = [];
  readonly exited: Promise<Deno.CommandStatus>;
  readonly #reading: Promise<void>;
  #onLine: ((line: Record<string, unknown>) => void) | undefined;

  /**
   * @param name label for error messages
   * @param command executable
   * @param args its arguments
   * @param cwd working directory
   */
  constructor(name: string, command: string, args: string[], cwd?: string) {
    this.name = name;
    this.process = new Deno.Command(command, {
      args,
      ...(cwd ? { cwd } : {}),
      stdin: "null",
      stdout: "piped",
      stderr: "piped",
      env: { NO_COLOR: "1" },
    }).spawn();
    this.exited = this.process.status;
    this.#reading = Promise.all([
      this.#read(this.process.stdout, (line) => this.#line(line)),
      this.#read(this.process.stderr, (line) => {
        this.#stderr.push(line);
        if (this.#stderr.length > 50) this.#stderr.shift();
      }),
    ]).then(() => {});
  }

  /** The process id, for `/proc`. */
  get pid(): number {
    return this.process.pid;
  }

  /** The last lines the child wrote to stderr. */
  get stderr(): string {
    return this.#stderr.join("\n");
  }

  /** Calls `fn` for every stdout line from now on. */
  onLine(fn: (line: Record<string, unknown>) => void): void {
    this.#onLine = fn;
  }

  /**
   * Waits for a stdout line that `match`es (including lines already seen).
   * @throws {Error} when the child exits first or `timeoutMs` passes
   */
  async waitFor(
    match: (line: Record<string, unknown>) => boolean,
    timeoutMs: number,
  ): Promise<Record<string, unknown>> {
    const seen = this.lines.find(match);
    if (seen) return seen;
    const { promise, resolve } = Promise.withResolvers<
      Record<string, unknown>
    >();
    this.#waiters.push({ match, resolve });
    let timer: ReturnType<typeof setTimeout> | undefined;
    const failed = new Promise<never>((_, reject) => {
      timer = setTimeout(
        () =>
          reject(
            new Error(
              `${this.name}: no expected output within ${timeoutMs} ms\n${this.stderr}`,
            ),
          ),
        timeoutMs,
      );
      this.exited.then((s) =>
        reject(
          new Error(`${this.name} exited (${s.code}) early\n${this.stderr}`),
        )
      );
    });
    try {
      return await Promise.race([promise, failed]);
    } finally {
      clearTimeout(timer);
    }
  }

  /** SIGTERM, then SIGKILL after `graceMs`; resolves once it has exited. */
  async stop(graceMs = 3000): Promise<void> {
    try {
      this.process.kill("SIGTERM");
    } catch {
      // already gone
    }
    let timer: ReturnType<typeof setTimeout> | undefined;
    const killed = new Promise<void>((resolve) => {
      timer = setTimeout(() => {
        try {
          this.process.kill("SIGKILL");
        } catch {
          // already gone
        }
        resolve();
      }, graceMs);
    });
    await Promise.race([this.exited, killed]);
    clearTimeout(timer);
    await this.exited;
    await this.#reading;
  }

  [Symbol.asyncDispose](): Promise<void> {
    return this.stop();
  }

  #line(text: string): void {
    let line: Record<string, unknown>;
    try {
      const v = JSON.parse(text);
      line = typeof v === "object" && v !== null ? v : { line: text };
    } catch {
      line = { line: text };
    }
    this.lines.push(line);
    if (this.lines.length > 2000) this.lines.splice(0, 1000);
    this.#onLine?.(line);
    for (let i = this.#waiters.length - 1; i >= 0; i--) {
      const w = this.#waiters[i]!;
      if (w.match(line)) {
        this.#waiters.splice(i, 1);
        w.resolve(line);
      }
    }
  }

  async #read(
    stream: ReadableStream<Uint8Array>,
    fn: (line: string) => void,
  ): Promise<void> {
    let rest = "";
    try {
      for await (const text of stream.pipeThrough(new TextDecoderStream())) {
        const parts = (rest + text).split("\n");
        rest = parts.pop() ?? "";
        for (const p of parts) if (p.trim() !== "") fn(p);
      }
    } catch {
      // the child went away mid-line
    }
    if (rest.trim() !== "") fn(rest);
  }
}
