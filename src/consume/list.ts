/** The consumers of a journal as an operator sees them: position, lag, last activity, live or expired; and the retention floor. */
import type { StoredPosition } from '../positions/entry.js';
import { consumerStates, consumersForRetention, floorOf } from '../positions/retention.js';
import { readPositions } from '../positions/store.js';
import { journalInfo } from '../read/info.js';

export interface ConsumerPosition {
  name: string;
  /** The last committed seq (0: nothing committed yet). */
  seq: number;
  /** When the position was last committed (ms since the epoch), 0 if never. */
  updated: number;
  /** The id of the journal the position belongs to. */
  journal: string | null;
}

export interface ConsumerInfo extends ConsumerPosition, Pick<StoredPosition, 'lastActive' | 'expireAfterMs' | 'group'> {
  /** Records in the journal after the committed one (by seq). */
  lag: number;
  /** Open in a running process now (a group: at least one member). */
  live: boolean;
  /** Not live and not seen for longer than its expireAfterMs: it no longer holds records back from compaction. */
  expired: boolean;
}

/** Every consumer of the journal at `path`, with its position, lag and state. */
export async function listConsumers(file: string): Promise<ConsumerInfo[]> {
  const { lastSeq } = await journalInfo(file);
  const states = await consumerStates(file, await readPositions(file));
  return states.map((s) => ({
    name: s.name, seq: s.seq, updated: s.updated, journal: s.journal, lag: Math.max(0, lastSeq - s.seq),
    lastActive: s.lastActive, expireAfterMs: s.expireAfterMs, group: s.group, live: s.live, expired: s.expired,
  }));
}

/**
 * The lowest seq a consumer that is not expired still needs (its committed seq + 1), or undefined
 * if there is none: compaction keeps everything from there unless told otherwise.
 */
export async function consumersFloor(file: string): Promise<number | undefined> {
  if (typeof file !== 'string' || file === '') throw new TypeError('path must be a non-empty string');
  return floorOf(await consumersForRetention(file));
}
