/**
 * Test helpers for the CLI: run `deno run -q -P=fanout main.ts …` as a
 * subprocess, read its output line by line and wait for a line with a
 * deadline (never a fixed sleep), and always reap the process.
 *
 * @module
 */

/** The repository root (where `deno.json` and `main.ts` live). */
export const REPO_ROOT: URL = new URL("../", import.meta.url);

/** Lines of one output stream, collected as they arrive. */
export class LineReader {
  /** Every complete line so far (and the unterminated tail once the stream ends). */
  readonly lines: string[] = [];
  readonly #waiters = new Set<() => void>();
  #ended = false;
  #error: unknown = undefined;
  /** Resolves once the stream has been read to its end. */
  readonly done: Promise<void>;

  /** @param stream the child's stdout or stderr */
  constructor(stream: ReadableStream<Uint8Array>) {
    this.done = this.#pump(stream);
  }

  async #pump(stream: ReadableStream<Uint8Array>): Promise<void> {
    let tail = "";
    try {
      for await (const chunk of stream.pipeThrough(new TextDecoderStream())) {
        const parts = (tail + chunk).split("\n");
        tail = parts.pop() ?? "";
        if (parts.length > 0) {
          this.lines.push(...parts.map((l) => l.replace(/\r$/, "")));
          this.#notify();
        }
      }
    } catch (err) {
      this.#error = err;
    } finally {
      if (tail !== "") this.lines.push(tail);
      this.#ended = true;
      this.#notify();
    }
  }

  #notify(): void {
    for (const wake of [...this.#waiters]) wake();
  }

  /** Everything read so far, lines joined with "\n". */
  get text(): string {
    return this.lines.join("\n");
  }

  /**
   * Resolves with the first line (already read or still to come) for which
   * `match` is true.
   *
   * @param what names the line in the timeout error
   * @param timeoutMs deadline
   * @throws {Error} after `timeoutMs`, or when the stream ends first; the
   *   message includes the output so far
   */
  waitForLine(
    what: string,
    match: (line: string) => boolean,
    timeoutMs = 15_000,
  ): Promise<string> {
    let checked = 0;
    const { promise, resolve, reject } = Promise.withResolvers<string>();
    const finish = () => {
      clearTimeout(timer);
      this.#waiters.delete(check);
    };
    const check = () => {
      for (; checked < this.lines.length; checked++) {
        const line = this.lines[checked]!;
        if (match(line)) {
          finish();
          resolve(line);
          return;
        }
      }
      if (this.#ended) {
        finish();
        reject(
          new Error(
            `output ended before ${what}${
              this.#error ? ` (${String(this.#error)})` : ""
            }; output:\n${this.text}`,
          ),
        );
      }
    };
    const timer = setTimeout(() => {
      finish();
      reject(
        new Error(
          `timed out after ${timeoutMs} ms waiting for ${what}; output:\n${this.text}`,
        ),
      );
    }, timeoutMs);
    this.#waiters.add(check);
    check();
    return promise;
  }

  /**
   * Like {@link waitForLine} for JSON lines: resolves with the first line
   * that parses as a JSON object for which `match` is true.
   */
  async waitForJson(
    what: string,
    match: (record: Record<string, unknown>) => boolean,
    timeoutMs = 15_000,
  ): Promise<Record<string, unknown>> {
    const line = await this.waitForLine(
      what,
      (l) => {
        const record = parseJsonObject(l);
        return record !== undefined && match(record);
      },
      timeoutMs,
    );
    return parseJsonObject(line)!;
  }
}

/** Parses `line` as a JSON object; undefined for anything else. */
export function parseJsonObject(
  line: string,
): Record<string, unknown> | undefined {
  try {
    const value: unknown = JSON.parse(line);
    return typeof value === "object" && value !== null && !Array.isArray(value)
      ? value as Record<string, unknown>
      : undefined;
  } catch {
    return undefined;
  }
}

/** How to start an executable: defaults to `deno run -q -P=fanout main.ts`. */
export interface SpawnOptions {
  /** The program and its leading arguments. @default {denoRunMain()} */
  command?: readonly [string, ...string[]];
  /** `"piped"` to write to the process's stdin ({@link FanoutProcess.stdin}). @default "null" */
  stdin?: "piped" | "null";
}

/** `deno run -q -P=fanout main.ts`, from the running Deno. */
export function denoRunMain(): [string, ...string[]] {
  return [Deno.execPath(), "run", "-q", "-P=fanout", "main.ts"];
}

/** A running `fanout` process; `await using` kills and reaps it. */
export class FanoutProcess implements AsyncDisposable {
  readonly #child: Deno.ChildProcess;
  /** The arguments after `main.ts`. */
  readonly args: readonly string[];
  /** Its stdout, line by line. */
  readonly stdout: LineReader;
  /** Its stderr, line by line. */
  readonly stderr: LineReader;
  /** Resolves when the process has exited and both streams are read. */
  readonly status: Promise<Deno.CommandStatus>;
  #exited = false;

  /**
   * @param args arguments after `main.ts` (e.g. `["server", "--port", "0"]`)
   * @param options another executable (the compiled binary)
   */
  constructor(args: readonly string[], options: SpawnOptions = {}) {
    const [program, ...lead] = options.command ?? denoRunMain();
    this.args = args;
    const child = new Deno.Command(program, {
      args: [...lead, ...args],
      cwd: REPO_ROOT,
      stdin: options.stdin ?? "null",
      stdout: "piped",
      stderr: "piped",
    }).spawn();
    const stdout = new LineReader(child.stdout);
    const stderr = new LineReader(child.stderr);
    this.#child = child;
    this.stdout = stdout;
    this.stderr = stderr;
    this.status = (async () => {
      const status = await child.status;
      this.#exited = true;
      await Promise.all([stdout.done, stderr.done]);
      return status;
    })();
  }

  /**
   * `fanout server --host 127.0.0.1 --port 0` and `extra`: a server on a
   * free loopback port (read it with {@link waitForListening}).
   */
  static server(
    extra: readonly string[],
    options: SpawnOptions = {},
  ): FanoutProcess {
    return new FanoutProcess(
      ["server", "--host", "127.0.0.1", "--port", "0", ...extra],
      options,
    );
  }

  /** The process's stdin (spawned with `stdin: "piped"`). */
  get stdin(): WritableStream<Uint8Array> {
    return this.#child.stdin;
  }

  /** The process id. */
  get pid(): number {
    return this.#child.pid;
  }

  /** Sends `signal` unless the process has already exited. */
  kill(signal: Deno.Signal = "SIGTERM"): void {
    if (this.#exited) return;
    try {
      this.#child.kill(signal);
    } catch (err) {
      // It may exit between the check and the kill.
      if (
        !(err instanceof TypeError) && !(err instanceof Deno.errors.NotFound)
      ) {
        throw err;
      }
    }
  }

  /**
   * Resolves with the exit status, or kills the process (SIGKILL) and
   * throws after `timeoutMs`.
   */
  async exit(timeoutMs = 15_000): Promise<Deno.CommandStatus> {
    let timer: ReturnType<typeof setTimeout> | undefined;
    const deadline = new Promise<"timeout">((resolve) => {
      timer = setTimeout(() => resolve("timeout"), timeoutMs);
    });
    try {
      const result = await Promise.race([this.status, deadline]);
      if (result !== "timeout") return result;
    } finally {
      clearTimeout(timer);
    }
    this.kill("SIGKILL");
    await this.status;
    throw new Error(
      `fanout ${
        this.args.join(" ")
      } did not exit within ${timeoutMs} ms; stdout:\n${this.stdout.text}\nstderr:\n${this.stderr.text}`,
    );
  }

  /** Kills the process if it is still running and waits for it. */
  async [Symbol.asyncDispose](): Promise<void> {
    this.kill("SIGKILL");
    await this.status;
  }
}

/** A finished run's exit code and complete output. */
export interface RunResult {
  /** The exit code. */
  code: number;
  /** Everything written to stdout. */
  stdout: string;
  /** Everything written to stderr. */
  stderr: string;
}

/**
 * Runs `fanout …args` to its end.
 *
 * @param timeoutMs the process is killed, and this throws, after this long
 */
export async function runToEnd(
  args: readonly string[],
  timeoutMs = 30_000,
  options: SpawnOptions = {},
): Promise<RunResult> {
  await using proc = new FanoutProcess(args, options);
  const { code } = await proc.exit(timeoutMs);
  return { code, stdout: proc.stdout.text, stderr: proc.stderr.text };
}

/**
 * Waits for the server's first `--log-json` line, which must be the
 * `listening` record, and returns it.
 */
export async function waitForListening(
  proc: FanoutProcess,
  timeoutMs = 20_000,
): Promise<Record<string, unknown> & { port: number }> {
  const first = await proc.stdout.waitForLine(
    "the first line",
    () => true,
    timeoutMs,
  );
  const record = parseJsonObject(first);
  if (record?.type !== "listening" || typeof record.port !== "number") {
    throw new Error(`expected a JSON listening record first, got: ${first}`);
  }
  return record as Record<string, unknown> & { port: number };
}

/**
 * Resolves like `promise`, or rejects naming `what` after `timeoutMs`.
 */
export async function withDeadline<T>(
  what: string,
  promise: Promise<T>,
  timeoutMs = 15_000,
): Promise<T> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const deadline = new Promise<never>((_, reject) => {
    timer = setTimeout(
      () =>
        reject(
          new Error(`timed out after ${timeoutMs} ms waiting for ${what}`),
        ),
      timeoutMs,
    );
  });
  try {
    return await Promise.race([promise, deadline]);
  } finally {
    clearTimeout(timer);
  }
}

/**
 * Runs a measuring probe script of this folder in a process of its own with
 * V8's `gc()` exposed, and returns the JSON object on its last stdout line
 * (a probe that fails throws with its stderr).
 * @param script the probe's file name, e.g. `_heap_probe.ts`
 * @param args its arguments
 */
export async function runGcProbe<T>(
  script: string,
  ...args: string[]
): Promise<T> {
  const { code, stdout, stderr } = await new Deno.Command(Deno.execPath(), {
    args: [
      "run",
      "-q",
      "-A",
      "--v8-flags=--expose-gc",
      new URL(`./${script}`, import.meta.url).pathname,
      ...args,
    ],
    stdout: "piped",
    stderr: "piped",
  }).output();
  if (code !== 0) {
    throw new Error(
      `${script} exited ${code}: ${new TextDecoder().decode(stderr)}`,
    );
  }
  const text = new TextDecoder().decode(stdout);
  return JSON.parse(text.trim().split("\n").at(-1)!);
}
