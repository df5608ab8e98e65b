/**
 * The dashboard's feed and client table over a hub with fake sinks and an
 * injected clock: states, sorting, paging, the latency window, the
 * disconnect log and the Server-Sent Events stream. No sockets.
 */
import assert from "node:assert/strict";
import { EventLoopLag } from "../lib/event_loop_lag.ts";
import { QueueMode } from "../server/modes/queue.ts";
import {
  parseTableView,
  type TableView,
} from "../server/observe/dashboard/client_table.ts";
import { DashboardFeed } from "../server/observe/dashboard/feed.ts";
import type { FeedEvent } from "../server/observe/dashboard/feed_event.ts";
import { Schedule } from "../server/sources/schedule.ts";
import { SourceStats } from "../server/sources/source_stats.ts";
import { FakeClock, FakeSink, testHub } from "./_helpers.ts";

function setUp(
  clock: FakeClock,
  maxSubscribers = Infinity,
  policy: "drop-oldest" | "ladder" = "drop-oldest",
) {
  const mode = new QueueMode({
    queue: { maxsize: 10, maxBytes: Infinity, policy },
    limits: { dropLimit: 5, fullTimeoutMs: 60_000 },
    scheduler: clock,
  });
  const { hub, broker } = testHub(mode, clock);
  const source = new SourceStats("synthetic");
  source.startedAt = clock.now();
  source.schedule = new Schedule(100, clock.now());
  const loopLag = new EventLoopLag({ intervalMs: 60_000 });
  const feed = new DashboardFeed(
    { hub, source, loopLag, info: { rate: 100, payloadBytes: 2000 } },
    { intervalMs: 0, now: clock.now, maxSubscribers },
  );
  const publish = (n: number) => {
    for (let i = 0; i < n; i++) {
      void broker.publish("default", [{
        // Due 5 ms ago: an ACK of it shows about 5 ms end to end.
        tsSend: Date.now() / 1000 - 0.005,
        payloadB64: "x".repeat(2000),
      }]);
      source.published++;
      clock.advance(10);
    }
  };
  const tearDown = () => {
    feed.close();
    hub.closeAll("shutdown");
    loopLag[Symbol.dispose]();
  };
  return { hub, feed, publish, tearDown };
}

/** Reads Server-Sent Events from a feed stream, one `data:` object at a time. */
class EventReader {
  readonly #reader: ReadableStreamDefaultReader<Uint8Array>;
  readonly #decoder = new TextDecoder();
  #buffer = "";

  constructor(stream: ReadableStream<Uint8Array> | undefined) {
    if (!stream) throw new Error("the feed refused the dashboard");
    this.#reader = stream.getReader();
  }

  /** The next `data:` event, parsed; undefined when the stream ended. */
  async next(): Promise<FeedEvent | undefined> {
    while (true) {
      const end = this.#buffer.indexOf("\n\n");
      if (end >= 0) {
        const block = this.#buffer.slice(0, end);
        this.#buffer = this.#buffer.slice(end + 2);
        if (block.startsWith("data: ")) return JSON.parse(block.slice(6));
        continue;
      }
      const { value, done } = await this.#reader.read();
      if (done) return undefined;
      this.#buffer += this.#decoder.decode(value, { stream: true });
    }
  }
}

const view = (q: string): TableView => parseTableView(new URLSearchParams(q));

Deno.test("DashboardFeed shows a stalled client as dropping, first in the table, then its disconnect in the log", async () => {
  const clock = new FakeClock();
  const { hub, feed, publish, tearDown } = setUp(clock);
  try {
    const fastSink = new FakeSink();
    const fast = hub.open(fastSink, { remote: "127.0.0.1:1" });
    const slowSink = new FakeSink();
    slowSink.stalled = true;
    const slow = hub.open(slowSink, { remote: "127.0.0.1:2" });
    const events = new EventReader(feed.subscribe(view("")));
    // 32 of these 2 KB frames fill the stalled sink to its socket gate (64
    // KiB), 10 fill its queue, then it drops: 2 drops, under --drop-limit 5.
    publish(44);
    // The ACK must name a frame the client was sent (a forged one is refused).
    const { seq, ts_send } = JSON.parse(fastSink.frames[0]!);
    hub.receive(fast, JSON.stringify({ ack_ts: ts_send, seq }));
    feed.tick();
    const first = (await events.next())!;
    assert.equal(
      first.history!.length,
      1,
      "the first event carries the history",
    );
    assert.deepEqual(first.states, { ok: 1, backlogged: 0, dropping: 1 });
    assert.equal(first.table.rows[0]!.id, slow.id, "worst first");
    assert.equal(first.table.rows[0]!.state, "dropping");
    assert.ok(first.table.rows[0]!.drops > 0);
    assert.equal(first.table.rows[1]!.id, fast.id);
    assert.equal(first.table.rows[1]!.state, "ok");
    assert.ok(first.point.publishRate > 0 && first.point.deliveryRate > 0);
    assert.ok(
      first.point.e2e[2]! >= 4 && first.point.e2e[2]! < 100,
      "e2e p99 of the tick",
    );
    assert.equal(first.totals.clients, 2);
    assert.equal(first.info.mode, "queue");
    hub.tick(); // it drained nothing of what it was offered: lagging
    publish(10); // past --drop-limit 5: the slow client is cut off
    // The hub settles a client cut during a delivery once it has returned.
    await Promise.resolve();
    feed.tick();
    const second = (await events.next())!;
    assert.equal(second.history, undefined, "history only once");
    assert.equal(second.point.e2e[2], null, "no ACK in this tick");
    assert.equal(second.totals.clients, 1);
    assert.deepEqual(
      second.log.map((
        e: { id: string; code: number; reason: string },
      ) => [e.id, e.code, e.reason]),
      [
        [slow.id, 4000, "slow_drops"],
      ],
    );
    const totals = hub.totals();
    assert.equal(totals.discarded, 10, "the full queue went with the client");
    assert.equal(totals.acks, 1);
    assert.equal(hub.latency().e2e.count, 1, "server-wide e2e histogram");
    assert.equal(
      hub.latency().send.count,
      totals.delivered,
      "one send latency per frame",
    );
    assert.deepEqual(hub.backlog(), { queued: 0, bufferedBytes: 0 });
    feed.tick();
    assert.deepEqual(
      (await events.next())!.log,
      [],
      "each disconnect is sent once",
    );
    feed.close();
    assert.equal(await events.next(), undefined, "close() ends the stream");
  } finally {
    tearDown();
  }
});

Deno.test("DashboardFeed keeps no client table while no dashboard looks; one that opens later sees states from then on, not drops from before", async () => {
  const clock = new FakeClock();
  const { hub, feed, publish, tearDown } = setUp(clock);
  try {
    hub.open(new FakeSink(), { remote: "127.0.0.1:1" });
    const slowSink = new FakeSink();
    slowSink.stalled = true;
    const slow = hub.open(slowSink, { remote: "127.0.0.1:2" });
    publish(44); // 2 drops for the stalled client, while nobody looks
    feed.tick();
    const events = new EventReader(feed.subscribe(view("")));
    const first = (await events.next())!;
    assert.equal(first.table.total, 2, "the table is built when one opens");
    const row = first.table.rows.find((r) => r.id === slow.id)!;
    assert.equal(row.drops, 2);
    assert.equal(
      row.state,
      "backlogged",
      "drops from before it looked are not news",
    );
    assert.deepEqual(first.states, { ok: 1, backlogged: 1, dropping: 0 });
    publish(1); // one more drop, now that it looks
    feed.tick();
    const second = (await events.next())!;
    assert.deepEqual(second.states, { ok: 1, backlogged: 0, dropping: 1 });
  } finally {
    await tearDown();
  }
});
Deno.test("DashboardFeed pages, sorts and filters the client table on the server", async (t) => {
  const clock = new FakeClock();
  const { hub, feed, publish, tearDown } = setUp(clock);
  try {
    for (let i = 0; i < 31; i++) {
      hub.open(new FakeSink(), { remote: `127.0.0.1:${i}` });
    }
    const slowSink = new FakeSink();
    slowSink.stalled = true;
    const slow = hub.open(slowSink, { remote: "127.0.0.1:99" });
    publish(44);
    feed.tick();
    const pageOf = async (q: string) =>
      (await new EventReader(feed.subscribe(view(q))).next())!.table;
    await t.step("page 2 of 4 by id", async () => {
      const table = await pageOf("sort=id&dir=asc&size=10&page=1");
      assert.equal(table.total, 32);
      assert.equal(table.pages, 4);
      assert.deepEqual(
        table.rows.map((r) => r.id),
        Array.from({ length: 10 }, (_, i) => `c${i + 11}`),
      );
    });
    await t.step("a page past the end is clamped", async () => {
      const table = await pageOf("sort=id&size=10&page=99");
      assert.equal(table.view.page, 3);
      assert.equal(table.rows.length, 2);
    });
    await t.step("filter=slow keeps only the clients in trouble", async () => {
      const table = await pageOf("filter=slow");
      assert.equal(table.total, 1);
      assert.equal(table.rows[0]!.id, slow.id);
    });
    await t.step("sort by queue, descending", async () => {
      const table = await pageOf("sort=queue&dir=desc&size=1");
      assert.equal(table.rows[0]!.id, slow.id);
      assert.ok(table.rows[0]!.queue > 0);
    });
    await t.step("bad parameters fall back to the defaults", () => {
      assert.deepEqual(view("sort=bogus&dir=up&page=-1&size=100000&filter=x"), {
        sort: "worst",
        dir: "desc",
        page: 0,
        size: 200,
        filter: "all",
      });
    });
    assert.equal(
      feed.subscribers,
      4,
      "each open stream is a subscriber until cancelled or closed",
    );
  } finally {
    tearDown();
  }
  assert.equal(feed.subscribers, 0);
});

Deno.test("DashboardFeed with 2,000 clients sends each dashboard one page and the counts, not every client", async () => {
  const clock = new FakeClock();
  const { hub, feed, publish, tearDown } = setUp(clock);
  try {
    for (let i = 0; i < 2000; i++) {
      hub.open(new FakeSink(), { remote: `127.0.0.1:${i}` });
    }
    publish(5);
    feed.tick();
    const stream = feed.subscribe(view("size=50&sort=sent"));
    const reader = stream!.getReader();
    let text = "";
    while (!text.includes("\n\ndata: ") || !text.endsWith("\n\n")) {
      text += new TextDecoder().decode((await reader.read()).value);
    }
    const event: FeedEvent = JSON.parse(text.split("data: ")[1]!);
    assert.equal(event.totals.clients, 2000);
    assert.equal(event.states.ok, 2000);
    assert.equal(event.table.total, 2000);
    assert.equal(event.table.pages, 40);
    assert.equal(event.table.rows.length, 50);
    assert.ok(text.length < 30_000, `one event is ${text.length} bytes`);
    await reader.cancel();
  } finally {
    tearDown();
  }
});

Deno.test("DashboardFeed refuses dashboards past maxSubscribers, and builds each tick's event once per distinct view", async () => {
  const clock = new FakeClock();
  const { hub, feed, publish, tearDown } = setUp(clock, 201);
  try {
    for (let i = 0; i < 500; i++) {
      hub.open(new FakeSink(), { remote: `127.0.0.1:${i}` });
    }
    publish(5);
    feed.tick();
    const same = Array.from(
      { length: 200 },
      () => new EventReader(feed.subscribe(view("size=50&sort=sent"))),
    );
    const other = new EventReader(feed.subscribe(view("size=25&sort=id")));
    assert.equal(feed.subscribers, 201);
    assert.equal(feed.subscribe(view("")), undefined, "the 202nd is refused");
    await Promise.all([...same, other].map((r) => r.next())); // first events
    const before = feed.encodes;
    publish(5);
    feed.tick();
    assert.equal(
      feed.encodes - before,
      2,
      "one event for the 200 dashboards on one view, one for the other",
    );
    const events = await Promise.all(same.map((r) => r.next()));
    assert.ok(events.every((e) => e!.table.rows.length === 50));
    assert.equal((await other.next())!.table.rows.length, 25);
  } finally {
    tearDown();
  }
});

Deno.test("DashboardFeed shows each client's tier under --policy ladder, and none under other policies", async () => {
  for (const policy of ["ladder", "drop-oldest"] as const) {
    const clock = new FakeClock();
    const { hub, feed, tearDown } = setUp(clock, Infinity, policy);
    try {
      hub.open(new FakeSink(), { remote: "127.0.0.1:1" });
      const events = new EventReader(feed.subscribe(view("")));
      feed.tick();
      const first = (await events.next())!;
      assert.equal(
        first.table.rows[0]!.tier,
        policy === "ladder" ? "full" : null,
      );
    } finally {
      tearDown();
    }
  }
});
