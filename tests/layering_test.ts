/**
 * The layout is the architecture, and this test keeps it: which folder may
 * import which, and no import cycles anywhere (the analogue of std's
 * `lint:circular`). It reads every TypeScript file's import specifiers as
 * text; a rule broken names the file and the import.
 */
import assert from "node:assert/strict";
import { REPO_ROOT as ROOT_URL } from "./_cli.ts";

const REPO_ROOT = ROOT_URL.pathname.replace(/\/$/, "");

/** Every `.ts` file under `dir`, as repo-relative paths. */
function tsFiles(dir: string): string[] {
  const out: string[] = [];
  const walk = (rel: string) => {
    for (const entry of Deno.readDirSync(`${REPO_ROOT}/${rel}`)) {
      const path = `${rel}/${entry.name}`;
      if (entry.isDirectory && entry.name !== "node_modules") walk(path);
      else if (entry.isFile && entry.name.endsWith(".ts")) out.push(path);
    }
  };
  walk(dir);
  return out;
}

/** The relative modules `file` imports (static, re-exported and dynamic), repo-relative. */
function importsOf(file: string): string[] {
  const text = Deno.readTextFileSync(`${REPO_ROOT}/${file}`)
    // Doc comments hold example imports (`./mod.ts`) that are not the file's own.
    .replace(/\/\*[\s\S]*?\*\//g, "");
  const specs = [
    ...text.matchAll(
      /(?:^|\s)(?:import|export)\b[^;"']*?from\s*["']([^"']+)["']/g,
    ),
    ...text.matchAll(/(?:^|\s)import\s*["']([^"']+)["']/g),
    ...text.matchAll(/import\(\s*["']([^"']+)["']\s*\)/g),
  ].map((m) => m[1]!);
  const dir = file.split("/").slice(0, -1);
  return specs.filter((s) => s.startsWith(".")).map((spec) => {
    const parts = [...dir];
    for (const seg of spec.split("/")) {
      if (seg === "..") parts.pop();
      else if (seg !== ".") parts.push(seg);
    }
    return parts.join("/");
  });
}

/** The layer a file belongs to: `lib`, `server/core`, `client`, `server` (its root files)… */
function layerOf(file: string): string {
  const parts = file.split("/");
  if (parts[0] === "server" && parts.length > 2) return `server/${parts[1]}`;
  return parts.length > 1 ? parts[0]! : file;
}

/** Layer → what it may import: layers, or exact files (the faces). */
const ALLOWED: Readonly<Record<string, readonly string[]>> = {
  "lib": ["lib"],
  // The SDK runs in browsers: only the lib files that use no Deno API.
  "sdk": [
    "lib/protocol.ts",
    "lib/close_codes.ts",
    "lib/retry_hint.ts",
    "sdk",
  ],
  "server/core": ["lib", "server/core"],
  "server/modes": ["lib", "server/core", "server/modes"],
  "server/broker": ["lib", "server/core", "server/broker"],
  "server/sources": ["lib", "server/core", "server/sources"],
  "server/config": ["lib", "server/config", "server/modes", "server/sources"],
  "server/http": [
    "lib",
    // It serves the SDK's bundle (a text import), never the SDK's code.
    "sdk/fanout_client.js",
    "server/core",
    "server/http",
    "server/sources",
    "server/config",
  ],
  "server/observe": [
    "lib",
    "server/core",
    "server/observe",
    "server/sources",
    "server/modes",
    "server/config",
    "server/http",
  ],
  "server": ["lib", "server", "server/*"],
  "client": ["lib", "client", "sdk/mod.ts"],
  "demo": ["lib", "demo", "client/mod.ts", "server/mod.ts"],
  // The storm scenario runs SDK clients, as users do.
  "bench": ["lib", "bench", "client/mod.ts", "server/mod.ts", "sdk/mod.ts"],
  "main.ts": [
    "lib",
    "server/cli.ts",
    "client/cli.ts",
    "demo/cli.ts",
  ],
};

function allowed(from: string, to: string): boolean {
  const rules = ALLOWED[layerOf(from)];
  assert.ok(rules, `no layering rule for ${from} (layer ${layerOf(from)})`);
  const layer = layerOf(to);
  return rules.some((rule) =>
    rule === to || rule === layer ||
    (rule === "server/*" && layer.startsWith("server/"))
  );
}

const SOURCES = [
  "main.ts",
  ...["lib", "sdk", "server", "client", "demo", "bench"].flatMap(tsFiles),
];
const GRAPH = new Map(SOURCES.map((f) => [f, importsOf(f)]));

Deno.test("layering: each folder imports only the layers beneath it (lib nothing of ours; sdk only browser-safe lib files; core no http, observe or config; client only lib and the SDK's face; demo and bench only faces)", () => {
  const broken: string[] = [];
  for (const [file, imports] of GRAPH) {
    for (const to of imports) {
      if (!allowed(file, to)) broken.push(`${file} imports ${to}`);
    }
  }
  assert.deepEqual(broken, [], broken.join("\n"));
});

Deno.test("layering: every relative import names a file that exists", () => {
  const missing = [...GRAPH].flatMap(([file, imports]) =>
    imports.filter((to) => {
      try {
        return !Deno.statSync(`${REPO_ROOT}/${to}`).isFile;
      } catch {
        return true;
      }
    }).map((to) => `${file} imports ${to}`)
  );
  assert.deepEqual(missing, []);
});

Deno.test("layering: no import cycles among the project's modules", () => {
  const state = new Map<string, "visiting" | "done">();
  const cycles: string[] = [];
  const visit = (file: string, path: string[]) => {
    if (state.get(file) === "done") return;
    if (state.get(file) === "visiting") {
      cycles.push([...path.slice(path.indexOf(file)), file].join(" → "));
      return;
    }
    state.set(file, "visiting");
    for (const to of GRAPH.get(file) ?? []) {
      if (to.endsWith(".ts")) visit(to, [...path, file]);
    }
    state.set(file, "done");
  };
  for (const file of GRAPH.keys()) visit(file, []);
  assert.deepEqual(cycles, [], cycles.join("\n"));
});

Deno.test("layering: the rules themselves catch a violation", () => {
  assert.equal(
    allowed("server/core/hub.ts", "server/observe/summary.ts"),
    false,
  );
  assert.equal(allowed("lib/histogram.ts", "server/core/frame.ts"), false);
  assert.equal(allowed("client/swarm.ts", "server/mod.ts"), false);
  assert.equal(allowed("client/swarm.ts", "sdk/client.ts"), false);
  assert.equal(allowed("client/swarm.ts", "sdk/mod.ts"), true);
  assert.equal(allowed("sdk/client.ts", "lib/live_line.ts"), false);
  assert.equal(allowed("sdk/client.ts", "client/sim_client.ts"), false);
  assert.equal(allowed("sdk/client.ts", "lib/protocol.ts"), true);
  assert.equal(allowed("demo/scenario.ts", "server/core/hub.ts"), false);
  assert.equal(allowed("demo/scenario.ts", "server/mod.ts"), true);
  assert.deepEqual(importsOf("server/modes/queue.ts").sort().slice(0, 1), [
    "lib/scheduler.ts",
  ]);
});

/** `file`'s text without its comments (doc comments name calls they do not make). */
function codeOf(file: string): string {
  return Deno.readTextFileSync(`${REPO_ROOT}/${file}`)
    .replace(/\/\*[\s\S]*?\*\//g, "")
    .replace(/^\s*\/\/.*$/gm, "");
}

Deno.test("one exit: only the hub closes a session and records how it ended; nobody but the queue writer counts its drops", () => {
  const server = tsFiles("server");
  const closing = server.filter((f) =>
    /\.sink\.close\(|\.recordEnd\(/.test(codeOf(f))
  );
  assert.deepEqual(closing, ["server/core/hub.ts"]);
  const dropping = server.filter((f) =>
    /[.#]drops\s*(\+\+|\+=|=[^=])/.test(codeOf(f))
  );
  assert.deepEqual(dropping, ["server/modes/writer.ts"]);
  // The rule itself fails on a violation.
  assert.ok(/\.sink\.close\(/.test("session.sink.close(1000, 'x');"));
});
