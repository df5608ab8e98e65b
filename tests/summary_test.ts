/**
 * The summary's and the lifecycle log's human and JSON lines, read from an
 * in-process hub with a fake clock and fake sinks: what they say when nobody
 * ACKs, and how a flood close reads.
 *
 * @module
 */
import assert from "node:assert/strict";
import { epochSeconds } from "../lib/protocol.ts";
import type { Logger } from "../server/core/logger.ts";
import { NaiveMode } from "../server/modes/naive.ts";
import { logLifecycle } from "../server/observe/lifecycle_log.ts";
import { NO_ACKS, SummaryReporter } from "../server/observe/summary.ts";
import { SourceStats } from "../server/sources/source_stats.ts";
import { FakeClock, FakeSink, testHub } from "./_helpers.ts";

/** A logger keeping each record and its human line. */
function recordingLogger() {
  const records: Record<string, unknown>[] = [];
  const lines: string[] = [];
  const logger: Logger = {
    log(record, human) {
      records.push(record);
      lines.push(human);
    },
  };
  return { logger, records, lines };
}

/** A naive hub with one client that was sent three messages. */
async function hubWithOneClient(maxInboundRate?: number) {
  const clock = new FakeClock();
  const { hub, publish } = testHub(
    new NaiveMode(clock),
    clock,
    maxInboundRate === undefined ? {} : { maxInboundRate },
  );
  const sink = new FakeSink();
  const session = hub.open(sink, { remote: "127.0.0.1:1" });
  for (let i = 0; i < 3; i++) {
    await publish("default", { tsSend: epochSeconds(), payloadB64: "AA==" });
  }
  const acks = sink.frames.map((f) => JSON.parse(f))
    .filter((f) => typeof f.seq === "number")
    .map((f) => JSON.stringify({ ack_ts: f.ts_send, seq: f.seq }));
  return { hub, clock, session, acks };
}

Deno.test("SummaryReporter says there are no ACKs, not 0.0/0.0/0.0 ms, when nobody ACKed in the window", async () => {
  const { hub, clock, session, acks } = await hubWithOneClient();
  const { logger, records, lines } = recordingLogger();
  const summary = new SummaryReporter(
    hub,
    new SourceStats("synthetic"),
    logger,
    clock.now,
  );
  clock.advance(1000);
  summary.report();
  const [quiet, client] = lines;
  assert.match(quiet!, /^\[summary\] .*\| e2e: no ACKs \|/);
  assert.doesNotMatch(quiet!, /0\.0\/0\.0\/0\.0/);
  assert.ok(client?.includes(`| ${NO_ACKS} |`), client);
  assert.equal(records[0]?.e2e_acks, 0);

  // Once it ACKs, the line shows the percentiles and the count again.
  for (const ack of acks) hub.receive(session, ack);
  clock.advance(1000);
  summary.report();
  const acked = lines[2]!;
  assert.match(acked, /\| e2e p50\/p95\/p99 [\d.]+\/[\d.]+\/[\d.]+ ms \|/);
  assert.match(lines[3]!, /\| e2e avg\/p99 [\d.]+\/[\d.]+ ms \|/);
  assert.equal(records[2]?.e2e_acks, 3);

  // The next window has no ACKs again, whatever came before.
  clock.advance(1000);
  summary.report();
  assert.match(lines[4]!, /\| e2e: no ACKs \|/);
});

Deno.test("the disconnect line of a flood close names the reason once: 'flood: uninvited …', never 'flood: flood:'", async () => {
  const { hub, session, acks } = await hubWithOneClient(10);
  const { logger, records, lines } = recordingLogger();
  logLifecycle(hub, logger);
  // Far past one ACK per message sent: throttled, then cut.
  for (let i = 0; i < 100 && !session.closed; i++) {
    hub.receive(session, acks[0]!);
  }
  assert.equal(session.end?.reason, "flood");
  const at = records.findIndex((r) => r.type === "disconnect");
  assert.ok(at >= 0, `a disconnect record: ${JSON.stringify(records)}`);
  assert.equal(records[at]?.reason, "flood");
  assert.doesNotMatch(String(records[at]?.detail), /flood:/);
  assert.match(lines[at]!, / 4101 flood: uninvited client frames/);
  assert.doesNotMatch(lines[at]!, /flood: flood/);
});
