/**
 * Redis Sentinel: `redis+sentinel://[user:pass@]host:port[,host:port…]/NAME[/DB]`
 * names the sentinels and the monitored primary; the broker asks a sentinel
 * where the primary is (`SENTINEL GET-MASTER-ADDR-BY-NAME`), connects there,
 * and asks again when a sentinel announces a failover (`+switch-master` on
 * its pub/sub) and every second besides, in case that announcement was
 * missed — a new answer (a failover) is an outage followed by a resync on
 * the new primary (`redis_connection.ts`). The credentials and database are
 * the primary's; sentinels are asked without.
 *
 * @module
 */
import { createClient } from "@redis/client";

/** A parsed `redis+sentinel://` URL. */
export interface SentinelTarget {
  /** The sentinels, as given. */
  readonly nodes: readonly { readonly host: string; readonly port: number }[];
  /** The monitored primary's name. */
  readonly name: string;
  /** `user:pass@` for the primary, or "". */
  readonly auth: string;
  /** `/DB`, or "". */
  readonly db: string;
}

const SENTINEL_URL =
  /^redis\+sentinel:\/\/(?:([^@/]*)@)?([^/@]+)\/([A-Za-z0-9_.-]+)(\/\d{1,2})?$/;

/**
 * Parses a `redis+sentinel://` URL.
 * @returns undefined when `text` is not one (or not well formed)
 * @example
 * ```ts
 * import { parseSentinelUrl } from "./redis_sentinel.ts";
 * const t = parseSentinelUrl("redis+sentinel://a:26379,b:26380/mymaster/2");
 * if (t?.nodes.length !== 2 || t.nodes[1]!.port !== 26380 || t.name !== "mymaster" || t.db !== "/2") {
 *   throw new Error(JSON.stringify(t));
 * }
 * ```
 */
export function parseSentinelUrl(text: string): SentinelTarget | undefined {
  const m = SENTINEL_URL.exec(text);
  if (!m) return undefined;
  const nodes = [];
  for (const part of m[2]!.split(",")) {
    const hp = /^(\[[0-9a-fA-F:]+\]|[^:\s,]+)(?::(\d{1,5}))?$/.exec(part);
    const port = Number(hp?.[2] ?? 26379);
    if (!hp || port < 1 || port > 65535) return undefined;
    nodes.push({ host: hp[1]!, port });
  }
  return { nodes, name: m[3]!, auth: m[1] ? `${m[1]}@` : "", db: m[4] ?? "" };
}

/** A client to one sentinel. */
function sentinelClient(host: string, port: number, timeoutMs: number) {
  return createClient({
    RESP: 2,
    disableOfflineQueue: true,
    socket: {
      host: host.replace(/^\[|\]$/g, ""),
      port,
      connectTimeout: timeoutMs,
      reconnectStrategy: false,
    },
  });
}
type SentinelClient = ReturnType<typeof sentinelClient>;

/** Asks the sentinels, one after another, where the primary is. */
export class MasterResolver {
  readonly #target: SentinelTarget;
  readonly #timeoutMs: number;
  /** The sentinel asked last (the next to ask first). */
  #at = 0;
  #client: SentinelClient | undefined;
  /** The pub/sub connection to a sentinel, listening for `+switch-master`. */
  #watcher: SentinelClient | undefined;

  /**
   * @param target the sentinels and the primary's name
   * @param timeoutMs how long one sentinel may take to answer, ms
   */
  constructor(target: SentinelTarget, timeoutMs: number) {
    this.#target = target;
    this.#timeoutMs = timeoutMs;
  }

  /**
   * The primary's `redis://` URL now, from the first sentinel that
   * answers; undefined when none does (the broker stays down and asks
   * again).
   */
  async resolve(): Promise<string | undefined> {
    const { nodes, name, auth, db } = this.#target;
    for (let tried = 0; tried < nodes.length; tried++) {
      try {
        const client = await this.#connect();
        const reply = await client.withCommandOptions({
          timeout: this.#timeoutMs,
        }).sendCommand(["SENTINEL", "GET-MASTER-ADDR-BY-NAME", name]);
        if (!Array.isArray(reply) || reply.length < 2) return undefined;
        const host = String(reply[0]);
        const bracketed = host.includes(":") ? `[${host}]` : host;
        return `redis://${auth}${bracketed}:${String(reply[1])}${db}`;
      } catch {
        this.#drop();
        this.#at = (this.#at + 1) % nodes.length;
      }
    }
    return undefined;
  }

  /**
   * Listens for a sentinel's `+switch-master` announcing that this
   * primary moved, and calls `onSwitch` then. Best effort: a watch that
   * failed or whose sentinel went away is set up again by the next call
   * (made after every lookup), and lookups go on besides.
   */
  async watch(onSwitch: () => void): Promise<void> {
    if (this.#watcher) return;
    const { nodes, name } = this.#target;
    const node = nodes[this.#at]!;
    const watcher = sentinelClient(node.host, node.port, this.#timeoutMs);
    this.#watcher = watcher;
    const lost = () => {
      if (this.#watcher !== watcher) return;
      this.#watcher = undefined;
      try {
        watcher.destroy();
      } catch { /* already closed */ }
    };
    watcher.on("error", lost);
    watcher.on("end", lost);
    try {
      await watcher.connect();
      // `<name> <old ip> <old port> <new ip> <new port>`
      await watcher.subscribe("+switch-master", (message: string) => {
        if (message.split(" ")[0] === name) onSwitch();
      });
    } catch {
      lost();
    }
  }

  /** Closes the connections to the sentinels. */
  close(): void {
    this.#drop();
    const watcher = this.#watcher;
    this.#watcher = undefined;
    try {
      watcher?.destroy();
    } catch { /* already closed */ }
  }

  async #connect(): Promise<SentinelClient> {
    if (this.#client?.isReady) return this.#client;
    this.#drop();
    const node = this.#target.nodes[this.#at]!;
    const client = sentinelClient(node.host, node.port, this.#timeoutMs);
    client.on("error", () => {});
    this.#client = client;
    await client.connect();
    return client;
  }

  #drop(): void {
    const client = this.#client;
    this.#client = undefined;
    try {
      client?.destroy();
    } catch { /* already closed */ }
  }
}
