/**
 * docs/PROTOCOL.md's statements about who may call which endpoint, held to
 * a real server on 127.0.0.1: every row of its "Who may call what" table
 * (request × credentials → status) is sent to a server started as the
 * table says, and the answer must be the documented status. The prose
 * around it is checked for the statements the table backs.
 */
import assert from "node:assert/strict";
import { REPO_ROOT } from "./_cli.ts";
import { startTestServer } from "./_helpers.ts";

const DOC = Deno.readTextFileSync(new URL("docs/PROTOCOL.md", REPO_ROOT));
const CREDENTIALS = { P: "pub-t0ken", S: "sub-t0ken", A: "adm-t0ken" };

/** One row of the table. */
interface Row {
  readonly method: string;
  readonly path: string;
  readonly upgrade: boolean;
  readonly credentials: string;
  readonly status: number;
}

function docRows(): Row[] {
  const start = DOC.indexOf("\n## Who may call what\n");
  assert.ok(start >= 0, "PROTOCOL.md has no 'Who may call what' section");
  const rest = DOC.slice(start + 1);
  const end = rest.slice(4).search(/\n#{1,3} /);
  const text = end < 0 ? rest : rest.slice(0, end + 4);
  assert.match(
    text,
    /`--source http --publish-token P --token S --admin-token A`/,
  );
  return text.split("\n").filter((l) => /^\| `/.test(l)).map((l) => {
    const [request, credentials, status] = l.split("|").slice(1, -1).map((c) =>
      c.trim()
    );
    const m = /^`(GET|POST) (\S+)`( \(upgrade\))?/.exec(request!);
    assert.ok(m, `cannot read the request cell ${request}`);
    return {
      method: m[1]!,
      path: m[2]!,
      upgrade: m[3] !== undefined,
      credentials: credentials!.replaceAll("`", ""),
      status: Number(status),
    };
  });
}

/** Replaces the table's P, S, A with the tokens the test server uses. */
function token(letter: string): string {
  const t = CREDENTIALS[letter as keyof typeof CREDENTIALS];
  assert.ok(t, `unknown credential ${letter}`);
  return t;
}

/** The URL query and headers a credentials cell stands for. */
function credentialsOf(
  cell: string,
): { query: string; headers: Record<string, string> } {
  if (cell === "none") return { query: "", headers: {} };
  let m = /^\?(token|admin_token)=([PSA])$/.exec(cell);
  if (m) return { query: `?${m[1]}=${token(m[2]!)}`, headers: {} };
  m = /^Authorization: Bearer ([PSA])$/.exec(cell);
  if (m) {
    return { query: "", headers: { authorization: `Bearer ${token(m[1]!)}` } };
  }
  m = /^cookie fanout_admin=([PSA])$/.exec(cell);
  if (m) {
    return { query: "", headers: { cookie: `fanout_admin=${token(m[1]!)}` } };
  }
  throw new Error(`cannot read the credentials cell ${cell}`);
}

/** The status line of a WebSocket upgrade request, over a raw TCP socket. */
async function upgradeStatus(
  port: number,
  path: string,
  headers: Record<string, string>,
): Promise<number> {
  const conn = await Deno.connect({ hostname: "127.0.0.1", port });
  try {
    const lines = [
      `GET ${path} HTTP/1.1`,
      `Host: 127.0.0.1:${port}`,
      "Upgrade: websocket",
      "Connection: Upgrade",
      "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==",
      "Sec-WebSocket-Version: 13",
      ...Object.entries(headers).map(([k, v]) => `${k}: ${v}`),
      "",
      "",
    ];
    await conn.write(new TextEncoder().encode(lines.join("\r\n")));
    const buf = new Uint8Array(1024);
    let text = "";
    while (!text.includes("\r\n")) {
      const n = await conn.read(buf);
      if (n === null) break;
      text += new TextDecoder().decode(buf.subarray(0, n));
    }
    const status = /^HTTP\/1\.1 (\d{3})/.exec(text)?.[1];
    assert.ok(status, `no status line: ${text}`);
    return Number(status);
  } finally {
    conn.close();
  }
}

Deno.test("PROTOCOL.md's 'Who may call what' table: every request × credentials answers the documented status on a real server", async () => {
  const rows = docRows();
  assert.ok(rows.length >= 20, `only ${rows.length} rows`);
  await using server = startTestServer({
    source: "http",
    publishToken: CREDENTIALS.P,
    token: CREDENTIALS.S,
    adminToken: CREDENTIALS.A,
  });
  const failures: string[] = [];
  for (const row of rows) {
    const { query, headers } = credentialsOf(row.credentials);
    const path = row.path + query;
    let status: number;
    if (row.upgrade) {
      status = await upgradeStatus(server.port, path, headers);
    } else {
      const res = await fetch(`${server.httpUrl}${path.replace(/^\//, "")}`, {
        method: row.method,
        headers: row.method === "POST"
          ? { ...headers, "content-type": "application/json" }
          : headers,
        body: row.method === "POST" ? '{"px":1}' : null,
        redirect: "manual",
      });
      status = res.status;
      await res.body?.cancel();
    }
    if (status !== row.status) {
      failures.push(
        `${row.method} ${path} with ${row.credentials}: documented ${row.status}, got ${status}`,
      );
    }
  }
  assert.deepEqual(failures, []);
});

Deno.test("PROTOCOL.md states the auth rules its table shows, and none that contradict them", () => {
  // Publishing: header only.
  assert.match(DOC, /`Authorization: Bearer` only: a `\?token=` is refused/);
  assert.doesNotMatch(DOC, /`Authorization: Bearer` \(or `\?token=`\)/);
  // The admin endpoints are open only without --admin-token, and protected
  // subscribers need --admin-token or --open-admin.
  assert.match(DOC, /With `--admin-token` they need it;/);
  assert.match(
    DOC,
    /refuses to start without\s+`--admin-token` unless `--open-admin`/,
  );
  assert.match(DOC, /`\/healthz` and `\/readyz` are never protected/);
  assert.doesNotMatch(
    DOC,
    /\(`\/`, `\/events`, `\/metrics`, `\/healthz`, `\/readyz`\) may\s+require/,
  );
});

Deno.test("the server refuses --token without --admin-token, as PROTOCOL.md says, and --open-admin starts it", async () => {
  assert.throws(
    () => startTestServer({ token: CREDENTIALS.S }),
    /admin-token|open-admin/,
  );
  await using server = startTestServer({
    token: CREDENTIALS.S,
    openAdmin: true,
  });
  const res = await fetch(`${server.httpUrl}metrics`);
  await res.body?.cancel();
  assert.equal(res.status, 200, "--open-admin: /metrics is open");
});
