/**
 * Writes `sdk/fanout_client.d.ts`, the types of the bundled SDK
 * (`deno task sdk:types`; Deno emits no declarations itself): TypeScript's
 * `tsc --emitDeclarationOnly` over `sdk/mod.ts`, then every module's
 * declarations joined into one file, exporting exactly what `sdk/mod.ts`
 * exports (the rest stays declared, unexported, for the types that use it).
 *
 * @module
 */

const ROOT = new URL("../", import.meta.url);
const TSC = "npm:typescript@5.9.3/tsc";

/**
 * Runs tsc into a temporary directory and joins its output.
 * @param out where to write @default sdk/fanout_client.d.ts
 */
export async function buildTypes(
  out: string = new URL("sdk/fanout_client.d.ts", ROOT).pathname,
): Promise<void> {
  const dir = await Deno.makeTempDir({ prefix: "fanout-dts-" });
  try {
    const run = await new Deno.Command(Deno.execPath(), {
      args: [
        "run",
        "-A",
        TSC,
        ...["--declaration", "--emitDeclarationOnly", "--strict"],
        ...["--allowImportingTsExtensions", "--target", "es2022"],
        ...["--module", "esnext", "--moduleResolution", "bundler"],
        ...["--lib", "es2022,dom", "--outDir", dir, "sdk/mod.ts"],
      ],
      cwd: ROOT.pathname,
      stdout: "piped",
      stderr: "piped",
    }).output();
    const text = (b: Uint8Array) => new TextDecoder().decode(b);
    if (run.code !== 0) {
      throw new Error(`tsc failed: ${text(run.stdout)}${text(run.stderr)}`);
    }
    const mod = await Deno.readTextFile(`${dir}/sdk/mod.d.ts`);
    const exported = new Set(
      [...mod.matchAll(/export \{([^}]*)\} from "([^"]+)"/g)].flatMap((m) =>
        m[1]!.split(",").map((s) => s.trim().replace(/^type /, "")).filter(
          Boolean,
        )
      ),
    );
    // Every module tsc declared (mod.ts's and what they import), mod.ts's own
    // re-exports aside, in a stable order.
    const modules: string[] = [];
    const walk = (at: string) => {
      for (const e of Deno.readDirSync(at)) {
        if (e.isDirectory) walk(`${at}/${e.name}`);
        else if (e.name.endsWith(".d.ts")) modules.push(`${at}/${e.name}`);
      }
    };
    walk(dir);
    modules.sort();
    const parts: string[] = [];
    for (const path of modules.filter((m) => !m.endsWith("/sdk/mod.d.ts"))) {
      const body = (await Deno.readTextFile(path))
        .replace(/^import .*;\n/gm, "")
        .replace(/^export (?:type )?\{[^}]*\}(?: from "[^"]+")?;\n/gm, "")
        .replace(/^export \{\};\n/gm, "")
        .replace(
          /^export (declare |type |interface )(?:(?:abstract )?(?:class|function|const|interface|type) )?(\w+)/gm,
          (line: string, _kind: string, name: string) =>
            exported.has(name) ? line : line.replace(/^export /, ""),
        );
      parts.push(`// ---- ${path.slice(dir.length + 1)}\n${body.trim()}\n`);
    }
    const head = `/**
 * Types of sdk/fanout_client.js, the bundled fanout client SDK. Generated
 * by \`deno task sdk:types\` from sdk/mod.ts: do not edit.
 *
 * @module
 */
`;
    await Deno.writeTextFile(out, head + parts.join("\n"));
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}

if (import.meta.main) await buildTypes(Deno.args[0]);
