/**
 * An NDJSON batch whose lines each carry their own `idempotency_key`: each
 * line is published on its own under its key (a retry of the whole batch
 * publishes only the lines that did not get through), in order. Without
 * per-line keys a batch is one atomic publish under the `Idempotency-Key`
 * header instead (`publish.ts`).
 *
 * @module
 */
import { BrokerUnavailableError } from "../core/broker.ts";
import type { PublishBody } from "../core/frame.ts";
import type { HttpSource } from "../sources/source_http.ts";

/** One line to publish under its own key. */
export interface KeyedBody {
  /** The message. */
  readonly body: PublishBody;
  /** Its `idempotency_key`. */
  readonly key: string;
}

/** Every line went through (some perhaps as duplicates of an earlier try). */
export interface EachPublished {
  readonly ok: true;
  /** The channel's epoch. */
  readonly epoch: string;
  /** Each line's seq, in order. */
  readonly seqs: number[];
  /** Indexes of the lines that were published before (the original seq is given). */
  readonly duplicates: number[];
}

/** The broker stopped taking lines at `published` (the lines before it went through). */
export interface EachRefused {
  readonly ok: false;
  /** Lines published before the refusal. */
  readonly published: number;
  /** Why. */
  readonly error: BrokerUnavailableError;
}

/**
 * Publishes `lines` one by one, each under its key.
 * @throws whatever the source throws other than {@link BrokerUnavailableError}
 */
export async function publishEach(
  source: HttpSource,
  channel: string,
  lines: readonly KeyedBody[],
): Promise<EachPublished | EachRefused> {
  const seqs: number[] = [];
  const duplicates: number[] = [];
  let epoch = "";
  for (const [i, { body, key }] of lines.entries()) {
    try {
      const out = await source.publish(channel, [body], {
        idempotencyKey: key,
      });
      seqs.push(out.first);
      epoch = out.epoch;
      if (out.duplicate) duplicates.push(i);
    } catch (error) {
      if (!(error instanceof BrokerUnavailableError)) throw error;
      return { ok: false, published: i, error };
    }
  }
  return { ok: true, epoch, seqs, duplicates };
}
