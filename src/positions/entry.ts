/**
 * One line of the positions log: what a consumer committed, or that it was reset or deleted, and
 * which of several lines about one consumer is its position (the precedence rule).
 */

/** A consumer's position as the store holds it. */
export interface StoredPosition {
  name: string;
  /** The last committed seq: every record up to it is processed (0: nothing yet). */
  seq: number;
  /** Raised by every reset and delete; lines of a lower epoch are ignored (a consumer reset under a running process cannot overwrite the reset). */
  epoch: number;
  /** The id of the journal the position belongs to (null until the first commit). */
  journal: string | null;
  /** Fingerprint of the committed record, `<ts>:<crc of its data's JSON>`; null when the position was set by a reset or a group. */
  fingerprint: string | null;
  /** When the seq was committed (ms since the epoch), 0 if never. */
  updated: number;
  /** When the consumer was last seen: its last commit, open, heartbeat or reset. */
  lastActive: number;
  /** A consumer not seen for this long is expired and no longer holds records back from compaction; null: never. */
  expireAfterMs: number | null;
  /** Whether the consumer is a group, whose members share the records. */
  group: boolean;
}

/** A line of the log: a position, or a tombstone saying the consumer was deleted. */
export type PositionEntry = Omit<StoredPosition, 'lastActive'> | { name: string; epoch: number; $tombstone: true };

export const isDeletion = (e: PositionEntry): e is { name: string; epoch: number; $tombstone: true } => '$tombstone' in e;

/** The data of a log line for `e`. */
export function entryData(e: PositionEntry): object {
  if (isDeletion(e)) return { name: e.name, epoch: e.epoch, $tombstone: true };
  return {
    name: e.name, epoch: e.epoch, seq: e.seq, journal: e.journal, fingerprint: e.fingerprint, updated: e.updated,
    expireAfterMs: e.expireAfterMs, group: e.group,
  };
}

const nat = (v: unknown): v is number => typeof v === 'number' && Number.isSafeInteger(v) && v >= 0;

/** The entry a log line holds, or null if it is not one. */
export function parseEntry(data: unknown): PositionEntry | null {
  if (typeof data !== 'object' || data === null) return null;
  const o = data as Record<string, unknown>;
  if (typeof o.name !== 'string' || !nat(o.epoch)) return null;
  if (o.$tombstone === true) return { name: o.name, epoch: o.epoch, $tombstone: true };
  if (!nat(o.seq) || !nat(o.updated)) return null;
  if (!(o.journal === null || typeof o.journal === 'string') || !(o.fingerprint === null || typeof o.fingerprint === 'string')) return null;
  if (!(o.expireAfterMs === null || nat(o.expireAfterMs)) || typeof o.group !== 'boolean') return null;
  return {
    name: o.name, epoch: o.epoch, seq: o.seq, journal: o.journal, fingerprint: o.fingerprint, updated: o.updated,
    expireAfterMs: o.expireAfterMs, group: o.group,
  };
}

/**
 * Whether `a` ranks above `b` as a consumer's position: the higher epoch wins; within an epoch the
 * higher seq (a deletion ranks below every seq); a line of equal rank that comes later in the log
 * wins over an earlier one, so pass the later line as `a`. Positions only rise within an epoch,
 * except that the members of a group may commit floors out of order: every floor they commit is
 * safe, so the highest is the position.
 */
export function outranks(a: PositionEntry, b: PositionEntry): boolean {
  if (a.epoch !== b.epoch) return a.epoch > b.epoch;
  return rank(a) >= rank(b);
}

/** Where a line stands within its epoch: its seq, or -1 for a deletion. */
export const rank = (e: PositionEntry): number => (isDeletion(e) ? -1 : e.seq);
