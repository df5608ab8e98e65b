// The benchmark's load generator: a lean WebSocket client swarm in one Node
// process, separate from the server under test, so the harness can read the
// server's and the generator's CPU time apart from /proc.
//
// Lean on purpose: raw `net` sockets and a hand-rolled frame parser (no
// WebSocket library, no JSON.parse per message). Each frame's `"ts_send":`
// and `"seq":` fields are found with Buffer.indexOf, so frames that carry
// several messages (opt-in coalescing) count every message they hold.
//
// With `reader: "ws"` it is the strict one instead: Node's `ws` package (from
// bench/peers) and JSON.parse of every frame, as an application would read
// the stream — a client that spends real CPU per frame, so a server that
// sends one frame per message costs its reader more than one that packs
// them. The accounting after the parse is the same.
//
// Usage: node bench/loadgen.mjs '<json config>'   (see DEFAULTS below)
// stdout: one JSON object per line — {"event":"connected"}, {"event":
// "window_start"}, {"event":"window_end"}, then {"event":"result", ...}.
import { Buffer } from "node:buffer";
import { randomBytes } from "node:crypto";
import { createRequire } from "node:module";
import net from "node:net";
import process from "node:process";

const DEFAULTS = {
  host: "127.0.0.1",
  port: 0,
  path: "/",
  /** Nominal publish rate of the server, msgs/s (for the delivery ratio). */
  rate: 100,
  /** Client groups: { name, count, periodMs?, stallEveryMs?, stallForMs?, stalled? }. */
  groups: [{ name: "fast", count: 10 }],
  /** Send an ACK for every message, as the seed's clients do. */
  ack: false,
  /** Connections opened at once while connecting. */
  connectConcurrency: 200,
  /** Stop opening connections after this long (a saturated server accepts slowly). */
  connectTimeoutMs: 20_000,
  warmupMs: 3_000,
  measureMs: 5_000,
  /** After the window, keep reading so late messages due in it still count. */
  graceMs: 1_000,
  /** "lean" (raw sockets, no parse) or "ws" (the `ws` package, JSON.parse per frame). */
  reader: "lean",
};

const cfg = { ...DEFAULTS, ...JSON.parse(process.argv[2] ?? "{}") };
if (cfg.reader !== "lean" && cfg.reader !== "ws") {
  throw new Error(`reader: '${cfg.reader}' is not "lean" or "ws"`);
}
/** The `ws` package's WebSocket class (strict reader only). */
const WS = cfg.reader === "ws"
  ? createRequire(new URL("./peers/package.json", import.meta.url))("ws")
  : undefined;

const TS = Buffer.from('"ts_send":');
const SEQ = Buffer.from('"seq":');
const nowS = () => (performance.timeOrigin + performance.now()) / 1000;
/** One read buffer shared by every socket (reads are synchronous callbacks). */
const READ_BUFFER = Buffer.allocUnsafe(256 * 1024);
const emit = (obj) => process.stdout.write(JSON.stringify(obj) + "\n");

// ---- log-scale histogram (same buckets as lib/histogram.ts: 1 µs, ×1.04)
const H_MIN = 0.001;
const H_LOG = Math.log(1.04);
const H_N = Math.ceil(Math.log(1e7 / H_MIN) / H_LOG) + 1;
class Hist {
  counts = new Uint32Array(H_N);
  n = 0;
  sum = 0;
  max = 0;
  min = Infinity;
  record(ms) {
    const v = ms > 0 ? ms : 0;
    let i = v > H_MIN ? Math.ceil(Math.log(v / H_MIN) / H_LOG) : 0;
    if (i >= H_N) i = H_N - 1;
    this.counts[i]++;
    this.n++;
    this.sum += v;
    if (v > this.max) this.max = v;
    if (v < this.min) this.min = v;
  }
  pct(q) {
    if (this.n === 0) return null;
    const rank = Math.max(1, Math.ceil((q / 100) * this.n));
    let seen = 0;
    for (let i = 0; i < H_N; i++) {
      seen += this.counts[i];
      if (seen >= rank) {
        return Math.min(this.max, Math.max(this.min, H_MIN * 1.04 ** i));
      }
    }
    return this.max;
  }
  summary() {
    const r = (x) => x === null ? null : Math.round(x * 1000) / 1000;
    return {
      count: this.n,
      mean: this.n ? r(this.sum / this.n) : null,
      p50: r(this.pct(50)),
      p90: r(this.pct(90)),
      p99: r(this.pct(99)),
      p999: r(this.pct(99.9)),
      max: this.n ? r(this.max) : null,
    };
  }
}

// ---- measurement window, in epoch seconds (set once everyone is connected)
let winStart = Infinity;
let winEnd = Infinity;

/** Parses the number that starts at buf[i] (ASCII digits, '.', '-', 'e'). */
function parseNumber(buf, i, end) {
  let j = i;
  let int = 0;
  let neg = false;
  if (buf[j] === 45) {
    neg = true;
    j++;
  }
  while (j < end && buf[j] >= 48 && buf[j] <= 57) {
    int = int * 10 + buf[j++] - 48;
  }
  let value = int;
  if (buf[j] === 46) {
    j++;
    let frac = 0;
    let scale = 1;
    while (j < end && buf[j] >= 48 && buf[j] <= 57 && scale < 1e15) {
      frac = frac * 10 + buf[j++] - 48;
      scale *= 10;
    }
    while (j < end && buf[j] >= 48 && buf[j] <= 57) j++;
    value += frac / scale;
  }
  if (buf[j] === 101 || buf[j] === 69) {
    let k = j + 1;
    while (k < end && buf[k] !== 44 && buf[k] !== 125 && buf[k] !== 93) k++;
    value = Number(buf.toString("latin1", i, k));
    return neg ? -Math.abs(value) : value;
  }
  return neg ? -value : value;
}

class Group {
  constructor(spec) {
    this.spec = spec;
    this.name = spec.name;
    /** Messages received in the window, by receive time. */
    this.latency = new Hist();
    /** Messages due in the window; undelivered ones at their age at the end. */
    this.dueLatency = new Hist();
    this.clients = [];
    this.closes = new Map();
  }
}

/** One client connection with a frame parser and optional read pacing. */
class Client {
  constructor(group, index) {
    this.group = group;
    this.index = index;
    const s = group.spec;
    this.periodMs = s.periodMs ?? 0;
    this.stallEveryMs = s.stallEveryMs ?? 0;
    this.stallForMs = s.stallForMs ?? 0;
    this.stalled = s.stalled === true;
    this.paced = this.periodMs > 0 || this.stallEveryMs > 0;
    this.buf = null; // unparsed bytes
    this.upgraded = false;
    this.open = false;
    this.waiting = false; // paced client sleeping between messages
    this.nextStallAt = 0;
    this.messages = 0; // all messages processed
    this.inWindow = 0; // processed while the window was open
    this.dueInWindow = 0; // processed (by grace end) with ts_send in the window
    this.lastSeq = -1;
    this.gaps = 0; // seq gaps among messages processed in the window
    this.frames = 0;
    this.slots = null; // Uint8Array: which messages due in the window arrived
  }

  connect() {
    return WS ? this.connectWs() : this.connectLean();
  }

  /** The strict reader's connection: `ws`, JSON.parse per frame (unpaced groups only). */
  connectWs() {
    if (this.paced || this.stalled) {
      throw new Error("the ws reader runs unpaced groups only");
    }
    return new Promise((resolve) => {
      const ws = new WS(`ws://${cfg.host}:${cfg.port}${cfg.path}`, {
        perMessageDeflate: false,
      });
      this.ws = ws;
      let settled = false;
      const settle = (ok) => {
        if (!settled) {
          settled = true;
          resolve(ok);
        }
      };
      ws.on("open", () => {
        this.open = true;
        settle(true);
      });
      ws.on("message", (data, isBinary) => {
        this.frames++;
        const acks = cfg.ack ? [] : null;
        this.parsed(
          isBinary ? data.toString("utf8") : data.toString(),
          nowS(),
          acks,
        );
        if (acks) { for (const a of acks) ws.send(a); }
      });
      ws.on("close", (code, reason) => {
        if (this.open) {
          const key = `${code} ${reason.toString()}`.slice(0, 80);
          this.group.closes.set(key, (this.group.closes.get(key) ?? 0) + 1);
        }
        this.open = false;
        settle(false);
      });
      ws.on("error", () => settle(false));
    });
  }

  connectLean() {
    return new Promise((resolve) => {
      // `onread` reads straight into one shared buffer: no stream machinery,
      // no Buffer per chunk. Returning false pauses the socket (paced clients).
      const sock = net.connect({
        host: cfg.host,
        port: cfg.port,
        onread: {
          buffer: READ_BUFFER,
          callback: (n, buf) => this.onBytes(buf, n),
        },
      });
      this.sock = sock;
      sock.setNoDelay(true);
      const key = randomBytes(16).toString("base64");
      this.finish = (ok) => {
        const f = this.resolveConnect;
        this.resolveConnect = null;
        f?.(ok);
      };
      this.resolveConnect = resolve;
      sock.on("connect", () => {
        sock.write(
          `GET ${cfg.path} HTTP/1.1\r\nHost: ${cfg.host}:${cfg.port}\r\n` +
            `Upgrade: websocket\r\nConnection: Upgrade\r\n` +
            `Sec-WebSocket-Key: ${key}\r\nSec-WebSocket-Version: 13\r\n\r\n`,
        );
      });
      sock.on("error", () => this.finish(false));
      sock.on("close", () => {
        this.open = false;
        this.finish(false);
      });
    });
  }

  /** Bytes arrived in the shared read buffer. @returns false to pause */
  onBytes(shared, n) {
    const chunk = shared.subarray(0, n);
    this.buf = this.buf ? Buffer.concat([this.buf, chunk]) : chunk;
    if (!this.upgraded) {
      const end = this.buf.indexOf("\r\n\r\n");
      if (end < 0) return this.keep();
      const head = this.buf.toString("latin1", 0, end);
      if (!/^HTTP\/1\.1 101/.test(head)) {
        this.sock.destroy();
        this.finish(false);
        return false;
      }
      this.upgraded = true;
      this.open = true;
      this.buf = this.buf.length > end + 4 ? this.buf.subarray(end + 4) : null;
      this.finish(true);
      if (this.stalled) return this.keep();
    }
    this.drain(nowS());
    return this.keep();
  }

  /** Copies unparsed bytes out of the shared buffer; false pauses reading. */
  keep() {
    if (this.buf !== null && this.buf.buffer === READ_BUFFER.buffer) {
      this.buf = Buffer.from(this.buf);
    }
    return !(this.stalled || this.waiting);
  }

  /** Parses and processes complete frames; paced clients take one at a time. */
  drain(t) {
    const acks = cfg.ack ? [] : null;
    while (this.buf !== null && !this.waiting) {
      const b = this.buf;
      if (b.length < 2) break;
      const op = b[0] & 0x0f;
      let len = b[1] & 0x7f;
      let off = 2;
      if (len === 126) {
        if (b.length < 4) break;
        len = b.readUInt16BE(2);
        off = 4;
      } else if (len === 127) {
        if (b.length < 10) break;
        len = Number(b.readBigUInt64BE(2));
        off = 10;
      }
      if (b[1] & 0x80) off += 4; // a server never masks, but be safe
      if (b.length < off + len) break;
      const end = off + len;
      if (op === 1 || op === 2 || op === 0) {
        this.frames++;
        this.message(b, off, end, t, acks);
      } else if (op === 8) {
        const code = len >= 2 ? b.readUInt16BE(off) : 1005;
        const reason = b.toString("utf8", off + 2, end);
        const key = `${code} ${reason}`.slice(0, 80);
        this.group.closes.set(key, (this.group.closes.get(key) ?? 0) + 1);
      } else if (op === 9) {
        this.sendFrame(0x8a, b.subarray(off, end));
      }
      this.buf = end < b.length ? b.subarray(end) : null;
      if (this.paced && op !== 9 && op !== 10 && op !== 8) this.pace();
    }
    if (acks && acks.length > 0) {
      this.sock.cork();
      for (const text of acks) this.sendFrame(0x81, Buffer.from(text));
      this.sock.uncork();
    }
  }

  /** Counts every message in one frame (several when the server coalesces). */
  message(b, off, end, t, acks) {
    let at = b.indexOf(TS, off);
    while (at >= 0 && at < end) {
      const ts = parseNumber(b, at + TS.length, end);
      let seq = -1;
      const s = b.lastIndexOf(SEQ, at);
      if (s >= off) seq = parseNumber(b, s + SEQ.length, end);
      this.account(ts, seq, t, acks);
      at = b.indexOf(TS, at + TS.length);
    }
  }

  /** The strict reader's frame: parsed whole, every data frame in it counted. */
  parsed(text, t, acks) {
    const value = JSON.parse(text);
    for (const m of Array.isArray(value) ? value : [value]) {
      if (typeof m?.ts_send === "number") {
        this.account(
          m.ts_send,
          typeof m.seq === "number" ? m.seq : -1,
          t,
          acks,
        );
      }
    }
  }

  /** One message received at `t` (epoch s), sent at `ts`. */
  account(ts, seq, t, acks) {
    {
      this.messages++;
      if (t >= winStart && t < winEnd) {
        this.inWindow++;
        this.group.latency.record((t - ts) * 1000);
        if (seq > 0 && this.lastSeq > 0 && seq > this.lastSeq + 1) {
          this.gaps += seq - this.lastSeq - 1;
        }
      }
      if (ts >= winStart && ts < winEnd) {
        const slot = Math.floor((ts - winStart) * cfg.rate);
        if (
          this.slots !== null && slot < this.slots.length &&
          this.slots[slot] === 0
        ) {
          this.slots[slot] = 1;
          this.dueInWindow++;
          this.group.dueLatency.record((t - ts) * 1000);
        }
      }
      if (seq > 0) this.lastSeq = seq;
      if (acks) acks.push(`{"ack_ts":${ts},"seq":${seq}}`);
    }
  }

  /** After one message: sleep `periodMs`, or stall for a while now and then. */
  pace() {
    let delay = this.periodMs;
    if (this.stallEveryMs > 0) {
      const now = performance.now();
      if (this.nextStallAt === 0) this.nextStallAt = now + this.stallEveryMs;
      if (now >= this.nextStallAt) {
        delay += this.stallForMs;
        this.nextStallAt = now + this.stallForMs + this.stallEveryMs;
      }
    }
    if (delay <= 0) return;
    this.waiting = true;
    setTimeout(() => {
      this.waiting = false;
      if (!this.open) return;
      if (this.buf) this.drain(nowS());
      this.keep();
      if (!this.waiting) this.sock.resume();
    }, delay);
  }

  /** Sends one client frame, masked with a zero key (payload unchanged). */
  sendFrame(first, payload) {
    if (!this.open) return;
    const len = payload.length;
    const head = len < 126
      ? Buffer.from([first, 0x80 | len, 0, 0, 0, 0])
      : Buffer.from([
        first,
        0x80 | 126,
        len >> 8,
        len & 0xff,
        0,
        0,
        0,
        0,
      ]);
    this.sock.write(Buffer.concat([head, payload]));
  }

  /** Sends a close frame and ends the connection shortly after. */
  close() {
    if (this.ws) {
      this.open = false;
      this.ws.close(1000);
      setTimeout(() => this.ws.terminate(), 200).unref();
      return;
    }
    if (!this.sock || this.sock.destroyed) return;
    if (this.open) {
      const p = Buffer.from([0x03, 0xe8]); // 1000
      this.sendFrame(0x88, p);
    }
    this.sock.end();
    setTimeout(() => this.sock.destroy(), 200).unref();
  }
}

async function main() {
  const groups = cfg.groups.map((g) => new Group(g));
  const clients = [];
  for (const g of groups) {
    for (let i = 0; i < g.spec.count; i++) {
      const c = new Client(g, i);
      g.clients.push(c);
      clients.push(c);
    }
  }
  const t0 = performance.now();
  let next = 0;
  let failed = 0;
  let late = false;
  const worker = async () => {
    while (next < clients.length && !late) {
      const c = clients[next++];
      if (!(await c.connect())) failed++;
    }
  };
  const deadline = new Promise((r) =>
    setTimeout(r, cfg.connectTimeoutMs).unref()
  );
  await Promise.race([
    Promise.all(Array.from({ length: cfg.connectConcurrency }, worker)),
    deadline,
  ]);
  late = true;
  const connected = clients.filter((c) => c.open).length;
  emit({
    event: "connected",
    clients: clients.length,
    connected,
    failed,
    ms: Math.round(performance.now() - t0),
  });

  await new Promise((r) => setTimeout(r, cfg.warmupMs));
  const cpu0 = process.cpuUsage();
  const slotCount = Math.floor((cfg.rate * cfg.measureMs) / 1000);
  for (const c of clients) c.slots = new Uint8Array(slotCount);
  winStart = nowS();
  winEnd = winStart + cfg.measureMs / 1000;
  emit({ event: "window_start", t: winStart });
  await new Promise((r) => setTimeout(r, cfg.measureMs));
  const cpu1 = process.cpuUsage(cpu0);
  emit({ event: "window_end", t: nowS() });
  await new Promise((r) => setTimeout(r, cfg.graceMs));
  // No coordinated omission: a message due in the window that never arrived
  // counts at its age now (a lower bound on its latency).
  const endS = nowS();
  for (const c of clients) {
    if (c.group.spec.stalled) continue;
    for (let i = 0; i < slotCount; i++) {
      if (c.slots[i] === 0) {
        c.group.dueLatency.record(
          (endS - (winStart + (i + 0.5) / cfg.rate)) * 1000,
        );
      }
    }
  }

  const windowS = cfg.measureMs / 1000;
  const result = {
    event: "result",
    window_s: windowS,
    rate: cfg.rate,
    connected_at_start: connected,
    connect_failed: failed,
    self_cpu_us: cpu1.user + cpu1.system,
    self_cpu_user_us: cpu1.user,
    self_cpu_system_us: cpu1.system,
    groups: {},
  };
  for (const g of groups) {
    let inWindow = 0;
    let due = 0;
    const expectedSlots = slotCount;
    let gaps = 0;
    let minRatio = Infinity;
    let openAtEnd = 0;
    for (const c of g.clients) {
      inWindow += c.inWindow;
      due += c.dueInWindow;
      gaps += c.gaps;
      minRatio = Math.min(minRatio, c.dueInWindow / expectedSlots);
      if (c.open) openAtEnd++;
    }
    result.groups[g.name] = {
      clients: g.clients.length,
      open_at_end: openAtEnd,
      received_in_window: inWindow,
      deliveries_per_s: inWindow / windowS,
      delivery_ratio: g.clients.length
        ? due / (g.clients.length * expectedSlots)
        : null,
      min_client_delivery_ratio: g.clients.length
        ? Math.min(1, minRatio)
        : null,
      gap_drop_fraction: inWindow + gaps > 0 ? gaps / (inWindow + gaps) : 0,
      latency_ms: g.dueLatency.summary(),
      latency_received_ms: g.latency.summary(),
      closes: Object.fromEntries(g.closes),
    };
  }
  emit(result);
  for (const c of clients) c.close();
  setTimeout(() => process.exit(0), 300);
}

process.on("SIGTERM", () => process.exit(0));
main().catch((err) => {
  emit({ event: "error", message: String(err?.stack ?? err) });
  process.exit(1);
});
