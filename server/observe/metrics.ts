/**
 * The server's Prometheus metrics, bound to the hub, the source and the
 * process. Every value is read when scraped from counters the server keeps
 * anyway; nothing here runs per message.
 *
 * @module
 */
import { MetricsRegistry } from "../../lib/metrics.ts";
import type { Hub } from "../core/hub.ts";
import {
  addClients,
  addLatencyAndBacklog,
  addPerClient,
  type ServerMetricsSource,
} from "./metrics_clients.ts";
import {
  addBroker,
  addOverload,
  addProcess,
  addPublisher,
} from "./metrics_load.ts";

export {
  LATENCY_BUCKETS_SECONDS,
  type ServerMetricsSource,
} from "./metrics_clients.ts";

/** Options of {@link createServerMetrics}. */
export interface ServerMetricsOptions {
  /** Add per-client series (`fanout_client_*`, label `client`); one series per client per metric. @default false */
  readonly perClient?: boolean;
  /** This process's name, in `fanout_process_info`. @default {@link defaultInstanceId} */
  readonly instanceId?: string;
  /** Label every series with `instance_id` (processes sharing a port). @default false */
  readonly labelEverySeries?: boolean;
}

/**
 * A process's name when `--instance-id` is not given: `HOSTNAME:PID`, which
 * tells apart the processes sharing a port with `--reuse-port`.
 */
export function defaultInstanceId(): string {
  return `${Deno.hostname()}:${Deno.pid}`;
}

/**
 * Registers every server metric.
 *
 * @param source the hub, source and samplers to read
 * @param options whether to add per-client series
 * @returns the registry; `render()` it for `GET /metrics`
 */
export function createServerMetrics(
  source: ServerMetricsSource,
  options: ServerMetricsOptions = {},
): MetricsRegistry {
  const { hub } = source;
  const instanceId = options.instanceId ?? defaultInstanceId();
  const r = new MetricsRegistry(
    options.labelEverySeries ? { instance_id: instanceId } : {},
  );
  addIdentity(r, hub, instanceId);
  addClients(r, source);
  addLatencyAndBacklog(r, source);
  addPublisher(r, source);
  addOverload(r, source);
  addBroker(r, source);
  addProcess(r, source);
  if (options.perClient) addPerClient(r, hub);
  return r;
}

/** `fanout_process_info` and `fanout_info`: which process answered, in which mode, on which broker. */
function addIdentity(r: MetricsRegistry, hub: Hub, instanceId: string): void {
  r
    .gauge(
      "fanout_process_info",
      "Constant 1, naming the process that answered this scrape (--instance-id) and its pid.",
      () => [{
        labels: { instance_id: instanceId, pid: String(Deno.pid) },
        value: 1,
      }],
    )
    .gauge(
      "fanout_info",
      "Constant 1, labelled with the broadcast mode and the broker.",
      () => [{ labels: { mode: hub.mode, broker: hub.broker.kind }, value: 1 }],
    );
}
