/**
 * docs/PROTOCOL.md against the code: the version, the close-code table row
 * by row (both ways, and as the SDK classifies it), every control frame
 * with exactly its fields, every URL parameter the server reads, the data
 * frame's fields, the publish refusals, and every endpoint answering on a
 * real server as documented.
 */
import assert from "node:assert/strict";
import { CLOSE_CODES, type DisconnectReason } from "../lib/close_codes.ts";
import { encodeData, parseControl, PROTOCOL_VERSION } from "../lib/protocol.ts";
import { classifyClose } from "../sdk/mod.ts";
import { CLIENT_SCRIPT_PATH } from "../server/http/client_script.ts";
import { ADMIN_DRAIN_PATH, SSE_PATH } from "../server/http/paths.ts";
import { SUBSCRIBE_PATHS } from "../server/http/paths.ts";
import { startObservers } from "../server/observe/observers.ts";
import { SourceStats } from "../server/sources/source_stats.ts";
import { REPO_ROOT } from "./_cli.ts";
import { FakeClock, startTestServer, testHub } from "./_helpers.ts";
import { NaiveMode } from "../server/mod.ts";

const read = (path: string) => Deno.readTextFileSync(new URL(path, REPO_ROOT));
const DOC = read("docs/PROTOCOL.md");

/** The text of the section under `heading` (up to the next heading of its level or higher). */
function section(heading: string): string {
  const level = heading.match(/^#+/)![0].length;
  const start = DOC.indexOf(`\n${heading}\n`);
  assert.ok(start >= 0, `PROTOCOL.md has no section ${heading}`);
  const rest = DOC.slice(start + heading.length + 2);
  const next = rest.search(new RegExp(`\\n#{1,${level}} `));
  return next < 0 ? rest : rest.slice(0, next);
}

/** First cells of a section's table rows, unwrapped from backticks. */
function tableRows(text: string): string[][] {
  return text.split("\n").filter((l) => /^\| /.test(l) && !/^\| -/.test(l))
    .slice(1) // the header
    .map((l) => l.split("|").slice(1, -1).map((c) => c.trim()));
}

Deno.test("PROTOCOL.md states the protocol version the code speaks", () => {
  assert.equal(
    Number(/^Protocol version: (\d+)$/m.exec(DOC)?.[1]),
    PROTOCOL_VERSION,
  );
});

Deno.test("PROTOCOL.md's close-code table is CLOSE_CODES: every row, code, reason and reconnect flag, both ways; the SDK classifies each row as documented", () => {
  const rows = tableRows(section("## Close codes")).map((
    [code, key, what],
  ) => ({
    code: Number(code),
    key: key!.replaceAll("`", ""),
    reconnect: what === "reconnect",
    what,
  }));
  for (const row of rows) assert.match(row.what!, /^(reconnect|stop)$/);
  const documented = rows.map(({ code, key, reconnect }) => ({
    code,
    key,
    reconnect,
  }));
  const coded = (Object.keys(CLOSE_CODES) as DisconnectReason[]).map((key) => ({
    code: CLOSE_CODES[key].code,
    key,
    reconnect: CLOSE_CODES[key].reconnect,
  }));
  assert.deepEqual(documented, coded);
  for (const row of documented) {
    assert.equal(classifyClose(row.code, "").reconnect, row.reconnect, row.key);
  }
});

Deno.test("PROTOCOL.md documents every control frame of lib/protocol.ts ControlFrame, with an example that has exactly its fields", () => {
  const source = read("lib/protocol.ts");
  const union = source.slice(
    source.indexOf("export type ControlFrame ="),
    source.indexOf("/** An acknowledgement"),
  );
  const members = union.split(/\n {2}\| \{/).slice(1).map((m) => ({
    type: /readonly type: "(\w+)"/.exec(m)![1]!,
    fields: [...m.matchAll(/readonly (\w+):/g)].map((x) => x[1]!).sort(),
  }));
  assert.deepEqual(
    members.map((m) => m.type).sort(),
    [
      "dropped",
      "expired",
      "gap",
      "lag",
      "last_close",
      "position",
      "reset",
      "tier",
    ],
  );
  const frames = section("### Control frames");
  for (const { type, fields } of members) {
    const part = frames.split(`#### \`${type}\`\n`)[1];
    assert.ok(part, `PROTOCOL.md has no heading for the ${type} frame`);
    const example = /```json\n(.+?)\n```/s.exec(part)![1]!;
    const parsed = parseControl(JSON.stringify(JSON.parse(example)));
    assert.equal(parsed?.type, type, `the ${type} example is a control frame`);
    assert.deepEqual(Object.keys(parsed!).sort(), fields, type);
  }
});

Deno.test("PROTOCOL.md lists exactly the URL parameters the server reads from a subscriber's URL", () => {
  const code = [
    "server/http/admission.ts",
    "server/http/auth.ts",
    "server/http/client_label.ts",
    "server/http/refusal.ts",
    "server/http/last_close.ts",
  ].flatMap(
    (f) =>
      [...read(f).matchAll(/searchParams\.get\("(\w+)"\)/g)].map((m) => m[1]!),
  );
  const documented = tableRows(section("### URL parameters")).map((r) =>
    r[0]!.replaceAll("`", "")
  );
  assert.deepEqual([...new Set(documented)].sort(), [...new Set(code)].sort());
  // SSE's resume header, read by sse.ts.
  assert.match(read("server/http/sse.ts"), /headers\.get\("last-event-id"\)/);
  assert.match(
    section("## Subscribing over Server-Sent Events"),
    /`Last-Event-ID`/,
  );
});

Deno.test("PROTOCOL.md's data frame fields are those encodeData writes", () => {
  const keys = new Set([
    ...Object.keys(JSON.parse(encodeData(1, 2, "AA=="))),
    ...Object.keys(
      JSON.parse(encodeData(1, 2, "", { channel: "c", dataJson: "{}" })),
    ),
  ]);
  const documented = tableRows(section("### Data frames")).map((r) =>
    r[0]!.replaceAll("`", "")
  );
  assert.deepEqual(documented.sort(), [...keys].sort());
});

Deno.test("PROTOCOL.md's publish refusals are the statuses the publish path answers, and every JSON example parses", () => {
  const publish = read("server/http/publish.ts");
  const codes = new Set([
    ...[...publish.matchAll(/refuse\(\s*(\d{3})/g)].map((m) => m[1]!),
    ...[...publish.matchAll(/status: (\d{3})/g)].map((m) => m[1]!),
    "404", // subscribe.ts: /publish while the HTTP source is off
  ]);
  const documented = tableRows(section("## Publishing: `POST /publish`")).map(
    (r) => r[0]!,
  ).filter((c) => /^\d{3}$/.test(c));
  assert.deepEqual(documented.sort(), [...codes].sort());
  for (const block of DOC.matchAll(/```json\n(.+?)\n```/gs)) {
    JSON.parse(block[1]!);
  }
});

Deno.test("PROTOCOL.md's endpoint table is every path the server routes, and each answers as documented on a real server", async () => {
  const documented = tableRows(section("## HTTP endpoints")).map((r) => {
    const [method, path] = r[0]!.replaceAll("`", "").split(" ");
    return { method: method!, path: path! };
  });
  const clock = new FakeClock();
  const { hub } = testHub(new NaiveMode(), clock);
  const observers = startObservers({
    hub,
    source: new SourceStats("synthetic"),
    startedAt: 0,
    state: () => ({ accepting: true }),
    metricsPerClient: false,
    info: {},
  });
  const observed = [...observers.routes.keys()].filter((p) =>
    !p.startsWith("/dashboard/")
  );
  observers.close();
  const routed = new Set([
    ...SUBSCRIBE_PATHS,
    SSE_PATH,
    "/publish",
    ADMIN_DRAIN_PATH,
    CLIENT_SCRIPT_PATH,
    ...observed,
    "/<path>",
  ]);
  assert.deepEqual(
    [...new Set(documented.map((d) => d.path))].sort(),
    [...routed].sort(),
  );

  const dir = await Deno.makeTempDir({ prefix: "fanout-doc-" });
  await Deno.writeTextFile(`${dir}/hello.txt`, "hi");
  try {
    await using server = startTestServer({
      source: "http",
      publishToken: "pt",
      staticDir: dir,
    });
    const expect: Record<string, [number, RegExp]> = {
      "GET /ws": [426, /^application\/json/],
      "GET /sse": [200, /^text\/event-stream/],
      "POST /publish": [200, /^application\/json/],
      "GET /client.js": [200, /^text\/javascript/],
      "GET /": [200, /^text\/html/],
      "GET /events": [200, /^text\/event-stream/],
      "GET /metrics": [200, /^text\/plain/],
      "GET /healthz": [200, /^application\/json/],
      "GET /readyz": [200, /^application\/json/],
      "GET /<path>": [200, /^text\/plain/],
      // No --admin-token here: refused, and nothing drained.
      "POST /admin/drain": [403, /^application\/json/],
    };
    for (const { method, path } of documented) {
      assert.ok(`${method} ${path}` in expect, `${method} ${path} is checked`);
    }
    for (const [key, [status, type]] of Object.entries(expect)) {
      const [method, path] = key.split(" ") as [string, string];
      const url = new URL(
        path === "/<path>" ? "/hello.txt" : path,
        server.httpUrl,
      );
      const res = await fetch(url, {
        method,
        ...(method === "POST"
          ? { body: "x", headers: { authorization: "Bearer pt" } }
          : {}),
      });
      assert.equal(res.status, status, key);
      assert.match(res.headers.get("content-type") ?? "", type, key);
      await res.body?.cancel();
    }
    // The upgrade row: a WebSocket on / subscribes.
    const ws = new WebSocket(`${server.url}?control=1`);
    const first = await new Promise<string>((resolve, reject) => {
      ws.onmessage = (e) => resolve(String(e.data));
      ws.onerror = () => reject(new Error("no WebSocket on /"));
    });
    ws.close();
    await new Promise((r) => ws.onclose = r);
    assert.match(first, /^\{"type":"position"/);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
