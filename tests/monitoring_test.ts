/**
 * docs/prometheus-alerts.yml and docs/grafana-dashboard.json against what
 * fanout exports: the real `promtool` checks and unit-tests the rules and
 * parses every dashboard query; every `fanout_*` name they read is a metric
 * a real server's `GET /metrics` has.
 */
import assert from "node:assert/strict";
import { parse } from "yaml";
import { CLOSE_CODES } from "../lib/close_codes.ts";
import { REPO_ROOT } from "./_cli.ts";
import { startTestServer } from "./_helpers.ts";
import { PROMTOOL, reportSkip } from "./_tools.ts";

reportSkip(
  "promtool checks of the alert rules and dashboard queries",
  PROMTOOL,
);

/** The broker and overload metrics: each must be watched by an alert and a panel. */
const WATCHED = [
  "fanout_broker_up",
  "fanout_overloaded",
  "fanout_shed_messages_total",
];
/** Not fanout's own, but every Prometheus target has it. */
const PROMETHEUS_OWN = ["up"];

const read = (path: string) => Deno.readTextFileSync(new URL(path, REPO_ROOT));
const ALERTS = parse(read("docs/prometheus-alerts.yml")) as {
  groups: { rules: { alert: string; expr: string }[] }[];
};
const DASHBOARD = JSON.parse(read("docs/grafana-dashboard.json"));
const PANELS: {
  type: string;
  id: number;
  title: string;
  datasource?: { uid: string };
  gridPos: { x: number; w: number };
  targets?: { refId: string; expr: string }[];
}[] = DASHBOARD.panels;
const QUERIES = PANELS.flatMap((p) => (p.targets ?? []).map((t) => t.expr));

/** Every metric name the server exports, with a histogram's series names. */
async function exportedNames(): Promise<Set<string>> {
  await using server = startTestServer({ rate: 10 });
  const text = await (await fetch(new URL("/metrics", server.httpUrl))).text();
  const names = new Set<string>();
  for (const m of text.matchAll(/^# TYPE (\w+) (\w+)$/gm)) {
    names.add(m[1]!);
    if (m[2] === "histogram") {
      for (const s of ["_bucket", "_sum", "_count"]) names.add(m[1]! + s);
    }
  }
  assert.ok(names.has("fanout_disconnects_total"));
  assert.match(
    text,
    /^fanout_disconnects_total\{reason="slow_drops",code="4000"\} /m,
  );
  return names;
}

/** Metric names an expression reads (identifiers before `{`, `[`, `)` or space that are not functions or labels). */
function metricsIn(expr: string): string[] {
  const noStrings = expr.replace(/"(?:[^"\\]|\\.)*"/g, '""');
  return [...noStrings.matchAll(/\b(fanout_\w+|up)\b(?!\s*\()/g)].map((m) =>
    m[1]!
  );
}

Deno.test("the alert rules and the dashboard read only metrics fanout exports", async () => {
  const allowed = await exportedNames();
  const rules = ALERTS.groups.flatMap((g) => g.rules);
  const unknown: string[] = [];
  for (const rule of rules) {
    for (const name of metricsIn(rule.expr)) {
      if (!allowed.has(name) && !PROMETHEUS_OWN.includes(name)) {
        unknown.push(`alert ${rule.alert}: ${name}`);
      }
    }
  }
  for (const expr of QUERIES) {
    for (const name of metricsIn(expr)) {
      if (!allowed.has(name)) unknown.push(`dashboard: ${name}`);
    }
  }
  assert.deepEqual(unknown, []);
  // The broker and overload metrics are each watched by an alert and a panel.
  for (const name of WATCHED) {
    assert.ok(rules.some((r) => metricsIn(r.expr).includes(name)), name);
    assert.ok(QUERIES.some((q) => metricsIn(q).includes(name)), name);
  }
});

Deno.test("the alerts cover slow-client cuts, the publisher, the event loop, rejections, the broker and overload", () => {
  const byName = new Map(
    ALERTS.groups.flatMap((g) => g.rules).map((r) => [r.alert, r.expr]),
  );
  const reads = (alert: string, metric: string) =>
    assert.ok(
      metricsIn(byName.get(alert) ?? "").includes(metric),
      `${alert} reads ${metric}`,
    );
  reads("FanoutSlowClientsCut", "fanout_disconnects_total");
  reads("FanoutPublisherBehind", "fanout_publisher_lag_seconds");
  reads("FanoutEventLoopLag", "fanout_event_loop_lag_seconds");
  reads("FanoutRejections", "fanout_rejections_total");
  reads("FanoutBrokerDown", "fanout_broker_up");
  reads("FanoutOverloaded", "fanout_overloaded");
  reads("FanoutShedding", "fanout_shed_messages_total");
});

/**
 * Whether the `fanout_disconnects_total{…}` selector in `expr` selects a
 * series with `labels` (PromQL matchers, regexes anchored; `$instance` and
 * labels the series lacks are left out).
 */
function selects(expr: string, labels: Record<string, string>): boolean {
  const selector = /fanout_disconnects_total\{([^}]*)\}/.exec(expr)?.[1];
  assert.ok(selector !== undefined, `a disconnects selector in ${expr}`);
  for (const m of selector.matchAll(/(\w+)\s*(=~|!~|!=|=)\s*"([^"]*)"/g)) {
    const [, name = "", op, value = ""] = m;
    if (!(name in labels)) continue;
    const got = labels[name]!;
    const hit = op === "=" || op === "!="
      ? got === value
      : new RegExp(`^(?:${value.replaceAll("\\\\", "\\")})$`).test(got);
    if (hit !== (op === "=" || op === "=~")) return false;
  }
  return true;
}

Deno.test("the slow-client alert and its panel count every cut a client may come back from (4000-4099, --max-lag's 4006 included) and nothing else", () => {
  const alert = ALERTS.groups.flatMap((g) => g.rules)
    .find((r) => r.alert === "FanoutSlowClientsCut")!.expr;
  const panel =
    PANELS.find((p) => p.title === "Slow clients cut per minute, by reason")!
      .targets![0]!.expr;
  const cuts = Object.entries(CLOSE_CODES).filter(([, c]) =>
    c.code >= 4000 && c.code < 4100
  );
  assert.ok(cuts.some(([reason]) => reason === "slow_lag"), "4006 is a cut");
  for (const [reason, { code }] of Object.entries(CLOSE_CODES)) {
    const labels = { reason, code: String(code) };
    const cut = code >= 4000 && code < 4100;
    assert.equal(selects(alert, labels), cut, `alert: ${reason} ${code}`);
    assert.equal(selects(panel, labels), cut, `panel: ${reason} ${code}`);
  }
});

Deno.test("the Grafana dashboard is well formed: unique ids, a Prometheus datasource input on every query, a 24-column grid, the panels the issue names", () => {
  assert.equal(DASHBOARD.__inputs[0].name, "DS_PROMETHEUS");
  const ids = PANELS.map((p) => p.id);
  assert.equal(new Set(ids).size, ids.length);
  for (const p of PANELS) {
    assert.ok(p.gridPos.x + p.gridPos.w <= 24, p.title);
    if (p.type === "row") continue;
    assert.equal(p.datasource?.uid, "${DS_PROMETHEUS}", p.title);
    const refs = (p.targets ?? []).map((t) => t.refId);
    assert.ok(refs.length > 0, `${p.title} has queries`);
    assert.equal(new Set(refs).size, refs.length, p.title);
  }
  const titles = PANELS.map((p) => p.title);
  for (
    const t of [
      "Slow clients cut per minute, by reason",
      "Publisher lag",
      "Event-loop lag",
      "Rejections / s, by reason",
      "Broker up",
      "Overloaded",
    ]
  ) assert.ok(titles.includes(t), t);
});

Deno.test({
  name:
    "promtool: the alert rules check and pass their unit tests; every dashboard query parses",
  ignore: PROMTOOL.missing !== undefined,
  async fn() {
    const promtool = async (args: string[], cwd = REPO_ROOT.pathname) => {
      const out = await new Deno.Command(PROMTOOL.path!, {
        args,
        cwd,
        stdout: "piped",
        stderr: "piped",
      }).output();
      const dec = new TextDecoder();
      return {
        code: out.code,
        text: dec.decode(out.stdout) + dec.decode(out.stderr),
      };
    };
    const check = await promtool([
      "check",
      "rules",
      "docs/prometheus-alerts.yml",
    ]);
    assert.equal(check.code, 0, check.text);
    assert.match(check.text, /SUCCESS: 10 rules found/);
    // As the README shows it, from the repository root.
    const unit = await promtool([
      "test",
      "rules",
      "docs/prometheus-alerts.test.yml",
    ]);
    assert.equal(unit.code, 0, unit.text);
    assert.match(unit.text, /SUCCESS/);
    // Each dashboard query as a recording rule, the $instance variable filled in.
    const dir = await Deno.makeTempDir({ prefix: "fanout-grafana-" });
    try {
      const rules = {
        groups: [{
          name: "dashboard",
          rules: QUERIES.map((expr, i) => ({
            record: `fanout_dashboard:q${i}`,
            expr: expr.replaceAll("$instance", ".*"),
          })),
        }],
      };
      await Deno.writeTextFile(`${dir}/dashboard.yml`, JSON.stringify(rules));
      const parsed = await promtool(["check", "rules", `${dir}/dashboard.yml`]);
      assert.equal(parsed.code, 0, parsed.text);
      assert.match(
        parsed.text,
        new RegExp(`SUCCESS: ${QUERIES.length} rules found`),
      );
    } finally {
      await Deno.remove(dir, { recursive: true });
    }
  },
});
