/**
 * Counters, gauges and histograms rendered as Prometheus text (exposition
 * format 0.0.4). Nothing here sits in a message path: a metric is a
 * `collect` function that reads numbers the code already keeps, and text is
 * built only when scraped.
 *
 * @module
 */
import type { Histogram } from "./histogram.ts";

/** The `Content-Type` of {@link MetricsRegistry.render}'s output. */
export const PROMETHEUS_CONTENT_TYPE =
  "text/plain; version=0.0.4; charset=utf-8";

/** Label names to values of one series. */
export type Labels = Readonly<Record<string, string>>;

/** One series of a counter or gauge. */
export interface Sample {
  /** The series' labels; none when omitted. */
  readonly labels?: Labels;
  /** Its current value. */
  readonly value: number;
}

/** One series of a histogram: a {@link Histogram} of milliseconds, exported in seconds. */
export interface HistogramSample {
  /** The series' labels; none when omitted. */
  readonly labels?: Labels;
  /** The recorded values, ms. */
  readonly histogram: Histogram;
}

type Collect = () => number | Iterable<Sample>;
type CollectHistograms = () => Histogram | Iterable<HistogramSample>;
type Entry =
  | { name: string; help: string; type: "counter" | "gauge"; collect: Collect }
  | {
    name: string;
    help: string;
    type: "histogram";
    collect: CollectHistograms;
    bucketsSeconds: readonly number[];
  };

const NAME = /^[a-zA-Z_:][a-zA-Z0-9_:]*$/;
const LABEL = /^[a-zA-Z_][a-zA-Z0-9_]*$/;

/**
 * A set of metrics and their Prometheus text. Register once at start-up;
 * {@link render} reads every metric when scraped.
 *
 * @example
 * ```ts
 * import { MetricsRegistry } from "./metrics.ts";
 * const sent = { value: 0 };
 * const registry = new MetricsRegistry()
 *   .counter("demo_sent_total", "Frames sent.", () => sent.value)
 *   .gauge("demo_clients", "Clients connected.", () => [
 *     { labels: { mode: "queue" }, value: 3 },
 *   ]);
 * sent.value++;
 * const text = registry.render();
 * if (!text.includes("demo_sent_total 1\n")) throw new Error(text);
 * if (!text.includes('demo_clients{mode="queue"} 3\n')) throw new Error(text);
 * ```
 */
export class MetricsRegistry {
  readonly #entries: Entry[] = [];
  readonly #labels: Labels;

  /**
   * @param labels labels every series carries, before its own (a process's
   *   `instance_id`, say); none by default
   */
  constructor(labels: Labels = {}) {
    this.#labels = labels;
  }

  /**
   * Registers a counter (a value that only goes up; name ends in `_total`).
   * @throws {TypeError} for an invalid or duplicate name, or a counter name
   *   without `_total`
   */
  counter(name: string, help: string, collect: Collect): this {
    if (!name.endsWith("_total")) {
      throw new TypeError(
        `Cannot register counter ${name}: must end in _total`,
      );
    }
    return this.#add({ name, help, type: "counter", collect });
  }

  /**
   * Registers a gauge (a value that goes up and down).
   * @throws {TypeError} for an invalid or duplicate name
   */
  gauge(name: string, help: string, collect: Collect): this {
    return this.#add({ name, help, type: "gauge", collect });
  }

  /**
   * Registers a histogram of {@link Histogram}s (milliseconds), exported in
   * seconds with cumulative `le` buckets. Each `le` counts the values in the
   * internal bucket that holds it, so it may include values up to 4 % above.
   *
   * @param bucketsSeconds upper bounds, ascending; `+Inf` is added
   * @throws {TypeError} for an invalid or duplicate name, a name not ending
   *   in `_seconds`, or bounds that are not ascending
   */
  histogram(
    name: string,
    help: string,
    collect: CollectHistograms,
    bucketsSeconds: readonly number[],
  ): this {
    if (!name.endsWith("_seconds")) {
      throw new TypeError(
        `Cannot register histogram ${name}: must end in _seconds`,
      );
    }
    if (bucketsSeconds.some((b, i) => i > 0 && !(b > bucketsSeconds[i - 1]!))) {
      throw new TypeError(
        `Cannot register histogram ${name}: buckets must ascend`,
      );
    }
    return this.#add({
      name,
      help,
      type: "histogram",
      collect,
      bucketsSeconds,
    });
  }

  /** Names registered, in order. */
  get names(): string[] {
    return this.#entries.map((e) => e.name);
  }

  /** Reads every metric and returns the Prometheus text, ending with a newline. */
  render(): string {
    const out: string[] = [];
    for (const e of this.#entries) {
      out.push(
        `# HELP ${e.name} ${escapeHelp(e.help)}`,
        `# TYPE ${e.name} ${e.type}`,
      );
      if (e.type === "histogram") {
        renderHistograms(
          out,
          e.name,
          e.collect(),
          e.bucketsSeconds,
          this.#labels,
        );
      } else {
        const got = e.collect();
        for (const s of typeof got === "number" ? [{ value: got }] : got) {
          const labels = { ...this.#labels, ...s.labels };
          out.push(`${e.name}${labelText(labels)} ${formatValue(s.value)}`);
        }
      }
    }
    return out.join("\n") + "\n";
  }

  #add(entry: Entry): this {
    if (!NAME.test(entry.name)) {
      throw new TypeError(
        `Cannot register ${entry.name}: not a valid metric name`,
      );
    }
    if (this.#entries.some((e) => e.name === entry.name)) {
      throw new TypeError(`Cannot register ${entry.name}: already registered`);
    }
    this.#entries.push(entry);
    return this;
  }
}

function renderHistograms(
  out: string[],
  name: string,
  got: Histogram | Iterable<HistogramSample>,
  bucketsSeconds: readonly number[],
  common: Labels,
): void {
  const samples: Iterable<HistogramSample> = Symbol.iterator in got
    ? got
    : [{ histogram: got }];
  for (const { labels: own, histogram } of samples) {
    const labels = { ...common, ...own };
    for (const le of bucketsSeconds) {
      const n = histogram.countAtOrBelow(le * 1000);
      out.push(`${name}_bucket${labelText(labels, formatValue(le))} ${n}`);
    }
    out.push(`${name}_bucket${labelText(labels, "+Inf")} ${histogram.count}`);
    out.push(
      `${name}_sum${labelText(labels)} ${formatValue(histogram.sum / 1000)}`,
    );
    out.push(`${name}_count${labelText(labels)} ${histogram.count}`);
  }
}

/** `{a="1",b="2"}` (with `le` last when given), or "" without labels. */
function labelText(labels: Labels | undefined, le?: string): string {
  const parts: string[] = [];
  for (const [k, v] of Object.entries(labels ?? {})) {
    if (!LABEL.test(k) || k === "le") {
      throw new TypeError(`Cannot render label ${k}: not a valid label name`);
    }
    parts.push(`${k}="${escapeLabel(v)}"`);
  }
  if (le !== undefined) parts.push(`le="${le}"`);
  return parts.length ? `{${parts.join(",")}}` : "";
}

/** A sample value as Prometheus spells it (`+Inf`, `NaN`, integers without a dot). */
export function formatValue(v: number): string {
  if (Number.isNaN(v)) return "NaN";
  if (v === Infinity) return "+Inf";
  if (v === -Infinity) return "-Inf";
  return String(v);
}

function escapeLabel(v: string): string {
  return v.replace(/\\/g, "\\\\").replace(/\n/g, "\\n").replace(/"/g, '\\"');
}

function escapeHelp(v: string): string {
  return v.replace(/\\/g, "\\\\").replace(/\n/g, "\\n");
}
