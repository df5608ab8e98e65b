/**
 * The servers under test, each started as its own process on 127.0.0.1 and
 * port 0: fanout itself (`deno run -P=fanout main.ts server`), and the peers
 * in `bench/peers/` — Bun's built-in pub/sub and a Node `ws` broadcast loop.
 *
 * @module
 */
import { Child } from "./_child.ts";

/** Which server: fanout in a mode, or a peer. */
export type ServerKind =
  | "fanout"
  | "fanout-naive"
  | "fanout-serve"
  | "fanout-lean"
  | "bun"
  | "node-ws"
  | "deno-loop"
  | "deno-queue"
  | "deno-raw";

/** Everything that picks and configures a server for one run. */
export interface ServerSpec {
  readonly kind: ServerKind;
  /** Messages per second. */
  readonly rate: number;
  /** Random payload bytes per message. */
  readonly payloadBytes: number;
  /** Extra `fanout server` flags (ignored by peers), e.g. `--maxsize 50`. */
  readonly fanoutFlags?: readonly string[];
  /** Extra `deno run` flags for fanout, e.g. `--cpu-prof`. */
  readonly denoFlags?: readonly string[];
  /** Run pinned to these CPUs (`taskset -c`), e.g. `"0"`. @default unpinned */
  readonly cpus?: string;
}

/**
 * A command and its arguments, run under `taskset -c cpus` when pinned
 * (taskset execs the command: the pid is the command's).
 */
export function pinned(
  cpus: string | undefined,
  command: string,
  args: string[],
): [string, string[]] {
  return cpus === undefined
    ? [command, args]
    : ["taskset", ["-c", cpus, command, ...args]];
}

/** Where the benchmark finds things; resolved once by `main.ts`. */
export interface BenchPaths {
  /** Root of the fanout checkout to run (`main.ts` lives there). */
  readonly fanoutDir: string;
  /** `bench/peers`, holding the peers and their node_modules. */
  readonly peersDir: string;
  /** The Bun executable, or undefined when the peers are not installed. */
  readonly bun: string | undefined;
  /** The Node executable, or undefined when missing. */
  readonly node: string | undefined;
}

/** A running server. */
export interface RunningServer extends AsyncDisposable {
  readonly spec: ServerSpec;
  readonly child: Child;
  readonly port: number;
  /** Stops it; resolves with its last `final`/summary line when it printed one. */
  stop(): Promise<Record<string, unknown> | undefined>;
}

/**
 * fanout in queue mode without what its defaults add on top of Deno's
 * WebSocket server: `fanout-serve` accepts with `Deno.serve` instead of the
 * guarded listener (`Deno.serveHttp` per connection), `fanout-lean` also
 * sends no pings. Beside `deno-loop` they split fanout's cost into its own
 * and that of the defaults.
 */
export const FANOUT_VARIANT_FLAGS: Record<
  "fanout" | "fanout-naive" | "fanout-serve" | "fanout-lean",
  readonly string[]
> = {
  fanout: [],
  "fanout-naive": [],
  "fanout-serve": ["--listener", "serve"],
  "fanout-lean": ["--listener", "serve", "--ping-interval", "0"],
};

/** Human label of a server spec, for tables and charts. */
export function serverLabel(kind: ServerKind): string {
  return {
    fanout: "fanout (queue)",
    "fanout-naive": "fanout (naive)",
    "fanout-serve": "fanout --listener serve",
    "fanout-lean": "fanout --listener serve --ping-interval 0",
    bun: "Bun pub/sub",
    "node-ws": "Node ws loop",
    "deno-loop": "Deno send() loop (floor)",
    "deno-queue": "Deno bounded queues (bare)",
    "deno-raw": "Deno raw TCP framing (experiment)",
  }[kind];
}

/** Starts `spec` and waits for its `listening` line. */
export async function startServer(
  spec: ServerSpec,
  paths: BenchPaths,
): Promise<RunningServer> {
  const common = [
    "--host",
    "127.0.0.1",
    "--port",
    "0",
    "--rate",
    String(spec.rate),
    "--payload-bytes",
    String(spec.payloadBytes),
  ];
  let child: Child;
  switch (spec.kind) {
    case "fanout":
    case "fanout-naive":
    case "fanout-serve":
    case "fanout-lean":
      child = new Child(
        spec.kind,
        ...pinned(spec.cpus, Deno.execPath(), [
          "run",
          "-q",
          "-P=fanout",
          ...(spec.denoFlags ?? []),
          "main.ts",
          "server",
          "--log-json",
          "--mode",
          spec.kind === "fanout-naive" ? "naive" : "queue",
          ...common,
          ...FANOUT_VARIANT_FLAGS[spec.kind],
          ...(spec.fanoutFlags ?? []),
        ]),
        paths.fanoutDir,
      );
      break;
    case "bun":
      if (!paths.bun) throw new Error(PEERS_MISSING);
      child = new Child(
        "bun",
        ...pinned(spec.cpus, paths.bun, [
          `${paths.peersDir}/bun_pubsub.mjs`,
          ...common,
        ]),
      );
      break;
    case "deno-loop":
    case "deno-queue":
    case "deno-raw":
      child = new Child(
        spec.kind,
        ...pinned(spec.cpus, Deno.execPath(), [
          "run",
          "-q",
          "--allow-net=127.0.0.1",
          `${paths.peersDir}/${spec.kind.replace("-", "_")}.ts`,
          ...common,
        ]),
      );
      break;
    case "node-ws":
      if (!paths.node) throw new Error("node is not on PATH");
      child = new Child(
        "node-ws",
        ...pinned(spec.cpus, paths.node, [
          `${paths.peersDir}/node_ws.mjs`,
          ...common,
        ]),
      );
      break;
  }
  const listening = await child.waitFor(
    (l) => l.type === "listening" && typeof l.port === "number",
    30_000,
  );
  const port = listening.port as number;
  let stopped: Promise<Record<string, unknown> | undefined> | undefined;
  const stop = () =>
    stopped ??= child.stop().then(() =>
      child.lines.findLast((l) => l.type === "final") ??
        child.lines.findLast((l) => l.type === "summary")
    );
  return {
    spec,
    child,
    port,
    stop,
    [Symbol.asyncDispose]: async () => {
      await stop();
    },
  };
}

/** What to do when the peers are missing. */
export const PEERS_MISSING =
  "the peers are not installed: run `npm ci --prefix bench/peers` (or pass --no-peers)";

/** Finds fanout, the peers' directory, Bun and Node. */
export async function findPaths(fanoutDir?: string): Promise<BenchPaths> {
  const benchDir = filePath(new URL(".", import.meta.url));
  const peersDir = `${benchDir}peers`;
  const root = fanoutDir ?? filePath(new URL("..", import.meta.url));
  const bunCandidates = [
    `${peersDir}/node_modules/bun/bin/bun.exe`,
    `${peersDir}/node_modules/@oven/bun-linux-x64/bin/bun`,
    `${peersDir}/node_modules/@oven/bun-linux-x64-baseline/bin/bun`,
    `${peersDir}/node_modules/@oven/bun-linux-aarch64/bin/bun`,
  ];
  let bun: string | undefined;
  for (const c of bunCandidates) {
    if (await isElf(c)) {
      bun = c;
      break;
    }
  }
  return {
    fanoutDir: root.replace(/\/$/, ""),
    peersDir,
    bun,
    node: await which("node"),
  };
}

/** A `file:` URL as a path (no @std/path: JSR may be unreachable). */
export function filePath(url: URL): string {
  return decodeURIComponent(url.pathname);
}

/** True for a real executable (the npm `bun` shim is replaced by the ELF binary on install). */
async function isElf(path: string): Promise<boolean> {
  try {
    using f = await Deno.open(path);
    const head = new Uint8Array(4);
    await f.read(head);
    return head[0] === 0x7f && head[1] === 0x45 && head[2] === 0x4c &&
      head[3] === 0x46;
  } catch {
    return false;
  }
}

async function which(name: string): Promise<string | undefined> {
  for (const dir of (Deno.env.get("PATH") ?? "").split(":")) {
    try {
      const p = `${dir}/${name}`;
      const st = await Deno.stat(p);
      if (st.isFile) return p;
    } catch {
      // not here
    }
  }
  return undefined;
}
