/**
 * `--static DIR`: the files under one directory, served at `GET /<path>`
 * (e.g. `fanout server --static examples/` serves `/ticker.html`). Safe by
 * construction: a path is decoded segment by segment and refused when a
 * segment is `.`/`..`, starts with a dot (no `.git`, `.env`), or holds a
 * slash, backslash or NUL once decoded; the file's real path (symlinks
 * resolved) must lie inside the directory with no dot segment (a symlink
 * to `.env` is refused too); only regular files are served. A download that
 * makes no progress for {@link STATIC_WRITE_TIMEOUT_MS} is cut (its file
 * closed). Everything else — the server's own paths included — is left to
 * the router (router.ts), which answers as it would without `--static`.
 *
 * @module
 */
import { UsageError } from "../../lib/cli_args.ts";
import { PUBLISH_PATH, SSE_PATH } from "./paths.ts";

/** Paths the server answers itself, whatever the directory holds. */
const RESERVED: ReadonlySet<string> = new Set(["/ws", SSE_PATH, PUBLISH_PATH]);

/** Content types by file extension; anything else is `application/octet-stream`. */
export const CONTENT_TYPES: Readonly<Record<string, string>> = {
  html: "text/html; charset=utf-8",
  htm: "text/html; charset=utf-8",
  js: "text/javascript; charset=utf-8",
  mjs: "text/javascript; charset=utf-8",
  css: "text/css; charset=utf-8",
  json: "application/json",
  map: "application/json",
  txt: "text/plain; charset=utf-8",
  md: "text/plain; charset=utf-8",
  svg: "image/svg+xml",
  png: "image/png",
  jpg: "image/jpeg",
  jpeg: "image/jpeg",
  gif: "image/gif",
  ico: "image/x-icon",
  webp: "image/webp",
  wasm: "application/wasm",
};

/**
 * The segments of a URL path, decoded, or undefined when any is unsafe.
 *
 * @param pathname the URL's path (already dot-normalised by `URL`)
 * @example
 * ```ts
 * import { safeSegments } from "./static_files.ts";
 * if (safeSegments("/a/b%20c.html")?.join("|") !== "a|b c.html") throw new Error();
 * if (safeSegments("/..%2fetc/passwd") !== undefined) throw new Error("encoded slash");
 * if (safeSegments("/.git/config") !== undefined) throw new Error("dotfile");
 * ```
 */
export function safeSegments(pathname: string): string[] | undefined {
  const out: string[] = [];
  for (const raw of pathname.split("/")) {
    if (raw === "") continue;
    let segment: string;
    try {
      segment = decodeURIComponent(raw);
    } catch {
      return undefined;
    }
    if (segment.startsWith(".") || /[/\\\0]/.test(segment)) return undefined;
    out.push(segment);
  }
  return out;
}

/**
 * Checks `--static DIR` before the server starts.
 * @returns the directory's real path
 * @throws {UsageError} when `dir` is not a readable directory
 */
export function staticRoot(dir: string): string {
  try {
    const root = Deno.realPathSync(dir);
    if (!Deno.statSync(root).isDirectory) throw new Error("not a directory");
    return root;
  } catch (err) {
    const why = err instanceof Deno.errors.NotFound
      ? "it does not exist"
      : (err as Error).message.split(/ \(os error|:/)[0];
    throw new UsageError(
      `--static ${dir}: not a readable directory (${why}); give the directory whose files to serve`,
    );
  }
}

/** Serves a file under the static root, or says there is none. */
export type StaticFiles = (
  req: Request,
  url: URL,
) => Promise<Response | undefined>;

/** How long a download may make no progress (the client takes nothing) before it is cut, ms. */
export const STATIC_WRITE_TIMEOUT_MS = 30_000;

/** Options of {@link createStaticFiles}. */
export interface StaticOptions {
  /** How long a download may make no progress before it is cut (its file and connection freed), ms. @default STATIC_WRITE_TIMEOUT_MS */
  readonly writeTimeoutMs?: number;
  /** Called when a download is cut for making no progress. */
  readonly onCut?: () => void;
}

/**
 * The `GET`/`HEAD` of a file under `root` (not an upgrade, not one of the
 * server's own paths).
 *
 * @param root the directory, as {@link staticRoot} returned it
 * @param options the write deadline
 * @returns a lookup answering the file, or undefined when there is none
 */
export function createStaticFiles(
  root: string,
  options: StaticOptions = {},
): StaticFiles {
  const writeTimeoutMs = options.writeTimeoutMs ?? STATIC_WRITE_TIMEOUT_MS;
  return async (req, url) => {
    if (
      (req.method !== "GET" && req.method !== "HEAD") ||
      req.headers.get("upgrade") !== null || RESERVED.has(url.pathname)
    ) {
      return undefined;
    }
    const file = await findFile(root, url.pathname);
    if (file === undefined) return undefined;
    const ext = file.path.slice(file.path.lastIndexOf(".") + 1).toLowerCase();
    const headers = {
      "content-type": CONTENT_TYPES[ext] ?? "application/octet-stream",
      "content-length": String(file.size),
      "cache-control": "no-cache",
      "x-content-type-options": "nosniff",
    };
    if (req.method === "HEAD") return new Response(null, { headers });
    let opened: Deno.FsFile;
    try {
      opened = await Deno.open(file.path, { read: true });
    } catch {
      return undefined;
    }
    return new Response(
      withDeadline(opened.readable, writeTimeoutMs, options.onCut),
      {
        headers,
      },
    );
  };
}

/**
 * `body`, erroring (which closes the file and ends the response: no more is
 * read from the file) when the reader takes no chunk for `timeoutMs`. The
 * connection's own descriptor stays until the client reads what the kernel
 * holds for it or goes: Deno's HTTP server offers no way to drop a
 * connection whose response is being written (README, "Limits").
 */
function withDeadline(
  body: ReadableStream<Uint8Array>,
  timeoutMs: number,
  onCut?: () => void,
): ReadableStream<Uint8Array> {
  const reader = body.getReader();
  let timer: ReturnType<typeof setTimeout> | undefined;
  const stop = () => {
    clearTimeout(timer);
    timer = undefined;
  };
  return new ReadableStream<Uint8Array>({
    async pull(controller) {
      stop();
      const { value, done } = await reader.read();
      if (done) return controller.close();
      controller.enqueue(value);
      // The next pull comes when the client has taken this chunk.
      timer = setTimeout(() => {
        timer = undefined;
        controller.error(new Error("static download made no progress"));
        reader.cancel().catch(() => {});
        onCut?.();
      }, timeoutMs);
    },
    cancel(reason) {
      stop();
      return reader.cancel(reason);
    },
  }, { highWaterMark: 0 });
}

/**
 * Whether `real` (symlinks resolved) lies under `root` with no dot segment
 * below it: a symlink may not lead to a dotfile any more than a path may.
 */
function inside(root: string, real: string): boolean {
  if (real === root) return true;
  if (!real.startsWith(root + "/")) return false;
  return real.slice(root.length + 1).split("/").every((s) =>
    !s.startsWith(".")
  );
}

/** The regular file `pathname` names under `root` (a directory's index.html), or undefined. */
async function findFile(
  root: string,
  pathname: string,
): Promise<{ path: string; size: number } | undefined> {
  const segments = safeSegments(pathname);
  if (segments === undefined) return undefined;
  let path = [root, ...segments].join("/");
  try {
    let real = await Deno.realPath(path);
    if (!inside(root, real)) return undefined;
    let info = await Deno.stat(real);
    if (info.isDirectory) {
      path = `${real}/index.html`;
      real = await Deno.realPath(path);
      if (!inside(root, real) || real === root) return undefined;
      info = await Deno.stat(real);
    }
    return info.isFile ? { path: real, size: info.size } : undefined;
  } catch {
    return undefined;
  }
}
