// The fanout dashboard, in the browser: one EventSource on /events (one
// event a second) feeding the tiles, the charts (charts.js), the client
// table (sorted and paged by the server) and the disconnect log. Plain
// script, no build step.
/* global fanoutCharts */
"use strict";
(() => {
  const $ = (id) => document.getElementById(id);
  const view = { sort: "worst", dir: "desc", page: 0, size: 25, filter: "all" };
  const MAX_POINTS = 300;
  const MAX_LOG = 200;
  let source;
  let pages = 1;

  // --- formatting -----------------------------------------------------------
  const num = (x) =>
    x === null || x === undefined ? "–" : x.toLocaleString("en-US");
  const ms = (x) =>
    x === null || x === undefined
      ? "–"
      : x >= 1000
      ? `${(x / 1000).toFixed(2)} s`
      : x >= 10
      ? `${x.toFixed(0)} ms`
      : `${x.toFixed(2)} ms`;
  const bytes = (x) =>
    x >= 1 << 30
      ? `${(x / (1 << 30)).toFixed(1)} GiB`
      : x >= 1 << 20
      ? `${(x / (1 << 20)).toFixed(1)} MiB`
      : x >= 1024
      ? `${(x / 1024).toFixed(0)} KiB`
      : `${x} B`;
  const time = (t) => new Date(t).toLocaleTimeString("en-GB");
  const set = (id, text) => {
    $(id).textContent = text;
  };

  let points = [];

  // --- tiles and the fast/slow bar -----------------------------------------------
  function renderTotals(ev) {
    const { info, totals: t, point: p, states } = ev;
    set("mode", info.mode);
    set(
      "info",
      `${info.rate} msg/s · ${info.payloadBytes}-byte payloads` +
        (info.mode === "queue"
          ? ` · queue ${info.maxsize} · drop-limit ${info.dropLimit}/10 s`
          : "") +
        ` · up ${t.uptimeSec} s` +
        (info.instance ? ` · process ${info.instance}` : ""),
    );
    set("clients", num(t.clients));
    set("connects", `${num(t.connects)} connections`);
    set("pub-rate", num(p.publishRate));
    set(
      "pub-lag",
      t.publisherLagMs > 0
        ? `behind by ${ms(t.publisherLagMs)}`
        : "on schedule",
    );
    set("del-rate", num(p.deliveryRate));
    set("del-total", `${num(t.delivered)} total`);
    set("drop-rate", num(p.dropRate));
    set(
      "drop-total",
      `${num(t.dropped)} total` + (t.shed > 0 ? ` · ${num(t.shed)} shed` : ""),
    );
    $("overload").hidden = !t.overloaded;
    set("e2e-p99", ms(p.e2e[2]));
    set("e2e-p50", `p50 ${ms(p.e2e[0])}, p95 ${ms(p.e2e[1])}`);
    set("queued", num(t.queued));
    set("buffered", `${bytes(t.bufferedBytes)} buffered`);
    const reasons = Object.entries(t.disconnects);
    set("disconnects", num(reasons.reduce((n, [, v]) => n + v, 0)));
    set("disconnect-reasons", reasons.map(([k, v]) => `${k} ${v}`).join(" · "));
    set("rss", bytes(t.rssBytes));
    set("loop-lag", `loop lag ${ms(t.loopLagMs)}`);
    const total = Math.max(1, states.ok + states.backlogged + states.dropping);
    for (const s of ["ok", "backlogged", "dropping"]) {
      document.querySelector(`#state-bar .${s}`).style.width = `${
        (100 * states[s]) / total
      }%`;
      set(`n-${s}`, num(states[s]));
    }
  }

  // --- the client table ----------------------------------------------------------
  function cell(tr, text, cls) {
    const td = tr.insertCell();
    td.textContent = text;
    if (cls) td.className = cls;
    return td;
  }
  function renderTable(table) {
    pages = table.pages;
    view.page = table.view.page;
    const body = document.querySelector("#clients-table tbody");
    const rows = document.createDocumentFragment();
    for (const r of table.rows) {
      const tr = document.createElement("tr");
      tr.dataset.id = r.id;
      tr.className = `row-${r.state}`;
      cell(tr, r.id, "id");
      cell(tr, r.remote, "remote muted");
      const badge = document.createElement("span");
      badge.className = `state ${r.state}`;
      badge.textContent = r.tier ? `${r.state} · ${r.tier}` : r.state;
      cell(tr, "", "state-cell").append(badge);
      cell(tr, num(r.queue), "num queue");
      cell(tr, bytes(r.bufferedBytes), "num buffered");
      cell(tr, num(r.sent), "num sent");
      cell(tr, num(r.drops), "num drops");
      cell(tr, r.dropRate.toFixed(1), "num drop-rate");
      cell(tr, ms(r.sendP99Ms), "num send");
      cell(tr, ms(r.e2eP99Ms), "num e2e");
      cell(tr, `${r.ageSec.toFixed(0)} s`, "num age");
      rows.append(tr);
    }
    body.replaceChildren(rows);
    set("table-count", `(${num(table.total)})`);
    set("page-info", `page ${table.view.page + 1} of ${table.pages}`);
    $("prev").disabled = table.view.page === 0;
    $("next").disabled = table.view.page >= table.pages - 1;
    for (
      const th of document.querySelectorAll("#clients-table th[data-sort]")
    ) {
      const on = th.dataset.sort === view.sort;
      th.classList.toggle("sorted", on);
      th.dataset.arrow = on ? (view.dir === "desc" ? "▼" : "▲") : "";
    }
  }

  // --- the disconnect log ----------------------------------------------------------
  function renderLog(entries) {
    const body = document.querySelector("#log-table tbody");
    for (const e of entries) {
      const tr = document.createElement("tr");
      tr.dataset.id = e.id;
      tr.className = e.reason.startsWith("slow") ? "row-dropping" : "";
      cell(tr, time(e.t));
      cell(tr, e.id, "id");
      cell(tr, String(e.code), "num code");
      cell(tr, e.reason, "reason");
      cell(tr, e.detail, "detail");
      cell(tr, num(e.drops), "num");
      body.prepend(tr);
    }
    while (body.rows.length > MAX_LOG) body.deleteRow(-1);
  }

  // --- the feed ------------------------------------------------------------------
  function onEvent(ev) {
    if (ev.history) {
      points = ev.history.slice(-MAX_POINTS);
      document.querySelector("#log-table tbody").replaceChildren();
    } else if (!points.length || points[points.length - 1].t < ev.point.t) {
      points.push(ev.point);
      if (points.length > MAX_POINTS) points.shift();
    }
    fanoutCharts.draw(points);
    renderTotals(ev);
    renderTable(ev.table);
    renderLog(ev.log);
  }
  function connect() {
    if (source) source.close();
    const q = new URLSearchParams(
      Object.entries(view).map(([k, v]) => [k, String(v)]),
    );
    source = new EventSource(`/events?${q}`);
    source.onopen = () => {
      set("conn", "● live");
      $("conn").className = "conn live";
    };
    source.onerror = () => {
      set("conn", "reconnecting…");
      $("conn").className = "conn";
    };
    source.onmessage = (e) => onEvent(JSON.parse(e.data));
  }
  for (const th of document.querySelectorAll("#clients-table th[data-sort]")) {
    th.addEventListener("click", () => {
      if (view.sort === th.dataset.sort) {
        view.dir = view.dir === "desc" ? "asc" : "desc";
      } else {Object.assign(view, {
          sort: th.dataset.sort,
          dir: th.dataset.sort === "id" ? "asc" : "desc",
        });}
      view.page = 0;
      connect();
    });
  }
  $("prev").addEventListener("click", () => {
    view.page = Math.max(0, view.page - 1);
    connect();
  });
  $("next").addEventListener("click", () => {
    view.page = Math.min(pages - 1, view.page + 1);
    connect();
  });
  $("filter").addEventListener("change", (e) => {
    Object.assign(view, { filter: e.target.value, page: 0 });
    connect();
  });
  $("size").addEventListener("change", (e) => {
    Object.assign(view, { size: Number(e.target.value), page: 0 });
    connect();
  });
  connect();
})();
