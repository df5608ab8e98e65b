/**
 * `fanout demo`: naive mode, queue mode, queue mode on the ladder, then the
 * comparison.
 *
 * @module
 */
import { lineWriter, LiveLine, stdoutWriter } from "../lib/live_line.ts";
import { demoChoiceExplained, demoHelp, parseDemoArgs } from "./options.ts";
import { formatComparison, ladderVerdict, verdict } from "./report.ts";
import { runScenario } from "./scenario.ts";

/**
 * Runs the demo subcommand. On a terminal each mode's progress redraws in
 * place once a second and its last state stays on screen; otherwise (a pipe,
 * a file, `--json`) progress is one plain line a second.
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
  const print = o.json
    ? (s: string) => console.error(s)
    : (s: string) => console.log(s);
  const tty = !o.json && Deno.stdout.isTerminal();
  const live = new LiveLine({
    tty,
    write: tty ? stdoutWriter() : lineWriter(print),
  });
  const say = (s: string) => live.line(s);
  const progress = (s: string) => live.status(s);
  say(demoChoiceExplained(o));
  say("");
  say(
    `1/3 NAIVE mode: each message is sent to each client in turn, waiting for each.`,
  );
  const naive = await runScenario("naive", o, progress);
  live.commit();
  say("");
  say(`2/3 QUEUE mode: each client has its own bounded queue and writer.`);
  const queue = await runScenario("queue", o, progress);
  live.commit();
  say("");
  say(
    `3/3 LADDER (queue mode, --policy ladder): the same slow client, served a tier instead of cut.`,
  );
  const ladder = await runScenario("ladder", o, progress);
  live.commit();
  const lines = [...verdict(naive, queue), ladderVerdict(queue, ladder)];
  if (o.json) {
    console.log(
      JSON.stringify(
        { options: o, naive, queue, ladder, verdict: lines },
        null,
        2,
      ),
    );
  } else {
    say("");
    say(formatComparison(naive, queue, ladder));
    say("");
    for (const l of lines) say(l);
  }
  return 0;
}
