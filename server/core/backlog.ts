/**
 * What a control client receives before the live stream: its position
 * (`epoch`, and the seq the live stream continues after), then what the
 * broker's history says about its `since`. The hub reads it as the client
 * joins; the mode sends it ahead of any live frame.
 *
 * @module
 */
import { encodeControl } from "../../lib/protocol.ts";
import type { Broker, History, ReplayCursor, Resume } from "./broker.ts";
import type { Backlog } from "./mode.ts";
import type { OutFrame } from "./frame.ts";
import type { Session } from "./session.ts";

/** How the hub keeps live frames of an older epoch out of a joining client's stream. */
export interface EpochGuard {
  /** A history read starts (+1) or ends (-1): while any runs, live frames are tagged with their epoch. */
  reading(delta: 1 | -1): void;
  /** Whether `frame` was delivered in an epoch older than `epoch` (then it is dropped, never spliced). */
  stale(frame: OutFrame, epoch: string): boolean;
}

/**
 * Reads the backlog of `session` from `broker`, and tells the session its
 * channel's epoch. A client that asked for no control frames gets none. A
 * history the broker cannot read becomes a `gap` notice for everything
 * asked for: the client is told, never resumed silently.
 * @param replayDone called once the replay is complete (or there is none)
 * @param guard tags live frames while the history is read, and tells which
 *   queued ones belong to an older epoch than the history's
 * @param extra control frames sent right after `position` (e.g. `last_close`)
 */
export function readBacklog(
  broker: Broker,
  session: Session,
  resume: Resume,
  replayDone: (() => void) | undefined,
  guard: EpochGuard,
  extra: readonly string[] = [],
): Backlog | Promise<Backlog> | undefined {
  if (!session.control) {
    replayDone?.();
    return undefined;
  }
  const { channel } = session;
  const history = broker.history(channel, resume);
  const backlog = (h: History): Backlog => {
    session.epoch = h.epoch;
    return {
      notices: [
        encodeControl({
          type: "position",
          channel,
          epoch: h.epoch,
          last_seq: h.until,
        }),
        ...extra,
        ...h.notices,
      ],
      replay: replayDone ? watched(h.replay, replayDone) : h.replay,
      after: h.until,
      stale: (frame) => guard.stale(frame, h.epoch),
    };
  };
  if (!(history instanceof Promise)) return backlog(history);
  guard.reading(1);
  return history.then((h) => {
    guard.reading(-1);
    return backlog(h);
  }, (): Backlog => {
    guard.reading(-1);
    replayDone?.();
    const { since } = resume;
    const { epoch, seq } = broker.position(channel);
    // A broker that cannot name the channel's epoch (it stopped following
    // it: the session is going too) gives no position: a position always
    // names an epoch.
    if (epoch === "") return { notices: [], after: seq };
    session.epoch = epoch;
    const notices = [
      encodeControl({ type: "position", channel, epoch, last_seq: seq }),
      ...extra,
    ];
    if (since !== undefined && since < seq) {
      notices.push(encodeControl({
        type: "gap",
        channel,
        from: since + 1,
        to: seq,
        missed: seq - since,
      }));
    }
    return { notices, after: seq };
  });
}

/** `cursor`, calling `done` once it has nothing more to give. */
function watched(cursor: ReplayCursor, done: () => void): ReplayCursor {
  return {
    next() {
      const text = cursor.next();
      if (text === undefined) done();
      return text;
    },
    get seq() {
      return cursor.seq;
    },
  };
}
