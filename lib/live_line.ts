/**
 * Live progress for the terminal: on a TTY a status (one line, or a small
 * block of lines) redrawn in place with `\r`, clear-line and cursor-up, and
 * permanent lines printed above it; elsewhere (a pipe, a file, `--json`)
 * plain lines, the status at most every `plainEveryMs`, a block joined
 * into one line.
 *
 * @module
 */

/** Erase the current line and return to its start (CR + ANSI EL2). */
const CLEAR_LINE = "\r\x1b[2K";
/** Move the cursor up one line (ANSI CUU). */
const UP = "\x1b[1A";

/** Options of {@link LiveLine}. */
export interface LiveLineOptions {
  /** True to redraw in place (the output is a terminal). */
  readonly tty: boolean;
  /** Writes raw text (no newline added). */
  readonly write: (text: string) => void;
  /** Terminal width; a status is cut to fit so it never wraps. @default the console's, or 80 */
  readonly columns?: () => number;
  /** Without a TTY, print the status as a line at most this often, ms. @default 0 (every time) */
  readonly plainEveryMs?: number;
  /** Monotonic clock, ms. @default performance.now */
  readonly now?: () => number;
}

/**
 * A status line that redraws in place on a terminal and falls back to
 * plain periodic lines elsewhere.
 *
 * @example
 * ```ts
 * import { LiveLine } from "./live_line.ts";
 * let out = "";
 * const live = new LiveLine({ tty: true, write: (t) => void (out += t), columns: () => 80 });
 * live.status("1 s");
 * live.status("2 s");
 * live.line("a permanent line");
 * live.commit();
 * if (!out.endsWith("\r\x1b[2Ka permanent line\n2 s\n")) throw new Error(JSON.stringify(out));
 * ```
 */
export class LiveLine {
  readonly #o: LiveLineOptions;
  readonly #now: () => number;
  /** The status on screen (TTY), or the latest one (plain). */
  #status = "";
  /** Lines of the status block on screen; 0 when none is. */
  #shownLines = 0;
  #lastPlainAt = -Infinity;

  /** @param options where to write, and whether it is a terminal */
  constructor(options: LiveLineOptions) {
    this.#o = options;
    this.#now = options.now ?? (() => performance.now());
  }

  /** Whether the status redraws in place. */
  get tty(): boolean {
    return this.#o.tty;
  }

  /**
   * Shows `text` as the status: redrawn in place, or printed if a plain
   * line is due. Lines of a multi-line block are each cut to the width on a
   * terminal, and joined with ` | ` into one plain line elsewhere.
   */
  status(text: string): void {
    this.#status = text;
    if (this.#o.tty) {
      this.#o.write(this.#erase() + this.#draw(text));
      return;
    }
    const now = this.#now();
    if (now - this.#lastPlainAt >= (this.#o.plainEveryMs ?? 0)) {
      this.#lastPlainAt = now;
      this.#o.write(text.split("\n").map((l) => l.trim()).join(" | ") + "\n");
    }
  }

  /** Prints a permanent line; on a TTY above the status, which is redrawn below it. */
  line(text: string): void {
    if (!this.#o.tty) return this.#o.write(text + "\n");
    const shown = this.#shownLines > 0;
    this.#o.write(this.#erase() + text + "\n");
    if (shown) this.#o.write(this.#draw(this.#status));
  }

  /** Leaves the latest status on screen as permanent lines (a TTY), and starts a new one. */
  commit(): void {
    if (this.#o.tty && this.#shownLines > 0) this.#o.write("\n");
    this.#shownLines = 0;
  }

  /** Erases the status (a TTY) so what follows starts on a clean line. */
  clear(): void {
    if (this.#o.tty) this.#o.write(this.#erase());
  }

  /** Erases the block on screen; the cursor ends where its first line began. */
  #erase(): string {
    if (this.#shownLines === 0) return "";
    const text = CLEAR_LINE + (UP + CLEAR_LINE).repeat(this.#shownLines - 1);
    this.#shownLines = 0;
    return text;
  }

  /** The block, each line cut to the width; the cursor stays on its last line. */
  #draw(text: string): string {
    const columns = this.#o.columns?.() ?? consoleColumns();
    const max = Math.max(10, columns - 1);
    const lines = text.split("\n").map((l) =>
      l.length <= max ? l : l.slice(0, max - 1) + "…"
    );
    this.#shownLines = lines.length;
    return lines.join("\n");
  }
}

/** The console's width in columns, or 80 when it has none. */
export function consoleColumns(): number {
  try {
    return Deno.consoleSize().columns || 80;
  } catch {
    return 80;
  }
}

/**
 * A raw writer to stdout, for {@link LiveLine} on a terminal.
 * @returns a function that writes all of `text` to stdout synchronously
 */
export function stdoutWriter(): (text: string) => void {
  const encoder = new TextEncoder();
  return (text) => {
    const bytes = encoder.encode(text);
    for (let at = 0; at < bytes.length;) {
      at += Deno.stdout.writeSync(bytes.subarray(at));
    }
  };
}

/**
 * Adapts a line printer (such as `console.log`) to a raw writer: complete
 * lines go out one by one, a partial line waits for its newline.
 *
 * @param println prints one line, without its newline
 * @returns a raw writer for {@link LiveLineOptions.write}
 */
export function lineWriter(
  println: (line: string) => void,
): (text: string) => void {
  let partial = "";
  return (text) => {
    const lines = (partial + text).split("\n");
    partial = lines.pop() ?? "";
    for (const l of lines) println(l);
  };
}
