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
import type { Session } from "./session.ts";

/**
 * Reads the backlog of `session` from `broker`, and tells the session its
 * channel's epoch. A client that asked for no control frames gets none. A
 * history the broker cannot read becomes a `gap` notice for everything
 * asked for: the client is told, never resumed silently.
 * @param replayDone called once the replay is complete (or there is none)
 * @param extra control frames sent right after `position` (e.g. `last_close`)
 */
export function readBacklog(
  broker: Broker,
  session: Session,
  resume: Resume,
  replayDone: (() => void) | undefined,
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
    };
  };
  if (!(history instanceof Promise)) return backlog(history);
  return history.then(backlog, (): Backlog => {
    replayDone?.();
    const { since } = resume;
    const { epoch, seq } = broker.position(channel);
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
