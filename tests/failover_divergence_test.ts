/**
 * The failover race a position check cannot see, on a real primary,
 * replica and Sentinel started here: node A hands its client messages the
 * primary then loses (the replica stopped replicating before them), and
 * node B — which has no subscriber on the channel and never published to
 * it, so it knows no position to guard — publishes at the same seqs on the
 * promoted replica while A is stopped (SIGSTOP). When A comes back, the
 * engine's epoch is the one A follows and its top is past A's: positions
 * agree, only the messages differ. A must find that (it compares the last
 * message it handed over before the outage with the stream) and renumber,
 * so its client is told `reset` instead of going on after messages no
 * other client will ever see.
 */
import assert from "node:assert/strict";
import { waitFor } from "./_helpers.ts";
import { REDIS_SERVER, reportSkip } from "./_tools.ts";
import { channelKeys } from "../server/broker/redis_scripts.ts";
import {
  direct,
  metric,
  node,
  nodeProcess,
  publishOne,
  subscriber,
} from "./_cluster.ts";
import { replicated, sentinelSetup } from "./_sentinel.ts";
import { SseReader } from "./_sse.ts";
import { SSE_PATH } from "../server/http/paths.ts";
import { isOlderEpoch } from "../lib/protocol.ts";

reportSkip("failover divergence test", REDIS_SERVER);

/** What a frame says that the test compares. */
function first(raw: unknown) {
  const f = JSON.parse(String(raw));
  return f.type === undefined
    ? { seq: f.seq, n: f.data?.n }
    : { type: f.type, epoch: f.epoch, last_seq: f.last_seq };
}

Deno.test({
  name:
    "failover race: a peer publishes at the seqs a lossy failover lost before the node that delivered them is back → that node renumbers and its client gets reset, never the peer's messages as if they followed its own",
  ignore: REDIS_SERVER.missing !== undefined,
  async fn() {
    await using engine = await sentinelSetup();
    const a = await nodeProcess(engine.url, ["--source", "http"]);
    await using _a = a.proc;
    await using b = await node(engine.url);
    // Node C keeps no history of its own (`--history 0`, the default).
    await using c = await node(engine.url, { history: 0 });
    await waitFor(
      "nodes B and C up",
      () => b.broker.stats.up && c.broker.stats.up,
      30_000,
    );
    await waitFor("node A up", async () => {
      const res = await fetch(`${a.httpUrl}readyz`);
      await res.body?.cancel();
      return res.status === 200;
    }, 30_000);
    const { client, position } = await subscriber(`ws://127.0.0.1:${a.port}/`);
    const epoch = position.epoch;
    // An EventSource-like reader on A too: its last id names A's lost 15.
    await using sseOnA = await SseReader.open(new URL(SSE_PATH, a.httpUrl));
    /** Data and control frames A's client got, in order. */
    const got: {
      type?: string;
      seq?: number;
      epoch?: string;
      n?: number;
      ts?: number;
    }[] = [];
    const pump = (async () => {
      for (let raw = await client.read(); raw; raw = await client.read()) {
        const f = JSON.parse(String(raw));
        if (f.type === "lag") continue;
        got.push({
          type: f.type,
          seq: f.seq,
          epoch: f.epoch,
          n: f.data?.n,
          ts: f.ts_send,
        });
      }
    })();
    try {
      let lastRefusal = "";
      const accepted = async (server: { httpUrl: string }, n: number) => {
        const res = await publishOne(server, { n });
        const body = await res.text();
        if (res.status !== 200) lastRefusal = body;
        return res.status === 200;
      };
      for (let n = 1; n <= 10; n++) {
        assert.ok(await accepted(a, n), lastRefusal);
      }
      await replicated(engine.primary.url);
      // The replica stops replicating: it keeps 1..10 and never gets 11..15.
      await engine.r.sendCommand(["REPLICAOF", "127.0.0.1", "1"]);
      for (let n = 11; n <= 15; n++) {
        assert.ok(await accepted(a, n), lastRefusal);
      }
      await waitFor("A's client to get 1..15", () => got.length >= 15, 15_000);
      await waitFor(
        "A's SSE reader to get 1..15",
        () => sseOnA.data().length >= 15,
        15_000,
      );
      assert.deepEqual(
        got.map((f) => f.n),
        Array.from({ length: 15 }, (_, i) => i + 1),
      );

      a.proc.kill("SIGSTOP");
      try {
        await engine.failover();
        // B publishes 16..25 on the promoted replica: seqs 11..20 of the
        // same epoch (B guards no position: it never saw this channel).
        let n = 16;
        await waitFor(
          "B publishing on the new primary",
          async () => {
            if (await accepted(b, n)) n++;
            return n > 25;
          },
          60_000,
          100,
        );
        const k = channelKeys("fanout", "default");
        const p = await direct(
          `redis://127.0.0.1:${await engine.primaryPort()}`,
        );
        try {
          const meta = await p.hGetAll(k.meta);
          // The race is set up: the same epoch, positions 11..15 reused.
          assert.deepEqual([meta.e, meta.s], [epoch, "20"]);
        } finally {
          await p.close();
        }
        // A client of A that holds 1..15 resumes on B meanwhile (A is
        // stopped): it names the message it holds at 15, which B's stream
        // has otherwise (B's n=20) → reset, not 16..20 as if they followed.
        const at = (n: number) => got.find((f) => f.n === n)!;
        const resume = (n: number, on: { url: string } = b) =>
          subscriber(
            on.url,
            `since=${n}&epoch=${epoch}&since_ts=${at(n).ts}`,
          );
        const diverged = await resume(15);
        const intact = await resume(10);
        const noHistory = await resume(15, c);
        // The SSE reader resumes on B the SSE way: the Last-Event-ID an
        // EventSource sends by itself, which names its message there too.
        const lastId = sseOnA.events.filter((e) => e.event === "message")
          .at(-1)?.id;
        assert.equal(lastId, `${epoch}:15:${at(15).ts}`);
        await using sseOnB = await SseReader.open(
          new URL(SSE_PATH, b.httpUrl),
          {
            "last-event-id": lastId!,
          },
        );
        try {
          assert.deepEqual(
            first(await diverged.client.read()),
            { type: "reset", epoch, last_seq: 20 },
            "a client holding a lost message is told",
          );
          assert.deepEqual(
            first(await intact.client.read()),
            { seq: 11, n: 16 },
            "a client whose message the stream has resumes as before",
          );
          assert.deepEqual(
            first(await noHistory.client.read()),
            { type: "reset", epoch, last_seq: 20 },
            "told on a node without history too (the stream keeps the entry)",
          );
          await waitFor(
            "the SSE reader's reset",
            () => sseOnB.named("reset").length > 0,
          );
          const after = sseOnB.events.filter((e) =>
            e.event === "message" || e.event === "reset"
          );
          assert.equal(after[0]?.event, "reset", "no message before it");
          assert.equal(sseOnB.named("reset")[0]!.last_seq, 20);
        } finally {
          await diverged.client[Symbol.asyncDispose]();
          await intact.client[Symbol.asyncDispose]();
          await noHistory.client[Symbol.asyncDispose]();
        }
        assert.equal(await metric(b, "fanout_resumes_diverged_total"), 2);
        assert.equal(await metric(c, "fanout_resumes_diverged_total"), 1);
      } finally {
        a.proc.kill("SIGCONT");
      }

      await waitFor(
        "A's client to be told reset",
        () => got.some((f) => f.type === "reset"),
        30_000,
      );
      const reset = got.find((f) => f.type === "reset")!;
      assert.ok(
        isOlderEpoch(epoch, reset.epoch!),
        `${reset.epoch} after ${epoch}`,
      );
      // Before the reset: nothing of B's (16..25 sit at seqs A already had).
      const before = got.slice(0, got.indexOf(reset));
      assert.deepEqual(
        before.filter((f) => f.type === undefined && f.n! > 15).map((f) => f.n),
        [],
        "B's messages delivered as if they followed A's lost ones",
      );
      // And the channel goes on in the new epoch.
      assert.ok(await accepted(b, 26), lastRefusal);
      await waitFor("26 in the new epoch", () => got.at(-1)?.n === 26, 30_000);
    } finally {
      await client[Symbol.asyncDispose]();
      await pump.catch(() => {});
    }
  },
});
