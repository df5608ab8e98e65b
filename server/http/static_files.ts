/**
 * `--static DIR`: the files under one directory, served at `GET /<path>`
 * (e.g. `fanout server --static examples/` serves `/ticker.html`). Safe by
 * construction: a path is decoded segment by segment and refused when a
 * segment is `.`/`..`, starts with a dot (no `.git`, `.env`), or holds a
 * slash, backslash or NUL once decoded; the file's real path (symlinks
 * resolved) must lie inside the directory; only regular files are served.
 * Everything else — the server's own paths included — is left to the router
 * (router.ts), which answers as it would without `--static`.
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

/**
 * The `GET`/`HEAD` of a file under `root` (not an upgrade, not one of the
 * server's own paths).
 *
 * @param root the directory, as {@link staticRoot} returned it
 * @returns a lookup answering the file, or undefined when there is none
 */
export function createStaticFiles(root: string): StaticFiles {
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
    return new Response(opened.readable, { headers });
  };
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
    if (real !== root && !real.startsWith(root + "/")) return undefined;
    let info = await Deno.stat(real);
    if (info.isDirectory) {
      path = `${real}/index.html`;
      real = await Deno.realPath(path);
      if (!real.startsWith(root + "/")) return undefined;
      info = await Deno.stat(real);
    }
    return info.isFile ? { path: real, size: info.size } : undefined;
  } catch {
    return undefined;
  }
}
