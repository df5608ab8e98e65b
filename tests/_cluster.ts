/**
 * Helpers shared by the real-Redis suites: fanout nodes on one engine (in
 * this process or as their own process), publishing over HTTP, a direct
 * Redis connection for the test's own commands, and control clients read
 * frame by frame.
 *
 * @module
 */
import assert from "node:assert/strict";
import { createClient } from "@redis/client";
import {
  launchServer,
  resolveServerConfig,
  type RunningServer,
  type ServerOptions,
} from "../server/mod.ts";
import { ManualClient } from "./_helpers.ts";
import { FanoutProcess, waitForListening } from "./_cli.ts";

/** The publish token every node here is started with. */
export const TOKEN = "pub";

/** A node on the engine at `broker` (a URL, or a server with one), in this process, publishing over HTTP. */
export function node(
  broker: string | { readonly url: string },
  overrides: Partial<ServerOptions> = {},
): Promise<RunningServer> {
  return launchServer(
    resolveServerConfig({
      host: "127.0.0.1",
      port: 0,
      source: "http",
      publishToken: TOKEN,
      broker: typeof broker === "string" ? broker : broker.url,
      history: 1000,
      summaryInterval: 3600,
      ...overrides,
    }),
    { logger: { log() {} } },
  );
}

/** A node on `url` as its own process (a crash shows as an exit), with `extra` flags. */
export async function nodeProcess(
  url: string,
  extra: string[] = [],
): Promise<{ proc: FanoutProcess; httpUrl: string; port: number }> {
  const proc = FanoutProcess.server([
    "--log-json",
    "--broker",
    url,
    "--publish-token",
    TOKEN,
    ...extra,
  ]);
  const { port } = await waitForListening(proc);
  return { proc, httpUrl: `http://127.0.0.1:${port}/`, port };
}

/** POST /publish to `server`: one message as JSON, several as NDJSON (30-s deadline). */
export function publish(
  server: { readonly httpUrl: string },
  messages: readonly unknown[],
  channel = "default",
): Promise<Response> {
  return fetch(`${server.httpUrl}publish?channel=${channel}`, {
    method: "POST",
    headers: {
      authorization: `Bearer ${TOKEN}`,
      "content-type": messages.length === 1
        ? "application/json"
        : "application/x-ndjson",
    },
    body: messages.map((m) => JSON.stringify(m)).join("\n"),
    signal: AbortSignal.timeout(30_000),
  });
}

/** POST /publish of one JSON message. */
export function publishOne(
  server: { readonly httpUrl: string },
  message: unknown,
  channel = "default",
): Promise<Response> {
  return publish(server, [message], channel);
}

/** A direct connection to the Redis at `url`, for the test's own commands (RESP2; errors ignored). */
export async function direct(url: string) {
  const c = createClient({ url, RESP: 2 });
  c.on("error", () => {});
  await c.connect();
  return c;
}

/** A control client on `url`: its position notice read, then frames one by one. */
export async function subscriber(
  url: string,
  query = "control=1",
): Promise<{
  client: ManualClient;
  position: { epoch: string; last_seq: number };
}> {
  const client = new ManualClient(`${url}?${query}`);
  await client.open();
  const position = JSON.parse(String(await client.read()));
  assert.equal(position.type, "position");
  return { client, position: position as { epoch: string; last_seq: number } };
}

/** Reads `n` data frames (failing on any control frame other than `lag` and those allowed). */
export async function readData(
  client: ManualClient,
  n: number,
  allow: string[] = [],
): Promise<{ seqs: number[]; controls: Record<string, unknown>[] }> {
  const seqs: number[] = [];
  const controls: Record<string, unknown>[] = [];
  while (seqs.length < n) {
    const raw = await client.read();
    if (raw === undefined) {
      const { code, reason } = await client.drainUntilClosed();
      throw new Error(
        `the stream ended after ${seqs.length} of ${n} data frames: closed ${code} ${reason}`,
      );
    }
    const f = JSON.parse(String(raw));
    // `lag` frames come every --lag-interval to control clients: not news here.
    if (f.type === "lag") continue;
    if (f.type !== undefined) {
      assert.ok(allow.includes(f.type), `unexpected ${JSON.stringify(f)}`);
      controls.push(f);
    } else seqs.push(f.seq);
  }
  return { seqs, controls };
}

/** A histogram's `_count` or a counter's value on `server`'s `/metrics`. */
export async function metric(server: { httpUrl: string }, name: string) {
  const text = await (await fetch(`${server.httpUrl}metrics`)).text();
  const line = text.split("\n").find((l) => l.startsWith(`${name} `));
  return Number(line?.split(" ")[1] ?? NaN);
}

/** The integers `from..to`. */
export const range = (from: number, to: number): number[] =>
  Array.from({ length: to - from + 1 }, (_, i) => from + i);
