/**
 * `fanout demo`: naive mode, then queue mode, then the comparison.
 *
 * @module
 */
import { demoChoiceExplained, demoHelp, parseDemoArgs } from "./options.ts";
import { formatComparison, verdict } from "./report.ts";
import { runScenario } from "./scenario.ts";

/**
 * Runs the demo subcommand.
 * @param args arguments after `demo`
 * @returns the exit code
 * @throws {UsageError} for bad flags
 */
export async function run(args: readonly string[]): Promise<number> {
  const parsed = parseDemoArgs(args);
  if (parsed.help) {
    console.log(demoHelp());
    return 0;
  }
  const o = parsed.options;
  // With --json, stdout carries only the JSON document.
  const say = o.json
    ? (s: string) => console.error(s)
    : (s: string) => console.log(s);
  say(demoChoiceExplained(o));
  say("");
  say(
    `1/2 NAIVE mode: each message is sent to each client in turn, waiting for each.`,
  );
  const naive = await runScenario("naive", o, say);
  say("");
  say(`2/2 QUEUE mode: each client has its own bounded queue and writer.`);
  const queue = await runScenario("queue", o, say);
  const lines = verdict(naive, queue);
  if (o.json) {
    console.log(
      JSON.stringify({ options: o, naive, queue, verdict: lines }, null, 2),
    );
  } else {
    say("");
    say(formatComparison(naive, queue));
    say("");
    for (const l of lines) say(l);
  }
  return 0;
}
