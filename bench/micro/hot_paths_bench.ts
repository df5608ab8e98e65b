/**
 * `deno bench` micro-benchmarks of the server's hot paths: the ring buffer,
 * a histogram record, encoding one message, and the per-message fan-out loop
 * (hub → queue broadcaster → session → sink) with fake sinks, so the loop's
 * own JavaScript cost shows apart from the socket's.
 *
 * Run: `deno task bench:micro` (or `deno bench bench/micro/`). For the
 * fan-out loop, divide the time per iteration by the number of sessions to
 * get the JavaScript cost per delivery.
 *
 * @module
 */
import { Histogram } from "../../lib/histogram.ts";
import { encodeData } from "../../lib/protocol.ts";
import { RingQueue } from "../../lib/ring_queue.ts";
import {
  Hub,
  MemoryBroker,
  QueueMode,
  randomPayloadB64,
  type Sink,
} from "../../server/mod.ts";

/** Sessions in the fan-out benchmarks. */
export const FANOUT_SESSIONS = 1000;

Deno.bench("RingQueue push+shift (steady state)", { group: "ring" }, (b) => {
  const q = new RingQueue<number>(100);
  for (let i = 0; i < 50; i++) q.push(i);
  b.start();
  for (let i = 0; i < 1000; i++) {
    q.push(i);
    q.shift();
  }
  b.end();
});

Deno.bench("RingQueue push into a full queue (drop-oldest)", {
  group: "ring",
}, (b) => {
  const q = new RingQueue<number>(100);
  for (let i = 0; i < 100; i++) q.push(i);
  b.start();
  for (let i = 0; i < 1000; i++) q.push(i);
  b.end();
});

Deno.bench("Histogram.record ×1000", { group: "histogram" }, (b) => {
  const h = new Histogram();
  const values = Array.from({ length: 1000 }, (_, i) => 0.05 + (i % 97) * 0.3);
  b.start();
  for (const v of values) h.record(v);
  b.end();
});

Deno.bench("encode one 64-byte message (payload + JSON)", {
  group: "encode",
}, () => {
  encodeData(123456, 1764284400.123456, randomPayloadB64(64));
});

const PAYLOAD_64 = randomPayloadB64(64);
Deno.bench("encode one message, payload given (JSON only)", {
  group: "encode",
}, () => {
  encodeData(123456, 1764284400.123456, PAYLOAD_64);
});

/** A sink that accepts everything and never backs up. */
function fakeSink(): Sink & { sent: number } {
  return {
    sent: 0,
    bufferedAmount: 0,
    send() {
      this.sent++;
    },
    close() {},
  };
}

/** A hub of `sessions` fake sinks behind a memory broker, in queue mode. */
function queueHub(
  sessions: number,
  batch = false,
  policy: "drop-oldest" | "ladder" = "drop-oldest",
) {
  const mode = new QueueMode({
    queue: { maxsize: 100, maxBytes: Infinity, policy },
    limits: { dropLimit: 50, fullTimeoutMs: 5000 },
    batchMs: 60_000, // the benchmark ticks by hand
  });
  const broker = new MemoryBroker();
  const hub = new Hub({ mode, broker });
  for (let i = 0; i < sessions; i++) {
    hub.open(fakeSink(), { remote: `127.0.0.1:${10000 + i}`, batch });
  }
  return { hub, mode, broker };
}

/** One message of a 64-byte payload, as the synthetic source publishes it. */
const PUBLISH_64 = [{
  tsSend: 1764284400.123,
  payloadB64: randomPayloadB64(64),
}];

// One hub for every iteration (built on first use, as a server's lives on):
// fake sinks never back up, so each queue drains at once and stays empty.
let plain: ReturnType<typeof queueHub> | undefined;
Deno.bench(
  `fan-out: publish one message to ${FANOUT_SESSIONS} sessions (queue mode, fake sinks)`,
  { group: "fanout", baseline: true },
  async () => {
    plain ??= queueHub(FANOUT_SESSIONS);
    await plain.broker.publish("default", PUBLISH_64);
  },
);

// The same under --policy ladder (every client at full: the ladder costs
// nothing per message while clients keep up).
let laddered: ReturnType<typeof queueHub> | undefined;
Deno.bench(
  `fan-out: publish one message to ${FANOUT_SESSIONS} sessions (--policy ladder, fake sinks)`,
  { group: "fanout" },
  async () => {
    laddered ??= queueHub(FANOUT_SESSIONS, false, "ladder");
    await laddered.broker.publish("default", PUBLISH_64);
  },
);

// Batching clients (?batch=1): 4 messages (400 Hz with a 10-ms tick), then
// the tick that sends them as one array frame per client, text built once.
let batching: ReturnType<typeof queueHub> | undefined;
Deno.bench(
  `fan-out: 4 messages to ${FANOUT_SESSIONS} batching sessions + one batch tick`,
  { group: "fanout" },
  async () => {
    batching ??= queueHub(FANOUT_SESSIONS, true);
    for (let i = 0; i < 4; i++) {
      await batching.broker.publish("default", PUBLISH_64);
    }
    batching.mode.flushBatches();
  },
);

const SINKS = Array.from({ length: FANOUT_SESSIONS }, fakeSink);
const TEXT = encodeData(1, 1764284400.123, PAYLOAD_64);
Deno.bench(
  `fan-out: the bare loop, ${FANOUT_SESSIONS} sinks × send(text) (the floor)`,
  { group: "fanout" },
  () => {
    for (const s of SINKS) {
      if (s.bufferedAmount < 65536) s.send(TEXT, 1, "");
    }
  },
);
