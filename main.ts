/**
 * `fanout`: one executable, three tools on one core.
 *
 *   fanout server     the fanout server (naive or queue mode)
 *   fanout clientsim  fast and slow simulated clients, with statistics
 *   fanout demo       naive vs queue side by side, in numbers
 *
 * This file only dispatches; typed errors become exit codes here, in one place.
 *
 * @module
 */
import { UsageError } from "./lib/cli_args.ts";

/** A subcommand: takes its arguments, returns the exit code. */
type Command = (args: string[]) => Promise<number>;

/** The dispatch table, loaded lazily so each tool starts only what it needs. */
const COMMANDS: Record<
  string,
  { summary: string; load: () => Promise<Command> }
> = {
  server: {
    summary: "run the fanout server (--mode naive|queue)",
    load: async () => (await import("./server/cli.ts")).run,
  },
  clientsim: {
    summary:
      "simulate fast and slow WebSocket clients and report their latency",
    load: async () => (await import("./client/cli.ts")).run,
  },
  demo: {
    summary: "run naive and queue mode side by side and compare the numbers",
    load: async () => (await import("./demo/cli.ts")).run,
  },
};

/** Top-level help text. */
export function mainHelp(): string {
  const rows = Object.entries(COMMANDS).map(([name, c]) =>
    `  ${name.padEnd(10)} ${c.summary}`
  );
  return [
    "fanout — fan a message stream out to many WebSocket clients; never let a slow one hurt the rest",
    "",
    "Usage: fanout <command> [options]    (fanout <command> --help for its options)",
    "",
    "Commands:",
    ...rows,
    "",
    "Exit codes: 0 success, 1 runtime failure, 2 bad usage or configuration.",
  ].join("\n");
}

/**
 * Runs `fanout` with `args`.
 * @returns the process exit code
 */
export async function main(args: readonly string[]): Promise<number> {
  const [name, ...rest] = args;
  if (
    name === undefined || name === "--help" || name === "-h" || name === "help"
  ) {
    console.log(mainHelp());
    return name === undefined ? 2 : 0;
  }
  const command = COMMANDS[name];
  if (!command) {
    console.error(
      `fanout: unknown command '${name}'; expected one of ${
        Object.keys(COMMANDS).join(", ")
      } (see 'fanout --help')`,
    );
    return 2;
  }
  try {
    return await (await command.load())(rest);
  } catch (err) {
    if (err instanceof UsageError) {
      console.error(err.message);
      return 2;
    }
    console.error(
      `fanout ${name}: ${err instanceof Error ? err.message : String(err)}`,
    );
    return 1;
  }
}

if (import.meta.main) {
  Deno.exit(await main(Deno.args));
}
