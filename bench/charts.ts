/**
 * Charts of the benchmark results, drawn as SVG by vega-lite + vega (npm),
 * headless: no browser, no canvas.
 *
 * @module
 */
import * as vega from "vega";
import { compile, type TopLevelSpec } from "vega-lite";
import type { IsolationResult } from "./scenarios/isolation.ts";
import type { LatencyDropResult } from "./scenarios/latency_drop.ts";
import type { ScaleResult } from "./scenarios/scale.ts";
import type { StalledResult } from "./scenarios/stalled.ts";
import type { OverloadResult } from "./scenarios/overload.ts";

/** Renders a vega-lite spec to an SVG string. */
export async function renderSvg(spec: TopLevelSpec): Promise<string> {
  const view = new vega.View(vega.parse(compile(spec).spec), {
    renderer: "none",
  });
  const svg = await view.toSVG();
  view.finalize();
  return svg;
}

const WIDTH = 300;
const HEIGHT = 200;

/** Scale: CPU per delivery, p99, deliveries/s and RSS per connection against N, per server. */
export function scaleSpec(r: ScaleResult, subtitle: string): TopLevelSpec {
  const values = r.rows.filter((row) => row.rate === 100).flatMap((row) =>
    row.results.map((p) => ({
      server: p.label,
      clients: row.clients,
      cpu: p.server_cpu_us_per_delivery,
      p99: p.groups.fast?.latency_ms.p99,
      rate: p.deliveries_per_s,
      rss: p.rss_per_connection_kb,
    }))
  );
  const panel = (field: string, title: string, log = false) => ({
    width: WIDTH,
    height: HEIGHT,
    mark: { type: "line" as const, point: true },
    encoding: {
      x: {
        field: "clients",
        type: "quantitative" as const,
        title: "clients (100 Hz each)",
      },
      y: {
        field,
        type: "quantitative" as const,
        title,
        ...(log ? { scale: { type: "log" as const } } : {}),
      },
      color: { field: "server", type: "nominal" as const, title: "server" },
    },
  });
  return {
    $schema: "https://vega.github.io/schema/vega-lite/v6.json",
    title: {
      text: `Scale: N clients × 100 Hz × ${r.payload_bytes}-byte payloads`,
      subtitle,
    },
    data: { values },
    vconcat: [
      {
        hconcat: [
          panel("cpu", "server CPU µs per delivery"),
          panel("rate", "deliveries/s"),
        ],
      },
      {
        hconcat: [
          panel("p99", "p99 latency, ms (log)", true),
          panel("rss", "server RSS per connection, KiB"),
        ],
      },
    ],
  } as TopLevelSpec;
}

/** Isolation: fast clients' p99 and delivery ratio against the share of slow clients. */
export function isolationSpec(
  r: IsolationResult,
  subtitle: string,
): TopLevelSpec {
  const values = r.rows.map((row) => ({
    mode: row.mode,
    slow: row.slow_percent,
    p50: row.fast_p50_ms,
    p99: row.fast_p99_ms,
    ratio: row.fast_delivery_ratio,
  }));
  const panel = (field: string, title: string, log: boolean) => ({
    width: WIDTH,
    height: HEIGHT,
    mark: { type: "line" as const, point: true },
    encoding: {
      x: {
        field: "slow",
        type: "quantitative" as const,
        title: "slow clients, % of N",
      },
      y: {
        field,
        type: "quantitative" as const,
        title,
        ...(log ? { scale: { type: "log" as const } } : {}),
      },
      color: { field: "mode", type: "nominal" as const, title: "mode" },
    },
  });
  return {
    $schema: "https://vega.github.io/schema/vega-lite/v6.json",
    title: {
      text:
        `Isolation: ${r.clients} clients, ${r.rate} Hz × ${r.payload_bytes} B; slow ones read every ${r.slow_period_ms} ms`,
      subtitle,
    },
    data: { values },
    hconcat: [
      panel("p50", "fast clients' p50, ms (log)", true),
      panel("p99", "fast clients' p99, ms (log)", true),
      panel("ratio", "fast clients' delivery ratio", false),
    ],
  } as TopLevelSpec;
}

/** Latency–drop: each slow client's p99 against its drop fraction, one point per --maxsize. */
export function latencyDropSpec(
  r: LatencyDropResult,
  subtitle: string,
): TopLevelSpec {
  const values = r.rows.filter((row) => row.client !== "fast").map((row) => ({
    client: row.client,
    maxsize: row.maxsize,
    drop: row.drop_fraction,
    p50: row.p50_ms,
    p99: row.p99_ms,
  }));
  const layer = (field: string, title: string) => ({
    width: WIDTH,
    height: HEIGHT,
    encoding: {
      x: {
        field: "drop",
        type: "quantitative" as const,
        title: "fraction of messages dropped",
        axis: { format: "%" },
      },
      y: { field, type: "quantitative" as const, title },
      color: {
        field: "client",
        type: "nominal" as const,
        title: "slow client",
      },
    },
    layer: [
      { mark: { type: "line" as const, point: true } },
      {
        mark: { type: "text" as const, dx: 14, dy: -6, fontSize: 9 },
        encoding: { text: { field: "maxsize", type: "quantitative" as const } },
      },
    ],
  });
  return {
    $schema: "https://vega.github.io/schema/vega-lite/v6.json",
    title: {
      text:
        `Latency vs drops, sweeping --maxsize (labels), ${r.rate} Hz × ${r.payload_bytes} B`,
      subtitle,
    },
    data: { values },
    hconcat: [
      layer("p50", "slow client's p50 latency, ms"),
      layer("p99", "slow client's p99 latency, ms"),
    ],
  } as TopLevelSpec;
}

/** Stalled clients: server RSS over time, per server. */
export function stalledSpec(r: StalledResult, subtitle: string): TopLevelSpec {
  const values = r.runs.flatMap((run) =>
    (run.point.timeline ?? []).map((s) => ({
      run: run.name,
      t: s.t_s,
      rss: Math.round(s.rss_kb / 102.4) / 10,
    }))
  );
  return {
    $schema: "https://vega.github.io/schema/vega-lite/v6.json",
    title: {
      text:
        `Server RSS with ${r.stalled_clients} clients that never read (+${r.fast_clients} fast), ${r.rate} Hz × ${r.payload_bytes} B`,
      subtitle,
    },
    data: { values },
    width: 2 * WIDTH,
    height: HEIGHT,
    mark: { type: "line" },
    encoding: {
      x: { field: "t", type: "quantitative", title: "seconds" },
      y: { field: "rss", type: "quantitative", title: "server RSS, MiB" },
      color: { field: "run", type: "nominal", title: "server" },
    },
  } as TopLevelSpec;
}

/** Overload: delivery, p99, clients disconnected and RSS per connection against N, per server. */
export function overloadSpec(
  r: OverloadResult,
  subtitle: string,
): TopLevelSpec {
  const values = r.points.map((p) => ({
    server: p.label,
    clients: p.clients,
    delivered: p.delivery_ratio,
    p99: p.p99_ms,
    disconnected: p.disconnected,
    rss: p.rss_per_connection_kb,
  }));
  const panel = (field: string, title: string, log = false) => ({
    width: WIDTH,
    height: HEIGHT,
    mark: { type: "line" as const, point: true },
    encoding: {
      x: {
        field: "clients",
        type: "quantitative" as const,
        title: "clients (100 Hz each, all reading)",
      },
      y: {
        field,
        type: "quantitative" as const,
        title,
        ...(log ? { scale: { type: "log" as const } } : {}),
      },
      color: { field: "server", type: "nominal" as const, title: "server" },
    },
  });
  return {
    $schema: "https://vega.github.io/schema/vega-lite/v6.json",
    title: {
      text:
        `Overload: N × 100 Hz × ${r.payload_bytes} B past what 2 cores serve`,
      subtitle,
    },
    data: { values },
    vconcat: [
      {
        hconcat: [
          panel("delivered", "delivered ÷ due"),
          panel("p99", "p99 latency, ms (log)", true),
        ],
      },
      {
        hconcat: [
          panel("disconnected", "clients disconnected"),
          panel("rss", "server RSS per connection, KiB"),
        ],
      },
    ],
  } as TopLevelSpec;
}
