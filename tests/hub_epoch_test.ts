/**
 * No splice on the node: live frames handed to a client while its history
 * is read belong to the epoch they were delivered in, and those of an
 * older epoch than the history's are never sent after its `position` /
 * `reset` as if they were new. Both modes, with a broker whose history
 * read is held open and whose epoch moves on meanwhile.
 */
import assert from "node:assert/strict";
import type { Broker, History } from "../server/core/broker.ts";
import { BrokerStats } from "../server/core/broker.ts";
import { frameOf } from "../server/core/frame.ts";
import { Hub } from "../server/core/hub.ts";
import type { Mode } from "../server/core/mode.ts";
import { EMPTY_REPLAY, resetNotice } from "../server/broker/history.ts";
import { NaiveMode } from "../server/modes/naive.ts";
import { QueueMode } from "../server/modes/queue.ts";
import { FakeClock, FakeSink } from "./_helpers.ts";

/** A broker in `epoch`, whose history reads wait until released. */
function heldBroker() {
  const state = { epoch: "1.old", seq: 0 };
  const reads: ((h: History) => void)[] = [];
  const broker: Broker = {
    kind: "held",
    stats: new BrokerStats(),
    connected: () => Promise.resolve(true),
    bind() {},
    admits: () => true,
    publish: () => Promise.reject(new Error("not here")),
    subscribe: () => Promise.resolve(),
    unsubscribe() {},
    position: () => ({ ...state }),
    history: () => new Promise<History>((r) => reads.push(r)),
    [Symbol.asyncDispose]: () => Promise.resolve(),
  };
  return { broker, state, reads };
}

const frame = (seq: number) =>
  frameOf("c", seq, { tsSend: 1, dataJson: String(seq) }, 0);

for (
  const [name, make] of [
    ["queue", (c: FakeClock) =>
      new QueueMode({
        queue: { maxsize: 100, maxBytes: Infinity, policy: "drop-oldest" },
        limits: { dropLimit: 50, fullTimeoutMs: 1000, maxLagMs: Infinity },
        scheduler: c,
      })],
    ["naive", (c: FakeClock) => new NaiveMode(c)],
  ] as [string, (c: FakeClock) => Mode][]
) {
  Deno.test(`hub (${name} mode): frames of an older epoch queued while a history is read are dropped after its reset, the new epoch's first messages go out`, async () => {
    const clock = new FakeClock();
    const { broker, state, reads } = heldBroker();
    const hub = new Hub({ mode: make(clock), broker, now: clock.now });
    const sink = new FakeSink();
    hub.open(sink, { remote: "r", channel: "c", since: 3, epoch: "1.old" });
    // The old epoch's 4 and 5 arrive while the read is out; then the
    // stream starts over in a newer epoch: 1 and 2.
    await hub.publication("c", frame(4));
    await hub.publication("c", frame(5));
    state.epoch = "2.new";
    hub.notice("c", resetNotice("c", "2.new", 0));
    await hub.publication("c", frame(1));
    await hub.publication("c", frame(2));
    reads[0]!({
      epoch: "2.new",
      until: 0,
      notices: [resetNotice("c", "2.new", 0)],
      replay: EMPTY_REPLAY,
    });
    await clock.run(5);
    const seqs = sink.frames.map((t) => JSON.parse(t)).filter((f) =>
      f.type === undefined
    ).map((f) => f.seq);
    assert.deepEqual(seqs, [1, 2]);
    assert.equal(broker.stats.staleEpochs, 2);
  });
}
