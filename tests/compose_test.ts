/**
 * The Docker Compose setup (Dockerfile, compose.yaml, docker/): images are
 * not built here (no registry is reachable), so the files are checked
 * instead — `docker-compose config` when Debian's docker-compose is
 * installed, and always: every file they mount or copy exists, the fanout
 * nodes' flags are ones `fanout server` accepts, Prometheus scrapes the job
 * the alert rules watch and loads them, Grafana gets the dashboard and the
 * data source it names.
 */
import assert from "node:assert/strict";
import { parse } from "yaml";
import { parseServerArgs } from "../server/config/args.ts";
import { REPO_ROOT } from "./_cli.ts";
import { findTool, reportSkip } from "./_tools.ts";

const COMPOSE_TOOL = findTool(
  "/usr/bin/docker-compose",
  "docker-compose",
  "apt-get install docker-compose",
);
reportSkip("the docker-compose config test", COMPOSE_TOOL);

const read = (path: string) => Deno.readTextFileSync(new URL(path, REPO_ROOT));
const exists = (path: string) => {
  try {
    Deno.statSync(new URL(path, REPO_ROOT));
    return true;
  } catch {
    return false;
  }
};

// deno-lint-ignore no-explicit-any
const COMPOSE: any = parse(read("compose.yaml"), { merge: true });

Deno.test({
  name: "docker-compose config accepts compose.yaml",
  ignore: COMPOSE_TOOL.missing !== undefined,
  async fn() {
    const run = await new Deno.Command(COMPOSE_TOOL.path!, {
      args: ["-f", "compose.yaml", "config", "-q"],
      cwd: REPO_ROOT,
      stdout: "piped",
      stderr: "piped",
    }).output();
    assert.equal(run.code, 0, new TextDecoder().decode(run.stderr));
  },
});

Deno.test("compose.yaml: Redis, Sentinel, two fanout nodes, Prometheus and Grafana, on pinned images, and every mounted file exists", () => {
  const services = COMPOSE.services as Record<string, Record<string, unknown>>;
  assert.deepEqual(Object.keys(services).sort(), [
    "fanout-a",
    "fanout-b",
    "grafana",
    "prometheus",
    "redis",
    "sentinel",
  ]);
  for (const [name, s] of Object.entries(services)) {
    const image = String(s.image ?? "");
    if (s.build === undefined) {
      assert.match(image, /:v?\d+\.\d+\.\d+(-\w+)?$/, `${name} pins its image`);
    }
    for (const volume of (s.volumes ?? []) as string[]) {
      const source = volume.split(":")[0]!;
      assert.ok(exists(source), `${name} mounts ${source}, which is missing`);
    }
  }
  const mounts = (name: string) =>
    new Map(
      (services[name]!.volumes as string[]).map((v) => {
        const [from, to] = v.split(":");
        return [from!, to!];
      }),
    );
  assert.equal(
    mounts("prometheus").get("./docs/prometheus-alerts.yml"),
    "/etc/prometheus/fanout-alerts.yml",
  );
  assert.equal(
    mounts("grafana").get("./docs/grafana-dashboard.json"),
    "/var/lib/grafana/dashboards/fanout.json",
  );
});

Deno.test("compose.yaml: each fanout node's command is one `fanout server` accepts, on the Redis broker, with a drain shorter than the stop grace period", async () => {
  for (const name of ["fanout-a", "fanout-b"]) {
    const node = COMPOSE.services[name];
    const [command, ...args] = node.command as string[];
    assert.equal(command, "server");
    const parsed = await parseServerArgs(args);
    assert.equal(parsed.help, false);
    if (parsed.help) continue;
    const { config } = parsed;
    assert.equal(config.broker.url, "redis://redis:6379");
    assert.ok(config.channels.history > 0, "history to resume from");
    const grace = Number(/^(\d+)s$/.exec(node.stop_grace_period)![1]) * 1000;
    assert.ok(config.limits.drainMs < grace, `${name}: drain within grace`);
  }
});

Deno.test("Prometheus scrapes the job the alert rules watch and loads them; Grafana's data source uid is the one the dashboard names", () => {
  // deno-lint-ignore no-explicit-any
  const prom: any = parse(read("docker/prometheus.yml"));
  assert.deepEqual(prom.rule_files, ["/etc/prometheus/fanout-alerts.yml"]);
  const job = prom.scrape_configs[0];
  assert.equal(job.job_name, "fanout");
  assert.match(read("docs/prometheus-alerts.yml"), /job="fanout"/);
  assert.deepEqual(job.static_configs[0].targets, [
    "fanout-a:8765",
    "fanout-b:8765",
  ]);
  // deno-lint-ignore no-explicit-any
  const ds: any = parse(read("docker/grafana/datasources.yml"));
  const uid = String(ds.datasources[0].uid).replaceAll("$$", "$");
  const dashboard = read("docs/grafana-dashboard.json");
  assert.ok(dashboard.includes(`"uid": "${uid}"`), uid);
  // deno-lint-ignore no-explicit-any
  const boards: any = parse(read("docker/grafana/dashboards.yml"));
  assert.equal(boards.providers[0].options.path, "/var/lib/grafana/dashboards");
});

Deno.test("Dockerfile: the official Deno image at a pinned version, every COPY source exists, and it runs with deno.json's fanout permissions", () => {
  const text = read("Dockerfile");
  assert.match(text, /^FROM denoland\/deno:\d+\.\d+\.\d+$/m);
  for (const m of text.matchAll(/^COPY (.+) \S+$/gm)) {
    for (const source of m[1]!.split(/\s+/)) {
      assert.ok(exists(source), `COPY ${source}: missing`);
    }
  }
  assert.match(
    text,
    /ENTRYPOINT \["deno", "run", "-q", "-P=fanout", "main.ts"\]/,
  );
  const config = JSON.parse(read("deno.json"));
  assert.ok(
    config.permissions.fanout,
    "deno.json has the fanout permission set",
  );
});
