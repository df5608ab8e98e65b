/**
 * The Redis broker's Lua scripts: each runs atomically inside Redis, so every
 * node agrees on a channel's epoch and seq. Per channel there are two keys
 * with the channel in a hash tag (one cluster slot): a hash `…:meta`
 * (`e` = epoch `<generation>.<name>`, `s` = last seq) and a capped stream `…:stream` whose entry
 * ids are the seqs (`<seq>-0`), each entry holding the frame after its seq
 * (`f`, see `frameRest`) and the conflation key (`k`, when there is one);
 * an idempotency key of the channel has the same hash tag. Every
 * per-channel script touches only those ({@link SCRIPT_KEYS}), so it runs
 * on Redis Cluster too (no CROSSSLOT).
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
 * Lua shared by the scripts that create an epoch. Its generation is the
 * largest of: the engine's clock in ms (so an epoch made after a failover to
 * a replica that missed the last renumber is still newer than every epoch
 * made before), one more than the generation of the channel's current epoch
 * (the one it replaces: two epochs in one ms still differ — it is kept in
 * the channel's own meta, so no key outside the channel's hash tag is
 * touched), and one more than the highest generation the calling node has
 * seen on any channel or from any client (an engine restarted empty, a
 * channel expired, or a clock behind).
 */
const NEXT_EPOCH = `
local function generation(epoch)
  return tonumber(string.match(epoch or '', '^(%d+)%.') or '0')
end

local function nextEpoch(current, seen, suffix)
  local t = redis.call('TIME')
  local clock = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
  local g = math.max(clock, generation(current) + 1, seen + 1)
  return string.format('%d', g) .. '.' .. suffix
end
`;

/**
 * Publishes a batch. KEYS: meta, stream, and the idempotency key's name
 * when the publisher gave one. ARGV: pub/sub subject, stream
 * length, TTL seconds, a random name for a new epoch if the channel needs
 * one, the epoch and seq this node last saw on the channel (`""`, `0` when
 * none), the highest generation this node has seen, the idempotency
 * window in seconds, then `key, rest` per message. An idempotency key
 * already stored answers with the position it stored (nothing published:
 * `duplicate` = 1); otherwise the new position is stored under it for the
 * window, in the same atomic step as the publish. A channel without meta gets a new epoch; so does one
 * whose meta is in the epoch this node saw but behind the seq it saw (the
 * engine lost its tail: restart without persistence, or a failover to a
 * replica that missed it), and one whose epoch is older than the one this
 * node saw (a replica that missed a renumber: nodes would discard what is
 * published there) — a seq is never reused under an old epoch.
 * Each message is appended with its seq as the entry id and published as
 * `epoch:seq:` + its frame (+ `\0` + key). Returns `{first, last, epoch,
 * renumbered}`.
 */
export const PUBLISH_LUA = NEXT_EPOCH + `
local meta, stream = KEYS[1], KEYS[2]
local subject, maxlen, ttl = ARGV[1], ARGV[2], tonumber(ARGV[3])
local suffix, seenEpoch, seenSeq = ARGV[4], ARGV[5], tonumber(ARGV[6])
local seenGen = tonumber(ARGV[7])
local idem = KEYS[3]
if idem then
  local stored = redis.call('GET', idem)
  if stored then
    local a, b, e = string.match(stored, '^(%d+):(%d+):(.*)$')
    return { tonumber(a), tonumber(b), e, 0, 1 }
  end
end
local epoch = redis.call('HGET', meta, 'e')
local top = tonumber(redis.call('HGET', meta, 's') or '0')
local renumbered = 0
if (not epoch) or (epoch == seenEpoch and top < seenSeq)
    or generation(epoch) < generation(seenEpoch) then
  if epoch then renumbered = 1 end
  epoch = nextEpoch(epoch, seenGen, suffix)
  top = 0
  redis.call('DEL', stream)
  redis.call('HSET', meta, 'e', epoch)
end
local n = (#ARGV - 8) / 2
for i = 0, n - 1 do
  local seq = top + 1 + i
  local key, rest = ARGV[9 + 2 * i], ARGV[10 + 2 * i]
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
if idem then
  redis.call('SET', idem, (top + 1) .. ':' .. (top + n) .. ':' .. epoch,
    'EX', tonumber(ARGV[8]))
end
return { top + 1, top + n, epoch, renumbered, 0 }
`;

/**
 * Lua shared by the scripts that compare a node's marks with the stream:
 * whether any `seq, sha1` pair of ARGV from `from` on names an entry whose
 * frame (`f`) hashes otherwise — a position the engine lost and a peer
 * published at again. An entry no longer in the stream (trimmed, or past
 * the top) tells nothing.
 */
const DIVERGES = `
local function diverges(stream, from)
  for i = from, #ARGV - 1, 2 do
    local id = ARGV[i] .. '-0'
    local entry = redis.call('XRANGE', stream, id, id)[1]
    local fields = entry and entry[2] or {}
    for j = 1, #fields, 2 do
      if fields[j] == 'f' and redis.sha1hex(fields[j + 1]) ~= ARGV[i + 1] then
        return true
      end
    end
  end
  return false
end
`;

/**
 * A node starts following a channel, or compares its position with the
 * engine after an outage: creates the channel's epoch if it has none (so
 * every subscriber learns one) and returns `{epoch, seq, diverged}`.
 * KEYS: meta, stream. ARGV: a random name for a new epoch, TTL seconds, the
 * highest generation this node has seen, the epoch the node follows, then
 * `seq, sha1` per message it handed over before the engine went away
 * (see `markOf`). `diverged` is 1 when the channel is still in that epoch
 * and its stream holds another message at one of those seqs.
 */
export const JOIN_LUA = NEXT_EPOCH + DIVERGES + `
local meta, stream = KEYS[1], KEYS[2]
if not redis.call('HGET', meta, 'e') then
  local epoch = nextEpoch(nil, tonumber(ARGV[3]), ARGV[1])
  redis.call('HSET', meta, 'e', epoch, 's', 0)
  redis.call('EXPIRE', meta, tonumber(ARGV[2]))
end
local m = redis.call('HMGET', meta, 'e', 's')
local diverged = 0
if stream and m[1] == ARGV[4] and diverges(stream, 5) then diverged = 1 end
return { m[1], tonumber(m[2] or '0'), diverged }
`;

/**
 * Gives a channel a new epoch when its stream really went backwards or
 * holds other messages than a node handed over: compare-and-set on the
 * epoch (whose name holds its generation) and on the stream — only while
 * its epoch is still ARGV[1] and either its top is still below ARGV[5], the
 * seq the node had as of the moment it asked, or an entry still differs
 * from one of the node's marks. Another node's renumber, or an engine that
 * caught up meanwhile, leaves it alone. A channel without meta gets a new
 * epoch as in JOIN. KEYS: meta, stream. ARGV: the epoch found to have
 * regressed, a random name for the new epoch, TTL seconds, the highest
 * generation this node has seen, the node's seq, then `seq, sha1` per mark.
 * Returns `{epoch, seq}` after.
 */
export const RENUMBER_LUA = NEXT_EPOCH + DIVERGES + `
local meta, stream = KEYS[1], KEYS[2]
local m = redis.call('HMGET', meta, 'e', 's')
local top = tonumber(m[2] or '0')
if (not m[1]) or (m[1] == ARGV[1] and
    (top < tonumber(ARGV[5]) or diverges(stream, 6))) then
  local epoch = nextEpoch(m[1], tonumber(ARGV[4]), ARGV[2])
  redis.call('DEL', stream)
  redis.call('HSET', meta, 'e', epoch, 's', 0)
  redis.call('EXPIRE', meta, tonumber(ARGV[3]))
end
m = redis.call('HMGET', meta, 'e', 's')
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
  /** An idempotency key's name on this channel (same cluster slot). */
  readonly idempotency: (key: string) => string;
}

/**
 * The names of `channel`'s keys under `prefix`, with the channel in a hash
 * tag so all of them live in one cluster slot.
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
    idempotency: (key) => `${subject}:idem:${key}`,
  };
}

/**
 * The KEYS each per-channel script runs with, from the channel's names
 * (one place, so a test can check they share one cluster slot).
 */
export const SCRIPT_KEYS = {
  /** {@link PUBLISH_LUA}: meta, stream, and the idempotency key if any. */
  publish: (k: ChannelKeys, idempotencyKey?: string): string[] =>
    idempotencyKey === undefined
      ? [k.meta, k.stream]
      : [k.meta, k.stream, k.idempotency(idempotencyKey)],
  /** {@link JOIN_LUA}: meta, stream. */
  join: (k: ChannelKeys): string[] => [k.meta, k.stream],
  /** {@link RENUMBER_LUA}: meta, stream. */
  renumber: (k: ChannelKeys): string[] => [k.meta, k.stream],
  /** {@link READ_LUA}: meta, stream. */
  read: (k: ChannelKeys): string[] => [k.meta, k.stream],
} as const;

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

/**
 * The `(epoch, top)` of many channels at once, for the periodic check.
 * KEYS: their meta hashes — of many channels, so of many cluster slots: the
 * one script that would need its batch split per slot on Redis Cluster. Returns `{epoch, top, epoch, top, …}` (`""`, 0
 * for a channel without meta).
 */
export const CHECK_LUA = `
local out = {}
for i, meta in ipairs(KEYS) do
  local m = redis.call('HMGET', meta, 'e', 's')
  out[2 * i - 1] = m[1] or ''
  out[2 * i] = tonumber(m[2] or '0')
end
return out
`;
