/**
 * A deterministic simulated engine and node for the follower fault
 * simulator: the Redis scripts' rules (JOIN, PUBLISH, RENUMBER, READ,
 * CHECK; a new epoch's generation is above the channel's current one's, the
 * clock's and the node's) over plain maps, pub/sub with a client library that
 * drops a subject's listener when an UNSUBSCRIBE reply arrives (as
 * node-redis does), and one node driving the real {@link ChannelFollower}
 * and {@link Subscriptions}, and taking every JOIN and check reply with the
 * same decisions as `redis_channels.ts` ({@link applyJoinReply},
 * {@link applyCheckReply} of `server/broker/engine_reply.ts`): only the
 * I/O around them (commands, retries) is the simulator's. Every delay and
 * fault comes from one seeded PRNG, so a schedule replays exactly from its
 * seed.
 *
 * @module
 */
import { ChannelFollower } from "../server/broker/channel_follower.ts";
import {
  applyCheckReply,
  applyJoinReply,
  askedAt,
  type EarlyMessage,
  type JoinReply,
  type Lag,
  type Mark,
  markOf,
  type Renumber,
} from "../server/broker/engine_reply.ts";
import { Subscriptions } from "../server/broker/subscriptions.ts";
import { frameOf, type OutFrame } from "../server/core/frame.ts";
import { epochGeneration, isOlderEpoch } from "../lib/protocol.ts";

/** mulberry32: a small seeded PRNG. */
export function prng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** Virtual time: events run in (time, order) order; promises settle between them. */
export class SimClock {
  now = 0;
  #order = 0;
  readonly #events: { at: number; order: number; run: () => void }[] = [];

  /** Runs `run` `delay` virtual ms from now. */
  at(delay: number, run: () => void): void {
    this.#events.push({ at: this.now + delay, order: this.#order++, run });
  }

  /** Runs events (and the promise callbacks they start) until none is left before `until`. */
  async runUntil(until: number): Promise<void> {
    while (true) {
      await settle();
      let best = -1;
      for (let i = 0; i < this.#events.length; i++) {
        const e = this.#events[i]!;
        const b = this.#events[best];
        if (
          e.at <= until &&
          (!b || e.at < b.at || (e.at === b.at && e.order < b.order))
        ) best = i;
      }
      if (best < 0) break;
      const [e] = this.#events.splice(best, 1);
      this.now = Math.max(this.now, e!.at);
      e!.run();
    }
    this.now = Math.max(this.now, until);
    await settle();
  }
}

async function settle(): Promise<void> {
  for (let i = 0; i < 20; i++) await Promise.resolve();
}

/** Faults a schedule may inject, as probabilities per event. */
export interface Faults {
  /** A pub/sub message lost on its way. */
  readonly dropMessage: number;
  /** A command's reply lost (the command ran; the caller sees an error). */
  readonly dropReply: number;
  /**
   * A subject the engine forgets when the pub/sub connection comes back,
   * while the client library believes it still listens (deaf without an
   * error: what the check's `stuck` verdict and its renew are for).
   */
  readonly loseSubscription: number;
}

interface ChannelState {
  epoch: string;
  top: number;
  stream: Map<number, string>;
}

/** The engine: the scripts' rules over maps, and pub/sub. */
export class SimEngine {
  channels = new Map<string, ChannelState>();
  /** Subjects each node's pub/sub connection is subscribed to, in the engine. */
  readonly subscribed = new Map<SimNode, Set<string>>();
  /** A replica's copy, taken now and then: a failover goes back to it. */
  #replica: { channels: Map<string, ChannelState> } = { channels: new Map() };
  #suffix = 0;
  #published = 0;
  /** Which message each position was first delivered to a client as (`channel/epoch|seq` → content). */
  readonly delivered = new Map<string, string>();

  /** Copies the state to the replica (it then misses what comes after). */
  replicate(): void {
    this.#replica = { channels: cloneChannels(this.channels) };
  }

  /** When each message was published (virtual ms), by `channel/epoch|seq`. */
  readonly publishedAt = new Map<string, number>();

  /** Failovers and empty restarts so far: the only faults that may lose history. */
  losses = 0;

  /** A failover to the replica: the last writes are lost. */
  failover(): void {
    this.losses++;
    // Detecting a failed primary and promoting a replica takes seconds: the
    // new primary's clock is that much later than the last epoch made.
    this.skew += 1000;
    this.channels = cloneChannels(this.#replica.channels);
  }

  /** A restart without persistence. */
  restartEmpty(): void {
    this.losses++;
    this.skew += 1000; // a restart takes a while too
    this.channels.clear();
  }

  /** The engine's clock, ms: epochs' generations are at least it. */
  clock: () => number = () => 0;
  /** Time failovers took, ms (added to the clock). */
  skew = 0;

  /** A new epoch replacing `current` (none: `""`), as the scripts' `nextEpoch`. */
  #nextEpoch(current: string, seenGen: number): string {
    const g = Math.max(
      Math.floor(this.clock() + this.skew),
      epochGeneration(current) + 1,
      seenGen + 1,
    );
    return `${g}.s${this.#suffix++}`;
  }

  /** JOIN: creates the epoch if none; `diverged` as the script compares `marks` in `asked`. */
  join(
    channel: string,
    seenGen: number,
    asked = "",
    marks: readonly Mark[] = [],
  ): JoinReply {
    let c = this.channels.get(channel);
    if (!c) {
      c = { epoch: this.#nextEpoch("", seenGen), top: 0, stream: new Map() };
      this.channels.set(channel, c);
    }
    const diverged = c.epoch === asked && this.#diverges(channel, c, marks);
    return { epoch: c.epoch, top: c.top, diverged };
  }

  /** Whether an entry of the stream hashes otherwise than a mark (the scripts' `diverges`). */
  #diverges(
    channel: string,
    c: ChannelState,
    marks: readonly Mark[],
  ): boolean {
    return marks.some((m) => {
      const data = c.stream.get(m.seq);
      return data !== undefined &&
        markOf(simFrame(channel, m.seq, data)).hash !== m.hash;
    });
  }

  publish(
    channel: string,
    seen: { epoch: string; seq: number },
    seenGen: number,
  ): { epoch: string; seq: number } {
    let c = this.channels.get(channel);
    if (
      !c || (c.epoch === seen.epoch && c.top < seen.seq) ||
      isOlderEpoch(c.epoch, seen.epoch)
    ) {
      c = {
        epoch: this.#nextEpoch(c?.epoch ?? "", seenGen),
        top: 0,
        stream: new Map(),
      };
      this.channels.set(channel, c);
    }
    const seq = ++c.top;
    this.publishedAt.set(`${channel}/${c.epoch}|${seq}`, this.clock());
    // Each message its own content: a position reused after a failover
    // (the same epoch and seq for another message) is then visible.
    const data = `${c.epoch}|${seq}|m${this.#published++}`;
    c.stream.set(seq, data);
    for (const [node, subjects] of this.subscribed) {
      if (subjects.has(channel)) node.pubsub.deliver(channel, data);
    }
    return { epoch: c.epoch, seq };
  }

  renumber(
    channel: string,
    old: string,
    asOf: number,
    seenGen: number,
    marks: readonly Mark[] = [],
  ): [string, number] {
    const c = this.channels.get(channel);
    if (
      !c ||
      (c.epoch === old && (c.top < asOf || this.#diverges(channel, c, marks)))
    ) {
      this.channels.set(channel, {
        epoch: this.#nextEpoch(c?.epoch ?? "", seenGen),
        top: 0,
        stream: new Map(),
      });
    }
    const now = this.channels.get(channel)!;
    return [now.epoch, now.top];
  }

  read(channel: string, from: number, to: number) {
    const c = this.channels.get(channel);
    if (!c) return { epoch: "", top: 0, frames: [] as OutFrame[] };
    const frames: OutFrame[] = [];
    for (let s = from; s <= to; s++) {
      const data = c.stream.get(s);
      if (data !== undefined) frames.push(simFrame(channel, s, data));
    }
    return { epoch: c.epoch, top: c.top, frames };
  }

  /** The content the engine holds at `seq` of `channel`'s current epoch. */
  message(channel: string, seq: number): string | undefined {
    return this.channels.get(channel)?.stream.get(seq);
  }

  meta(channel: string): { epoch: string; top: number } {
    const c = this.channels.get(channel);
    return c ? { epoch: c.epoch, top: c.top } : { epoch: "", top: 0 };
  }
}

function cloneChannels(m: Map<string, ChannelState>) {
  const out = new Map<string, ChannelState>();
  for (const [k, v] of m) out.set(k, { ...v, stream: new Map(v.stream) });
  return out;
}

/** A frame whose data names its true `(epoch, seq)`, so a client can tell a splice. */
export function simFrame(channel: string, seq: number, data: string): OutFrame {
  return frameOf(
    channel,
    seq,
    { tsSend: 1, dataJson: JSON.stringify(data) },
    0,
  );
}

/**
 * A node's pub/sub connection as node-redis behaves: a SUBSCRIBE for a
 * subject the library still lists (its UNSUBSCRIBE reply not back yet)
 * is not sent, and the UNSUBSCRIBE reply then drops the listener.
 */
class SimPubSub {
  /** Subjects the library believes it listens to. */
  readonly listening = new Set<string>();
  readonly #unsubscribing = new Set<string>();
  #lastDelivery = 0;
  #generation = 0;

  constructor(readonly node: SimNode) {}

  subscribe(subject: string): Promise<void> {
    const { clock, engine, rand } = this.node;
    if (this.listening.has(subject)) return Promise.resolve(); // the library's shortcut
    const gen = this.#generation;
    const { promise, resolve, reject } = Promise.withResolvers<void>();
    clock.at(rand() * 6, () => {
      if (gen !== this.#generation) return reject(new Error("connection lost"));
      engine.subscribed.get(this.node)!.add(subject);
      this.#inOrder(rand() * 6, () => {
        if (gen !== this.#generation) {
          return reject(new Error("connection lost"));
        }
        this.listening.add(subject);
        resolve();
      });
    });
    return promise;
  }

  unsubscribe(subject: string): Promise<void> {
    const { clock, engine, rand } = this.node;
    const gen = this.#generation;
    this.#unsubscribing.add(subject);
    const { promise, resolve, reject } = Promise.withResolvers<void>();
    clock.at(rand() * 6, () => {
      if (gen !== this.#generation) return reject(new Error("connection lost"));
      engine.subscribed.get(this.node)!.delete(subject);
      this.#inOrder(rand() * 6, () => {
        this.#unsubscribing.delete(subject);
        this.listening.delete(subject); // every listener of the subject
        resolve();
      });
    });
    return promise;
  }

  /**
   * Runs `run` `delay` from now but after everything already on its way
   * over this connection: a reply to SUBSCRIBE comes before any message it
   * lets through, and one to UNSUBSCRIBE after every message published
   * before it, as on one TCP stream.
   */
  #inOrder(delay: number, run: () => void): void {
    const { clock } = this.node;
    const at = Math.max(this.#lastDelivery, clock.now + delay);
    this.#lastDelivery = at;
    clock.at(at - clock.now, run);
  }

  /** A message published on `subject`, on its way to this node (FIFO, may be lost). */
  deliver(subject: string, data: string): void {
    const [epoch = "", seqText] = data.split("|");
    const seq = Number(seqText);
    const { rand, faults } = this.node;
    if (rand() < faults.dropMessage) return;
    const gen = this.#generation;
    this.#inOrder(rand() * 8, () => {
      if (gen !== this.#generation || !this.listening.has(subject)) return;
      this.node.message(
        subject,
        epoch,
        simFrame(subject, seq, data),
      );
    });
  }

  /** The connection dropped and came back: in-flight messages are lost, the library subscribes again. */
  reconnect(): void {
    this.#generation++;
    this.node.engine.subscribed.get(this.node)!.clear();
    for (const s of this.listening) {
      if (this.node.rand() < this.node.faults.loseSubscription) continue;
      this.node.engine.subscribed.get(this.node)!.add(s);
    }
  }
}

/** What one local client saw: checked against the invariants as it goes. */
export class SimClient {
  epoch = "";
  last = 0;
  readonly #channel: string;
  readonly #positions: Map<string, string>;

  /**
   * @param channel the channel it follows
   * @param positions what every client was delivered at each position, shared
   */
  constructor(channel: string, positions: Map<string, string>) {
    this.#channel = channel;
    this.#positions = positions;
  }
  readonly violations: string[] = [];
  /** `reset` notices that replaced an epoch it had (not its first). */
  resets = 0;
  /** `gap` notices. */
  gaps = 0;
  /** Positions it was delivered with another message than a client before it (see the test). */
  readonly reused: string[] = [];
  /** Every message it was delivered: its epoch, seq and content. */
  readonly held: { epoch: string; seq: number; data: string }[] = [];

  started(epoch: string, seq: number): void {
    this.epoch = epoch;
    this.last = seq;
  }

  frame(frame: OutFrame): void {
    const data = JSON.parse(frame.text).data as string;
    const [epoch, seq] = [data.split("|")[0]!, Number(data.split("|")[1])];
    const at = `${this.#channel}/${epoch}|${seq}`;
    this.held.push({ epoch, seq, data });
    const before = this.#positions.get(at);
    if (before === undefined) this.#positions.set(at, data);
    else if (before !== data) {
      this.reused.push(`position ${at} reused: ${before}, then ${data}`);
    }
    if (epoch !== this.epoch) {
      this.violations.push(`splice: ${data} delivered in epoch ${this.epoch}`);
    }
    if (seq !== frame.seq) {
      this.violations.push(`wrong seq ${frame.seq} for ${data}`);
    }
    if (frame.seq <= this.last) {
      this.violations.push(`duplicate ${data} after ${this.last}`);
    } else if (frame.seq !== this.last + 1) {
      this.violations.push(
        `hole without notice ${this.last + 1}..${frame.seq - 1} in ${epoch}`,
      );
    }
    this.last = Math.max(this.last, frame.seq);
  }

  notice(text: string): void {
    const n = JSON.parse(text);
    if (n.type === "reset") {
      if (this.epoch !== "") this.resets++;
      if (this.epoch !== "" && !isOlderEpoch(this.epoch, n.epoch)) {
        this.violations.push(
          `reset to ${n.epoch}, not newer than ${this.epoch}`,
        );
      }
      this.epoch = n.epoch;
      this.last = n.last_seq;
    } else if (n.type === "gap") {
      this.gaps++;
      if (n.from !== this.last + 1) {
        this.violations.push(`gap ${n.from}..${n.to} after ${this.last}`);
      }
      this.last = n.to;
    }
  }
}

/**
 * Virtual ms between a node's checks: many round trips (each under 20 ms
 * here), as the node's 2 s are many real ones.
 */
export const CHECK_INTERVAL = 100;

interface SimFollowed {
  follower: ChannelFollower;
  client: SimClient;
  early: EarlyMessage[] | undefined;
  /** Its first SUBSCRIBE failed: the check, or the engine's return, starts it again. */
  failed: boolean;
  /** The JOIN loop running for it, if any. */
  joining?: Promise<void> | undefined;
  lag?: Lag | undefined;
}

/** Virtual ms before a JOIN whose reply was lost is sent again (the node's 1 s beside its 2 s check). */
export const RETRY_AFTER = CHECK_INTERVAL / 2;

/** One node: the real follower, subscriptions and check verdicts, orchestrated as `redis_channels.ts` does. */
export class SimNode {
  readonly pubsub: SimPubSub;
  readonly subs: Subscriptions;
  readonly followed = new Map<string, SimFollowed>();
  /** Every client this node ever had (for the invariants). */
  readonly clients: SimClient[] = [];
  /**
   * Each time a check found a follower behind the engine in its epoch: the
   * first message it lacked, and how long before the check that message
   * had been published, or this node reconnected if later (virtual ms).
   */
  readonly behind: { channel: string; seq: number; age: number }[] = [];
  /** What the periodic check repaired, in order, with the engine's reply. */
  readonly repairs: {
    channel: string;
    cause: string;
    engine: { epoch: string; top: number };
    at: number;
  }[] = [];
  generation = 0;

  constructor(
    readonly clock: SimClock,
    readonly engine: SimEngine,
    readonly rand: () => number,
    readonly faults: Faults,
  ) {
    engine.subscribed.set(this, new Set());
    this.pubsub = new SimPubSub(this);
    this.subs = new Subscriptions({
      subscribe: (s) => this.pubsub.subscribe(s),
      unsubscribe: (s) => this.pubsub.unsubscribe(s),
    });
  }

  /**
   * A command round trip: runs `op` in the engine after a delay; the reply
   * may be lost. A command in flight when the connection drops is lost with
   * it (it may or may not have run), as the client library rejects it.
   */
  command<T>(op: () => T): Promise<T> {
    const { promise, resolve, reject } = Promise.withResolvers<T>();
    const connection = this.#connection;
    const lost = () => connection !== this.#connection;
    this.clock.at(this.rand() * 10, () => {
      if (lost()) return reject(new Error("connection lost"));
      const result = op();
      this.clock.at(this.rand() * 10, () => {
        if (lost() || this.rand() < this.faults.dropReply) {
          reject(new Error("reply lost"));
        } else resolve(result);
      });
    });
    return promise;
  }

  /** The command connection's generation: a reconnect loses what is in flight. */
  #connection = 0;
  /** When the connections last dropped and came back (virtual ms). */
  #reconnectedAt = -Infinity;

  #note(epoch: string): void {
    this.generation = Math.max(this.generation, epochGeneration(epoch));
  }

  subscribe(channel: string): void {
    if (this.followed.has(channel)) return;
    const client = new SimClient(channel, this.engine.delivered);
    this.clients.push(client);
    const follower = new ChannelFollower(channel, 0, {
      deliver: (f) => client.frame(f),
      notice: (t) => client.notice(t),
      read: (from, to) =>
        this.command(() => this.engine.read(channel, from, to)),
      count() {},
      adopted: (e) => this.#note(e),
    }, 50);
    const f: SimFollowed = { follower, client, early: [], failed: false };
    this.followed.set(channel, f);
    this.#start(f);
  }

  /** Subscribes, then joins (as `redis_channels.ts` `#start`). */
  #start(f: SimFollowed): void {
    f.failed = false;
    this.subs.want(f.follower.channel).then(() => this.#join(f)).catch(() => {
      f.failed = true;
    });
  }

  unsubscribe(channel: string): void {
    if (!this.followed.delete(channel)) return;
    this.subs.drop(channel);
  }

  message(channel: string, epoch: string, frame: OutFrame): void {
    const f = this.followed.get(channel);
    if (!f) return;
    if (f.early) f.early.push({ epoch, frame });
    else f.follower.receive(epoch, frame);
  }

  /**
   * JOINs until one is answered (its renumber too), one loop per follower,
   * as `redis_channels.ts` `#joinRetrying`: again at once when the
   * connection it went out on is gone, after {@link RETRY_AFTER} when only
   * its reply was lost.
   */
  #join(f: SimFollowed): Promise<void> {
    if (f.joining) return f.joining;
    const loop = (async () => {
      while (this.followed.get(f.follower.channel) === f) {
        const connection = this.#connection;
        try {
          return await this.#joinOnce(f);
        } catch {
          if (connection === this.#connection) {
            await new Promise((r) => this.clock.at(RETRY_AFTER, () => r(0)));
          }
        }
      }
    })().finally(() => f.joining = undefined);
    f.joining = loop;
    return loop;
  }

  async #joinOnce(f: SimFollowed): Promise<void> {
    const { follower } = f;
    if (this.followed.get(follower.channel) !== f) return;
    // At once, and again once a SUBSCRIBE still on its way is answered, as
    // `redis_channels.ts` `#join`.
    const subscribing = this.subs.active(follower.channel)
      ? undefined
      : this.subs.want(follower.channel).catch(() => {});
    const asked = askedAt(follower);
    const marks = asked.marks.map(markOf);
    const reply = await this.command(() =>
      this.engine.join(follower.channel, this.generation, asked.epoch, marks)
    );
    this.#note(reply.epoch);
    const early = f.early;
    f.early = undefined;
    if (early) f.client.started(reply.epoch, reply.top);
    const renumber = applyJoinReply(follower, asked, reply, early);
    if (renumber) await this.#renumber(f, renumber);
    if (subscribing) {
      void subscribing.then(() => f.joining).then(() => {
        if (this.subs.active(follower.channel)) void this.#join(f);
      });
    }
  }

  async #renumber(f: SimFollowed, r: Renumber): Promise<void> {
    const marks = (r.marks ?? []).map(markOf);
    this.beforeRenumber?.(f.follower.channel);
    const [now, top] = await this.command(() =>
      this.engine.renumber(
        f.follower.channel,
        r.epoch,
        r.asOf,
        this.generation,
        marks,
      )
    );
    this.#note(now);
    f.follower.resync(now, top);
  }

  /**
   * Called as this node sends a RENUMBER, before it runs: a test may have
   * a peer publish into that one-round-trip window.
   */
  beforeRenumber?: (channel: string) => void;

  /** When this node's last check started (see {@link CHECK_INTERVAL}). */
  #lastCheck = -Infinity;
  #checking = false;

  /**
   * The periodic check of every followed channel: one at a time, and at
   * most once per {@link CHECK_INTERVAL}, as the node's timer runs it (its
   * `stuck` verdict means "behind what the engine had a whole check ago").
   */
  async check(): Promise<void> {
    if (this.#checking || this.clock.now - this.#lastCheck < CHECK_INTERVAL) {
      return;
    }
    this.#checking = true;
    this.#lastCheck = this.clock.now;
    try {
      await this.#check();
    } finally {
      this.#checking = false;
    }
  }

  async #check(): Promise<void> {
    const batch = [...this.followed.values()];
    for (const f of batch) this.#restart(f);
    const ready = batch.filter((f) => !f.early && !f.joining);
    const asked = ready.map((f) => askedAt(f.follower));
    const sentAt = this.clock.now;
    let reply: { epoch: string; top: number }[];
    try {
      reply = await this.command(() =>
        ready.map((f) => this.engine.meta(f.follower.channel))
      );
    } catch {
      return;
    }
    ready.forEach((f, i) => {
      if (this.followed.get(f.follower.channel) !== f) return;
      const engine = reply[i]!;
      const { epoch, delivered } = asked[i]!;
      const missing = `${f.follower.channel}/${epoch}|${delivered + 1}`;
      const since = Math.max(
        this.engine.publishedAt.get(missing) ?? sentAt,
        this.#reconnectedAt,
      );
      const age = sentAt - since;
      if (engine.epoch === epoch && engine.top > delivered) {
        this.behind.push({
          channel: f.follower.channel,
          seq: delivered + 1,
          age,
        });
      }
      const step = applyCheckReply(f.follower, asked[i]!, f.lag, engine);
      f.lag = step.lag;
      if (step.cause) {
        this.repairs.push({
          channel: f.follower.channel,
          cause: step.cause,
          engine,
          at: this.clock.now,
        });
      }
      if (step.join || step.verify) void this.#join(f);
      else if (step.renumber) this.#renumber(f, step.renumber).catch(() => {});
      if (step.renew) this.subs.renew(f.follower.channel).catch(() => {});
    });
  }

  /**
   * Both connections dropped and came back: the followers keep marks (as
   * `suspectAll` on the engine going away), then subscribe again and
   * resync every channel.
   */
  reconnect(): void {
    for (const f of this.followed.values()) {
      f.follower.suspect();
      if (f.early) f.early = [];
    }
    this.#connection++;
    this.#reconnectedAt = this.clock.now;
    this.pubsub.reconnect();
    for (const f of this.followed.values()) {
      if (!this.#restart(f)) void this.#join(f);
    }
  }

  /** What a lost command left undone, asked again (as `redis_channels.ts` `#restart`). */
  #restart(f: SimFollowed): boolean {
    if (f.early && f.failed) {
      this.#start(f);
      return true;
    }
    const channel = f.follower.channel;
    if (!this.subs.active(channel)) this.subs.want(channel).catch(() => {});
    return false;
  }
}
