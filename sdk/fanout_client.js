// lib/protocol.ts
var PROTOCOL_VERSION = 3;
var DEFAULT_CHANNEL = "default";
function parseControl(text) {
  if (!text.startsWith('{"type":')) return void 0;
  try {
    const v = JSON.parse(text);
    return typeof v?.type === "string" && !("seq" in v) ? v : void 0;
  } catch {
    return void 0;
  }
}
function decodeData(text) {
  return checkData(parseObject(text, "data frame"));
}
function decodeDataFrames(text) {
  if (!text.startsWith("[")) return [
    decodeData(text)
  ];
  let value;
  try {
    value = JSON.parse(text);
  } catch {
    throw new TypeError("Cannot decode data frames: not valid JSON");
  }
  if (!Array.isArray(value) || value.length === 0) {
    throw new TypeError("Cannot decode data frames: not a non-empty array");
  }
  return value.map((v) => {
    if (typeof v !== "object" || v === null || Array.isArray(v)) {
      throw new TypeError("Cannot decode data frame: not a JSON object");
    }
    return checkData(v);
  });
}
function checkData(value) {
  const { seq, ts_send, payload_b64, channel } = value;
  if (!Number.isSafeInteger(seq)) {
    throw new TypeError("Cannot decode data frame: 'seq' must be an integer");
  }
  if (typeof ts_send !== "number" || !Number.isFinite(ts_send)) {
    throw new TypeError("Cannot decode data frame: 'ts_send' must be a number");
  }
  const frame = {
    seq,
    ts_send,
    payload_b64: typeof payload_b64 === "string" ? payload_b64 : ""
  };
  if (typeof channel === "string") frame.channel = channel;
  if ("data" in value) frame.data = value.data;
  return frame;
}
function encodeAck(ackTs, seq) {
  return `{"ack_ts":${ackTs},"seq":${seq}}`;
}
function parseObject(text, what) {
  let value;
  try {
    value = JSON.parse(text);
  } catch {
    throw new TypeError(`Cannot decode ${what}: not valid JSON`);
  }
  if (typeof value !== "object" || value === null || Array.isArray(value)) {
    throw new TypeError(`Cannot decode ${what}: not a JSON object`);
  }
  return value;
}
function epochGeneration(epoch) {
  const dot = epoch.indexOf(".");
  if (dot <= 0) return 0;
  const g = Number(epoch.slice(0, dot));
  return Number.isSafeInteger(g) && g > 0 ? g : 0;
}
function isOlderEpoch(epoch, than) {
  return epochGeneration(epoch) < epochGeneration(than);
}

// sdk/attempt.ts
var CONNECT_TIMEOUT_MS = 1e4;
var ERROR_GRACE_MS = 500;
var Attempt = class {
  #socket;
  #handlers;
  #opened = false;
  #timer;
  #graceMs;
  /**
   * Opens a socket to `url` and starts the connect deadline.
   * @param WebSocket the constructor
   * @param url where to connect
   * @param handlers what to call
   * @param options the deadline and the error grace
   */
  constructor(WebSocket, url, handlers, options = {}) {
    this.#handlers = handlers;
    this.#graceMs = options.errorGraceMs ?? ERROR_GRACE_MS;
    let socket;
    try {
      socket = new WebSocket(url);
    } catch (err) {
      this.#end(1006, `cannot connect: ${String(err)}`);
      return;
    }
    this.#socket = socket;
    const timeoutMs = options.connectTimeoutMs ?? CONNECT_TIMEOUT_MS;
    this.#timer = setTimeout(() => {
      this.#abandon();
      this.#end(1006, `connect timeout: no answer within ${timeoutMs} ms`);
    }, timeoutMs);
    socket.addEventListener("open", () => {
      if (!this.#handlers) return;
      this.#opened = true;
      clearTimeout(this.#timer);
      this.#timer = void 0;
      this.#handlers.onOpen();
    });
    socket.addEventListener("message", (e) => {
      this.#handlers?.onMessage(e.data);
    });
    socket.addEventListener("close", (e) => {
      const code = e.code || 1006;
      let reason = e.reason;
      if (!reason && code === 1006) {
        reason = this.#opened ? "connection lost (no close frame)" : "connection failed before opening (refused, reset, DNS or TLS; a browser does not say which)";
      }
      this.#end(code, reason);
    });
    socket.addEventListener("error", () => {
      if (!this.#handlers) return;
      clearTimeout(this.#timer);
      this.#timer = setTimeout(() => {
        this.#abandon();
        this.#end(1006, this.#opened ? "connection lost (error, no close event)" : "connection failed before opening (refused, reset, DNS or TLS)");
      }, this.#graceMs);
    });
  }
  /** Whether the socket opened. */
  get opened() {
    return this.#opened;
  }
  /** Whether the attempt is over. */
  get ended() {
    return this.#handlers === void 0;
  }
  /**
   * Sends a frame; false when it could not (ended, or the socket is closing).
   */
  send(data) {
    if (!this.#handlers || !this.#socket) return false;
    try {
      this.#socket.send(data);
      return true;
    } catch {
      return false;
    }
  }
  /**
   * Ends the attempt now without calling `onEnd`: closes the socket with
   * `code` and `reason`, and nothing it delivers later reaches a handler.
   */
  stop(code = 1e3, reason = "") {
    this.#handlers = void 0;
    clearTimeout(this.#timer);
    this.#timer = void 0;
    this.#abandon(code, reason);
  }
  #abandon(code = 1e3, reason = "") {
    const socket = this.#socket;
    this.#socket = void 0;
    try {
      socket?.close(code, reason);
    } catch {
    }
  }
  #end(code, reason) {
    const handlers = this.#handlers;
    if (!handlers) return;
    this.#handlers = void 0;
    clearTimeout(this.#timer);
    this.#timer = void 0;
    this.#socket = void 0;
    handlers.onEnd(code, reason);
  }
};

// sdk/backoff.ts
var INITIAL_BACKOFF_MS = 250;
var MAX_BACKOFF_MS = 5e3;
var Backoff = class {
  #initial;
  #max;
  #factor;
  #jitter;
  #random;
  #current;
  /**
   * @param options first and longest delay, growth, random spread
   * @throws {RangeError} when a value is negative, `maxMs` is below
   *   `initialMs`, `factor` is below 1 or `jitter` is outside 0..1
   */
  constructor(options = {}) {
    this.#initial = options.initialMs ?? INITIAL_BACKOFF_MS;
    this.#max = options.maxMs ?? Math.max(MAX_BACKOFF_MS, this.#initial);
    this.#factor = options.factor ?? 2;
    this.#jitter = options.jitter ?? 0;
    this.#random = options.random ?? Math.random;
    if (!(this.#initial >= 0) || !(this.#max >= this.#initial) || !(this.#factor >= 1) || !(this.#jitter >= 0 && this.#jitter <= 1)) {
      throw new RangeError("backoff needs 0 <= initialMs <= maxMs, factor >= 1 and jitter in 0..1");
    }
    this.#current = this.#initial;
  }
  /** @returns the delay before the next attempt, ms; the one after grows */
  next() {
    const base = this.#current;
    this.#current = Math.min(this.#current * this.#factor, this.#max);
    if (this.#jitter === 0) return base;
    return Math.round(base * (1 - this.#jitter * this.#random()));
  }
  /** Starts over from the first delay (after a connection that opened). */
  reset() {
    this.#current = this.#initial;
  }
};

// lib/close_codes.ts
var DROP_WINDOW_MS = 1e4;
var DROP_WINDOW_S = DROP_WINDOW_MS / 1e3;
var CLOSE_CODES = {
  client_closed: {
    code: 1e3,
    reconnect: false,
    meaning: "the client closed the connection"
  },
  shutdown: {
    code: 1001,
    reconnect: true,
    meaning: "the server is shutting down; reconnect (to another node)"
  },
  ws_protocol_error: {
    code: 1002,
    reconnect: false,
    meaning: "the client broke the WebSocket protocol (invalid UTF-8, reserved bits, a bad opcode, \u2026); the runtime dropped the connection"
  },
  connection_lost: {
    code: 1006,
    reconnect: true,
    meaning: "the connection ended without a close frame (the client vanished, or its network did); never sent, only recorded"
  },
  message_too_big: {
    code: 1009,
    reconnect: false,
    meaning: "a client frame exceeded --max-frame-bytes, or was binary (the protocol has none)"
  },
  drain: {
    code: 1012,
    reconnect: true,
    meaning: "the server is draining (a restart or deploy): reconnect after the retry hint, to another node"
  },
  slow_drops: {
    code: 4e3,
    reconnect: true,
    meaning: `too many messages dropped for this client within ${DROP_WINDOW_S} s (--drop-limit)`
  },
  slow_full: {
    code: 4001,
    reconnect: true,
    meaning: "this client's queue stayed full longer than --full-timeout"
  },
  ping_timeout: {
    code: 4002,
    reconnect: true,
    meaning: "the client stopped reading or answering pings (--ping-interval + --ping-timeout)"
  },
  slow_overflow: {
    code: 4004,
    reconnect: true,
    meaning: "this client's queue overflowed under --policy disconnect"
  },
  slow_lag: {
    code: 4006,
    reconnect: true,
    meaning: "the client fell further behind than --max-lag (the oldest message it had not taken)"
  },
  protocol_error: {
    code: 4100,
    reconnect: false,
    meaning: "too many malformed frames from the client"
  },
  flood: {
    code: 4101,
    reconnect: false,
    meaning: "the client sent frames faster than --max-inbound-rate, even after throttling"
  },
  channel_limit: {
    code: 4102,
    reconnect: false,
    meaning: "the channel could not be opened: --max-channels reached"
  },
  token_expired: {
    code: 4103,
    reconnect: false,
    meaning: "the client's credentials expired (its JWT's exp); reconnect with a fresh token"
  }
};
var DISCONNECT_REASONS = Object.keys(CLOSE_CODES);

// lib/retry_hint.ts
var MAX_REASON_BYTES = 123;
var HINT = /(?:^|[;,\s])retry_in_ms=(\d{1,9})\s*$/;
var REFUSAL_CODE_BASE = 4e3;
var TERMINAL_STATUSES = /* @__PURE__ */ new Set([
  400,
  401,
  403,
  404
]);
function withRetryHint(reason, retryInMs) {
  const hint = `retry_in_ms=${Math.max(0, Math.round(retryInMs))}`;
  const room = MAX_REASON_BYTES - hint.length - 2;
  const bytes = new TextEncoder().encode(reason);
  const head = bytes.length <= room ? reason : new TextDecoder().decode(bytes.slice(0, room)).replace(/\uFFFD+$/, "");
  return head === "" ? hint : `${head}; ${hint}`;
}
function parseRetryHint(reason) {
  const m = HINT.exec(reason);
  return m ? Number(m[1]) : void 0;
}
function refusalCloseCode(status) {
  return REFUSAL_CODE_BASE + status;
}
function refusalStatus(code) {
  const status = code - REFUSAL_CODE_BASE;
  return status >= 400 && status <= 599 ? status : void 0;
}
function isTerminalRefusal(status) {
  return TERMINAL_STATUSES.has(status);
}

// sdk/close_reason.ts
var BY_CODE = new Map(Object.keys(CLOSE_CODES).map((key) => [
  CLOSE_CODES[key].code,
  key
]));
var TERMINAL_STANDARD = /* @__PURE__ */ new Set([
  1002,
  1003,
  1007,
  1008,
  1010
]);
function classifyClose(code, reason) {
  const key = BY_CODE.get(code);
  const status = refusalStatus(code);
  let reconnect;
  if (key !== void 0) reconnect = CLOSE_CODES[key].reconnect;
  else if (status !== void 0) reconnect = !isTerminalRefusal(status);
  else if (code >= 4e3 && code <= 4099) reconnect = true;
  else if (code >= 4100 && code <= 4199) reconnect = false;
  else reconnect = !TERMINAL_STANDARD.has(code);
  return {
    code,
    reason,
    key,
    reconnect,
    status,
    hintMs: parseRetryHint(reason)
  };
}

// sdk/emitter.ts
var Emitter = class {
  #listeners = /* @__PURE__ */ new Map();
  /**
   * Adds `listener` for `type`.
   * @returns a function that removes it
   */
  on(type, listener) {
    let set = this.#listeners.get(type);
    if (!set) this.#listeners.set(type, set = /* @__PURE__ */ new Set());
    set.add(listener);
    return () => this.off(type, listener);
  }
  /** Removes `listener` for `type` (nothing happens when it was not added). */
  off(type, listener) {
    this.#listeners.get(type)?.delete(listener);
  }
  /** Calls every listener of `type` with `event`, in the order they were added. */
  emit(type, event) {
    const set = this.#listeners.get(type);
    if (!set) return;
    for (const listener of [
      ...set
    ]) {
      try {
        listener(event);
      } catch (err) {
        report(err);
      }
    }
  }
};
function report(err) {
  const g = globalThis;
  if (typeof g.reportError === "function") g.reportError(err);
  else {
    queueMicrotask(() => {
      throw err;
    });
  }
}

// sdk/ladder_events.ts
function newLadderStats() {
  return {
    tier: "full",
    queued: 0,
    lagMs: 0,
    expired: 0,
    superseded: 0
  };
}
function applyLadderFrame(frame, stats) {
  switch (frame.type) {
    case "tier":
      stats.tier = frame.tier;
      return true;
    case "lag":
      stats.tier = frame.tier;
      stats.queued = frame.queued;
      stats.lagMs = frame.lag_ms;
      stats.superseded += frame.superseded;
      return true;
    case "expired":
      stats.expired += frame.count;
      return true;
    default:
      return false;
  }
}

// sdk/stream_state.ts
var StreamState = class {
  /** The channel. */
  channel;
  #epoch;
  #seq;
  /** The `ts_send` of the message received at {@link seq}, if one was. */
  #ts;
  /** Whether the server named the epoch on the current connection. */
  #aware = false;
  /**
   * `position`/`reset` notices of an older epoch than the one the server
   * named on this connection, ignored: a connection never moves back.
   */
  staleDiscarded = 0;
  /** @param options the channel, and a position to start from */
  constructor(options = {}) {
    this.channel = options.channel ?? DEFAULT_CHANNEL;
    this.#epoch = options.position?.epoch;
    this.#seq = options.position?.seq;
    this.#ts = options.position?.ts;
  }
  /** The epoch held, once the server named one. */
  get epoch() {
    return this.#epoch;
  }
  /** The seq held: the last received, or the one the subscription started after. */
  get seq() {
    return this.#seq;
  }
  /**
   * Moves the position back to `seq` when it is ahead of it: the client
   * stopped in the middle of an array, and the messages after `seq` were
   * never handed to the application.
   */
  rewindTo(seq, ts) {
    if (this.#seq !== void 0 && seq < this.#seq) {
      this.#seq = seq;
      this.#ts = ts;
    }
  }
  /** The position held, once both its parts are known (save it to resume later). */
  get position() {
    if (this.#epoch === void 0 || this.#seq === void 0) return void 0;
    return this.#ts === void 0 ? {
      epoch: this.#epoch,
      seq: this.#seq
    } : {
      epoch: this.#epoch,
      seq: this.#seq,
      ts: this.#ts
    };
  }
  /**
   * The URL of the next connection: `base` with the channel, the options
   * asked for and, when resuming from a position held, `since` and `epoch`.
   *
   * @param base an absolute `ws:`, `wss:`, `http:` or `https:` URL (http
   *   becomes ws) of the server's subscribe path
   * @param request control frames, batches, resume, token
   * @returns the URL, as text
   * @throws {TypeError} when `base` is not an absolute URL
   */
  connectUrl(base, request = {}) {
    const url = new URL(base);
    if (url.protocol === "http:") url.protocol = "ws:";
    else if (url.protocol === "https:") url.protocol = "wss:";
    const q = url.searchParams;
    if (this.channel !== DEFAULT_CHANNEL || q.has("channel")) {
      q.set("channel", this.channel);
    }
    if (request.token !== void 0) q.set("token", request.token);
    if (request.control || request.resume) q.set("control", "1");
    if (request.batch) {
      q.set("batch", request.batch === "auto" ? "auto" : "1");
    }
    if (request.resume && this.#seq !== void 0) {
      q.set("since", String(this.#seq));
      if (this.#epoch !== void 0) q.set("epoch", this.#epoch);
      else q.delete("epoch");
      if (this.#ts !== void 0) q.set("since_ts", String(this.#ts));
      else q.delete("since_ts");
    }
    return url.href;
  }
  /** A new connection opened: until its `position` notice, its numbering is unknown. */
  opened() {
    this.#aware = false;
  }
  /**
   * Reads one text frame and moves the position.
   * @param text the frame as received
   * @returns data (each message with what it skipped or repeated), a
   *   control frame, or why it was neither
   */
  receive(text) {
    const control = parseControl(text);
    if (control) {
      if (this.#older(control)) {
        this.staleDiscarded++;
        return {
          kind: "bad",
          error: `ignored a ${control.type} to an older epoch than ${this.#epoch}`
        };
      }
      this.#apply(control);
      return {
        kind: "control",
        frame: control
      };
    }
    let frames;
    try {
      frames = decodeDataFrames(text);
    } catch (err) {
      return {
        kind: "bad",
        error: err.message
      };
    }
    return {
      kind: "data",
      deliveries: frames.map((f) => this.#deliver(f))
    };
  }
  /** A notice that would move this connection to an older epoch than the server named on it. */
  #older(frame) {
    return (frame.type === "position" || frame.type === "reset") && this.#aware && this.#epoch !== void 0 && isOlderEpoch(frame.epoch, this.#epoch);
  }
  #apply(frame) {
    if (frame.type === "position") {
      if (this.#seq === void 0 || this.#epoch !== void 0 && frame.epoch !== this.#epoch) {
        this.#seq = frame.last_seq;
        this.#ts = void 0;
      }
      this.#epoch = frame.epoch;
      this.#aware = true;
    } else if (frame.type === "reset") {
      this.#epoch = frame.epoch;
      this.#seq = frame.last_seq;
      this.#ts = void 0;
      this.#aware = true;
    }
  }
  #deliver(frame) {
    const last = this.#seq;
    let missed = 0;
    let repeat = false;
    if (last === void 0 || frame.seq > last) {
      missed = last === void 0 ? 0 : frame.seq - last - 1;
      this.#seq = frame.seq;
      this.#ts = frame.ts_send;
    } else {
      repeat = true;
      if (!this.#aware) {
        this.#seq = frame.seq;
        this.#ts = frame.ts_send;
      }
    }
    return {
      message: {
        seq: frame.seq,
        epoch: this.#epoch,
        channel: frame.channel ?? this.channel,
        ts_send: frame.ts_send,
        data: frame.data,
        payload_b64: frame.payload_b64
      },
      missed,
      repeat
    };
  }
};

// sdk/client_util.ts
function spread(hintMs, random) {
  return Math.round(hintMs + Math.min(hintMs / 4, 2e3) * random());
}
function redactToken(url) {
  const u = new URL(url);
  if (u.searchParams.has("token")) u.searchParams.set("token", "***");
  return u.href;
}
function randomId() {
  const c = globalThis.crypto;
  const bytes = new Uint8Array(16);
  if (c?.getRandomValues) c.getRandomValues(bytes);
  else for (let i = 0; i < 16; i++) bytes[i] = Math.floor(Math.random() * 256);
  const alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
  let id = "";
  for (const b of bytes) id += alphabet[b & 63];
  return id + alphabet[bytes[0] >> 6] + alphabet[bytes[1] >> 6];
}

// sdk/client.ts
var FanoutClient = class {
  /** What was counted so far. */
  stats = {
    messages: 0,
    frames: 0,
    connects: 0,
    duplicates: 0,
    missed: 0,
    ...newLadderStats()
  };
  #events = new Emitter();
  #base;
  #stream;
  #backoff;
  #options;
  #WebSocket;
  #random;
  // Not Promise.withResolvers(): Node 20 does not have it.
  #closed;
  #resolveClosed;
  #state = "idle";
  #attempt;
  #timer;
  #stopped = false;
  #attempts = 0;
  /** Whether the current connection has had a frame (a real session, not a refusal). */
  #served = false;
  /** Whether the last close was a credential refusal, so a fresh token is being tried. */
  #refreshing = false;
  /**
   * @param url the server: `ws://host:port/` (`wss:`, `http:`, `https:` work
   *   too; in a browser a relative URL such as `/` is resolved against the page)
   * @param options channel, token, batches, ACKs, resume, backoff, WebSocket
   * @throws {TypeError} when `url` is not a URL, or there is no WebSocket
   *   (Node 20: run with `--experimental-websocket`, or pass `options.WebSocket`)
   */
  constructor(url, options = {}) {
    const page = globalThis.location;
    this.#base = new URL(url, page?.href);
    this.#closed = new Promise((resolve) => this.#resolveClosed = resolve);
    this.#options = options;
    this.clientId = options.clientId ?? randomId();
    this.#stream = new StreamState({
      ...options.channel === void 0 ? {} : {
        channel: options.channel
      },
      position: options.position
    });
    this.#backoff = new Backoff({
      jitter: 0.5,
      ...options.backoff
    });
    this.#random = options.backoff?.random ?? Math.random;
    const ws = options.WebSocket ?? globalThis.WebSocket;
    if (!ws) {
      throw new TypeError("no WebSocket in this runtime: on Node 20 run with --experimental-websocket (Node 22 has it), or pass options.WebSocket");
    }
    this.#WebSocket = ws;
  }
  /** This client's id (`options.clientId`, or a random one), sent as `?client=`. */
  clientId;
  /** The channel subscribed to. */
  get channel() {
    return this.#stream.channel;
  }
  /** The position held: save it to resume later with `options.position`. */
  get position() {
    return this.#stream.position;
  }
  /** What the client is doing now. */
  get state() {
    return this.#state;
  }
  /** Resolves once the client has stopped for good: {@link close}, a terminal close, or `reconnect: false`. */
  get closed() {
    return this.#closed;
  }
  /**
   * Adds a listener.
   * @returns a function that removes it
   */
  on(type, listener) {
    return this.#events.on(type, listener);
  }
  /** Removes a listener. */
  off(type, listener) {
    this.#events.off(type, listener);
  }
  /**
   * Connects (once; later calls do nothing).
   * @returns this client
   */
  start() {
    if (this.#state === "idle") void this.#connect();
    return this;
  }
  /**
   * Stops at once: closes the connection (1000), never reconnects, and
   * emits no event after this call but the one final `close` (emitted
   * before it returns); `closed` resolves with it.
   */
  close(reason = "client closing") {
    if (this.#stopped || this.#state === "closed") return;
    this.#stopped = true;
    clearTimeout(this.#timer);
    this.#attempt?.stop(1e3, reason);
    this.#attempt = void 0;
    this.#finish({
      ...classifyClose(1e3, reason),
      willReconnect: false,
      retryInMs: void 0
    });
  }
  async #connect() {
    this.#timer = void 0;
    this.#state = "connecting";
    this.#attempts++;
    const o = this.#options;
    let token = o.token;
    if (o.getToken) {
      try {
        token = await o.getToken();
      } catch (err) {
        if (this.#stopped) return;
        this.#ended(void 0, 1006, `getToken failed: ${String(err)}`);
        return;
      }
      if (this.#stopped) return;
    }
    const url = this.#stream.connectUrl(this.#base, {
      control: true,
      resume: o.resume ?? true,
      batch: o.batch ?? "auto",
      token
    });
    const wire = new URL(url);
    wire.searchParams.set("refusal", "close");
    wire.searchParams.set("client", this.clientId);
    const attempt = this.#attempts;
    this.#served = false;
    const shown = redactToken(url);
    let current = void 0;
    current = new Attempt(this.#WebSocket, wire.href, {
      // Open once the server's first frame says it is a session: a refusal
      // sent as a close (`?refusal=close`) opens the socket too.
      onOpen: () => {
      },
      onMessage: (data) => {
        if (!current) return;
        if (!this.#served) {
          this.#served = true;
          this.#refreshing = false;
          this.#backoff.reset();
          this.#state = "open";
          this.stats.connects++;
          this.#stream.opened();
          this.#events.emit("open", {
            url: shown,
            attempt
          });
          if (this.#attempt !== current) return;
        }
        this.#frame(current, data);
      },
      onEnd: (code, reason) => this.#ended(current, code, reason)
    }, {
      connectTimeoutMs: o.connectTimeoutMs ?? CONNECT_TIMEOUT_MS
    });
    if (!current.ended) this.#attempt = current;
  }
  #frame(attempt, data) {
    if (typeof data !== "string") {
      this.#events.emit("error", {
        error: "binary frame: not this protocol"
      });
      return;
    }
    this.stats.frames++;
    const got = this.#stream.receive(data);
    if (got.kind === "bad") {
      this.#events.emit("error", {
        error: got.error
      });
      return;
    }
    if (got.kind === "control") {
      const frame = got.frame;
      if (applyLadderFrame(frame, this.stats)) {
        this.#events.emit(frame.type, frame);
        if (frame.type === "lag") this.#events.emit("stats", this.stats);
        return;
      }
      if (frame.type === "position" || frame.type === "gap" || frame.type === "reset" || frame.type === "dropped" || frame.type === "last_close") {
        this.#events.emit(frame.type, frame);
      }
      return;
    }
    let last;
    for (const { message, missed, repeat } of got.deliveries) {
      if (this.#attempt !== attempt) {
        if (repeat) continue;
        const seq = message.seq - missed - 1;
        this.#stream.rewindTo(seq, last?.seq === seq ? last.ts_send : void 0);
        break;
      }
      if (repeat) {
        this.stats.duplicates++;
        continue;
      }
      this.stats.missed += missed;
      this.stats.messages++;
      last = message;
      this.#events.emit("message", message);
    }
    if (last && this.#options.ack && this.#attempt === attempt) {
      attempt.send(encodeAck(last.ts_send, last.seq));
    }
  }
  #ended(attempt, code, reason) {
    if (this.#stopped || attempt !== this.#attempt) return;
    this.#attempt = void 0;
    const info = classifyClose(code, reason);
    const credential = info.status === 401 || info.key === "token_expired";
    const refresh = credential && this.#options.getToken !== void 0 && !this.#refreshing;
    this.#refreshing = refresh;
    if (!info.reconnect && !refresh || this.#options.reconnect === false) {
      this.#finish({
        ...info,
        willReconnect: false,
        retryInMs: void 0
      });
      return;
    }
    const delay = info.hintMs === void 0 ? this.#backoff.next() : spread(info.hintMs, this.#random);
    this.#state = "waiting";
    this.#timer = setTimeout(() => void this.#connect(), delay);
    this.#events.emit("close", {
      ...info,
      willReconnect: true,
      retryInMs: delay
    });
  }
  #finish(event) {
    this.#stopped = true;
    this.#state = "closed";
    this.#events.emit("close", event);
    this.#resolveClosed(event);
  }
};
export {
  Attempt,
  Backoff,
  CLOSE_CODES,
  CONNECT_TIMEOUT_MS,
  DEFAULT_CHANNEL,
  ERROR_GRACE_MS,
  Emitter,
  FanoutClient,
  INITIAL_BACKOFF_MS,
  MAX_BACKOFF_MS,
  PROTOCOL_VERSION,
  StreamState,
  applyLadderFrame,
  classifyClose,
  encodeAck,
  newLadderStats,
  parseRetryHint,
  refusalCloseCode,
  refusalStatus,
  withRetryHint
};
