// The dashboard's three charts, drawn with uPlot (served from its npm
// package): end-to-end and send latency p50/p95/p99 on log scales, and
// deliveries and drops per second. app.js hands it the feed's points.
/* global uPlot */
"use strict";
globalThis.fanoutCharts = (() => {
  const HEIGHT = 190;
  const latencySeries = [
    {},
    { label: "p50", stroke: "#3fb950", width: 1.5 },
    { label: "p95", stroke: "#d29922", width: 1.5 },
    { label: "p99", stroke: "#f85149", width: 2 },
  ];
  const axis = {
    stroke: "#8a96a3",
    grid: { stroke: "#2a323c", width: 0.5 },
    ticks: { stroke: "#2a323c" },
  };
  // Time ticks as 24-hour HH:MM:SS, at least 90 px apart: uPlot's default
  // 12-hour labels ("12:34:56pm") overlap on a chart a third of a page wide.
  const hms = new Intl.DateTimeFormat(undefined, {
    hour: "2-digit",
    minute: "2-digit",
    second: "2-digit",
    hourCycle: "h23",
  });
  const timeAxis = {
    ...axis,
    space: 90,
    values: (_u, splits) => splits.map((s) => hms.format(new Date(s * 1000))),
  };
  const el = (name) => document.getElementById(`chart-${name}`);
  function chart(name, series, log) {
    return new uPlot(
      {
        width: el(name).clientWidth || 400,
        height: HEIGHT,
        series,
        scales: {
          x: { time: true },
          y: log
            ? { distr: 3 }
            : { range: (_u, _lo, hi) => [0, Math.max(1, hi)] },
        },
        axes: [timeAxis, { ...axis, size: 60 }],
        legend: { live: false },
      },
      [[], ...series.slice(1).map(() => [])],
      el(name),
    );
  }
  const charts = {
    e2e: chart("e2e", latencySeries, true),
    send: chart("send", latencySeries, true),
    rate: chart("rate", [
      {},
      { label: "delivered/s", stroke: "#58a6ff", width: 1.5 },
      {
        label: "dropped/s",
        stroke: "#f85149",
        width: 1.5,
        fill: "rgba(248,81,73,0.15)",
      },
    ], false),
  };
  // Log scales cannot show 0: a tick with nothing recorded is a gap (null).
  const floor = (v) => v === null ? null : Math.max(v, 0.001);
  addEventListener("resize", () => {
    for (const [name, c] of Object.entries(charts)) {
      c.setSize({ width: el(name).clientWidth, height: HEIGHT });
    }
  });
  return {
    /** Redraws every chart from the feed's points, oldest first. */
    draw(points) {
      const t = points.map((p) => p.t);
      const lat = (k) => [
        t,
        ...[0, 1, 2].map((i) => points.map((p) => floor(p[k][i]))),
      ];
      charts.e2e.setData(lat("e2e"));
      charts.send.setData(lat("send"));
      charts.rate.setData([
        t,
        points.map((p) => p.deliveryRate),
        points.map((p) => p.dropRate),
      ]);
    },
    /** Each chart's time-axis labels: text and centre x (CSS px), to check they do not overlap. */
    timeLabels() {
      return Object.fromEntries(
        Object.entries(charts).map(([name, u]) => {
          const a = u.axes[0];
          return [
            name,
            (a._values ?? []).map((text, i) => ({
              text,
              x: u.valToPos(a._splits[i], "x"),
            })),
          ];
        }),
      );
    },
  };
})();
