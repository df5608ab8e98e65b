/**
 * The Redis broker's Lua scripts: each runs atomically inside Redis, so every
 * node agrees on a channel's epoch and seq. Per channel there are two keys
 * with the channel in a hash tag (one cluster slot): a hash `…:meta`
 * (`e` = epoch, `s` = last seq) and a capped stream `…:stream` whose entry
 * ids are the seqs (`<seq>-0`), each entry holding the frame after its seq
 * (`f`, see `frameRest`) and the conflation key (`k`, when there is one).
 *
 * @module
 */
/** What running a script needs of a Redis client (node-redis' `evalSha`/`eval`). */
export interface ScriptClient {
  /** EVALSHA. */
  evalSha(
    sha: string,
    options: { keys: string[]; arguments: string[] },
  ): Promise<unknown>;
  /** EVAL. */
  eval(
    script: string,
    options: { keys: string[]; arguments: string[] },
  ): Promise<unknown>;
}

/**
 * Publishes a batch. KEYS: meta, stream. ARGV: pub/sub subject, stream
 * length, TTL seconds, an epoch to use if the channel needs a new one, the
 * epoch and seq this node last saw on the channel (`""`, `0` when none),
 * then `key, rest` per message. A channel without meta gets the new epoch;
 * so does one whose meta is in the epoch this node saw but behind the seq it
 * saw (the engine lost its tail: restart without persistence, or a failover
 * to a replica that missed it) — a seq is never reused under an old epoch.
 * Each message is appended with its seq as the entry id and published as
 * `epoch:seq:` + its frame (+ `\0` + key). Returns `{first, last, epoch,
 * renumbered}`.
 */
export const PUBLISH_LUA = `
local meta, stream = KEYS[1], KEYS[2]
local subject, maxlen, ttl = ARGV[1], ARGV[2], tonumber(ARGV[3])
local fresh, seenEpoch, seenSeq = ARGV[4], ARGV[5], tonumber(ARGV[6])
local epoch = redis.call('HGET', meta, 'e')
local top = tonumber(redis.call('HGET', meta, 's') or '0')
local renumbered = 0
if (not epoch) or (epoch == seenEpoch and top < seenSeq) then
  if epoch then renumbered = 1 end
  epoch = fresh
  top = 0
  redis.call('DEL', stream)
  redis.call('HSET', meta, 'e', epoch)
end
local n = (#ARGV - 6) / 2
for i = 0, n - 1 do
  local seq = top + 1 + i
  local key, rest = ARGV[7 + 2 * i], ARGV[8 + 2 * i]
  local message = epoch .. ':' .. seq .. ':{"seq":' .. seq .. rest
  if key == '' then
    redis.call('XADD', stream, 'MAXLEN', maxlen, seq .. '-0', 'f', rest)
  else
    redis.call('XADD', stream, 'MAXLEN', maxlen, seq .. '-0', 'f', rest, 'k', key)
    message = message .. '\\0' .. key
  end
  redis.call('PUBLISH', subject, message)
end
redis.call('HSET', meta, 's', top + n)
redis.call('EXPIRE', meta, ttl)
redis.call('EXPIRE', stream, ttl)
return { top + 1, top + n, epoch, renumbered }
`;

/**
 * A node starts following a channel: creates its epoch if it has none (so
 * every subscriber learns one) and returns `{epoch, seq}`. KEYS: meta.
 * ARGV: a fresh epoch, TTL seconds.
 */
export const JOIN_LUA = `
local meta = KEYS[1]
if redis.call('HSETNX', meta, 'e', ARGV[1]) == 1 then
  redis.call('HSET', meta, 's', 0)
  redis.call('EXPIRE', meta, tonumber(ARGV[2]))
end
local m = redis.call('HMGET', meta, 'e', 's')
return { m[1], tonumber(m[2] or '0') }
`;

/**
 * Gives a channel a new epoch unless another node already did: only when
 * its epoch is still ARGV[1] (compare-and-set). KEYS: meta, stream. ARGV:
 * the epoch found to have regressed, the new epoch, TTL seconds. Returns
 * `{epoch, seq}` after.
 */
export const RENUMBER_LUA = `
local meta, stream = KEYS[1], KEYS[2]
if redis.call('HGET', meta, 'e') == ARGV[1] then
  redis.call('DEL', stream)
  redis.call('HSET', meta, 'e', ARGV[2], 's', 0)
  redis.call('EXPIRE', meta, tonumber(ARGV[3]))
end
local m = redis.call('HMGET', meta, 'e', 's')
return { m[1], tonumber(m[2] or '0') }
`;

/**
 * Reads seqs `from..to` of a channel's stream with its epoch, atomically, so
 * the entries belong to the epoch returned. KEYS: meta, stream. ARGV: from,
 * to. Returns `{epoch, top, id, rest, key, id, rest, key, …}` (`key` is `""`
 * when the entry has none).
 */
export const READ_LUA = `
local meta, stream = KEYS[1], KEYS[2]
local m = redis.call('HMGET', meta, 'e', 's')
local out = { m[1] or '', tonumber(m[2] or '0') }
local entries = redis.call('XRANGE', stream, ARGV[1] .. '-0', ARGV[2] .. '-0')
for _, entry in ipairs(entries) do
  local fields = entry[2]
  local rest, key = '', ''
  for i = 1, #fields, 2 do
    if fields[i] == 'f' then rest = fields[i + 1] end
    if fields[i] == 'k' then key = fields[i + 1] end
  end
  out[#out + 1] = entry[1]
  out[#out + 1] = rest
  out[#out + 1] = key
end
return out
`;

/** The Redis names of one channel: its two keys and its pub/sub subject. */
export interface ChannelKeys {
  /** The hash `e` (epoch), `s` (last seq). */
  readonly meta: string;
  /** The capped stream of its messages, entry ids = seqs. */
  readonly stream: string;
  /** The pub/sub subject its messages are published on. */
  readonly subject: string;
}

/**
 * The names of `channel`'s keys under `prefix`, with the channel in a hash
 * tag so both keys live in one cluster slot.
 *
 * @example
 * ```ts
 * import { channelKeys } from "./redis_scripts.ts";
 * const k = channelKeys("fanout", "prices");
 * if (k.meta !== "fanout:{prices}:meta") throw new Error(k.meta);
 * ```
 */
export function channelKeys(prefix: string, channel: string): ChannelKeys {
  const subject = `${prefix}:{${channel}}`;
  return {
    meta: `${subject}:meta`,
    stream: `${subject}:stream`,
    subject,
  };
}

/** A Lua script run by its SHA-1, loaded on first use (and again after a Redis restart). */
export class RedisScript {
  readonly #source: string;
  #sha: Promise<string> | undefined;

  /** @param source the Lua text */
  constructor(source: string) {
    this.#source = source;
  }

  /**
   * Runs the script with `keys` and `args`: EVALSHA, falling back to EVAL
   * when the server does not know it (a fresh or restarted Redis).
   * @returns the script's reply
   * @throws whatever the client throws (offline, a script error)
   */
  async run(
    client: ScriptClient,
    keys: readonly string[],
    args: readonly string[],
  ): Promise<unknown> {
    const options = { keys: [...keys], arguments: [...args] };
    this.#sha ??= sha1(this.#source);
    try {
      return await client.evalSha(await this.#sha, options);
    } catch (err) {
      if (!String((err as Error)?.message).startsWith("NOSCRIPT")) throw err;
      return await client.eval(this.#source, options);
    }
  }
}

async function sha1(text: string): Promise<string> {
  const digest = await crypto.subtle.digest(
    "SHA-1",
    new TextEncoder().encode(text),
  );
  return new Uint8Array(digest).toHex();
}
