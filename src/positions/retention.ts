/**
 * Which consumers hold records back from compaction: every consumer that is live or was seen within
 * its expireAfterMs. An expired one keeps its position but no longer holds anything back.
 */
import type { StoredPosition } from './entry.js';
import { isLive } from './liveness.js';
import { readPositions, type Positions } from './store.js';

export interface ConsumerState extends StoredPosition {
  /** Open in a running process now (for a group: at least one member). */
  live: boolean;
  /** Not live, and not seen for longer than its expireAfterMs. */
  expired: boolean;
}

/** Each consumer's position with whether it is live and whether it has expired, as of `now`. */
export async function consumerStates(journal: string, positions: Positions, now = Date.now()): Promise<ConsumerState[]> {
  const out: ConsumerState[] = [];
  for (const p of positions.all()) {
    const live = await isLive(journal, p.name);
    out.push({ ...p, live, expired: !live && p.expireAfterMs !== null && now - p.lastActive > p.expireAfterMs });
  }
  return out;
}

/** The consumers of the journal with their states, read durably: what a compaction may act on. */
export async function consumersForRetention(journal: string): Promise<ConsumerState[]> {
  return consumerStates(journal, await readPositions(journal, { durable: true }));
}

/** The lowest seq any consumer that is not expired still needs (its committed seq + 1), or undefined if none does. */
export function floorOf(states: readonly ConsumerState[]): number | undefined {
  let floor: number | undefined;
  for (const s of states) if (!s.expired) floor = Math.min(floor ?? Infinity, s.seq + 1);
  return floor;
}
