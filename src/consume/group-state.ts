/**
 * A group's work log as a state machine: which ranges of seqs are claimed, by which member, until
 * when, and the floor below which every record is acknowledged. Every member applies the same
 * lines in the same order, so every member computes the same state (docs/design.md, "Groups").
 */
import { ErrorCode, JournalError } from '../errors.js';

/** A range of seqs claimed by a member until `until` (ms since the epoch); 0 when released. */
export interface Lease {
  from: number;
  to: number;
  member: string;
  until: number;
  /** Seqs of the range acknowledged already: whoever takes the range over skips them. */
  acked: number[];
}

/**
 * A line of the work log. `epoch` and `claim` and `state` lines are appended only right after the
 * line their writer read last (compare-and-swap on the seq), so they always apply; `renew`,
 * `release` and `done` may be appended anywhere and apply only as far as they still can. These
 * name the epoch of their claims (`e`): after a forced reset, the lines of a member still working
 * on claims of the old epoch apply to nothing (earlier versions wrote no `e`: such lines apply).
 */
export type WorkLine =
  | { op: 'epoch'; epoch: number; floor: number }
  | { op: 'claim'; m: string; from: number; to: number; until: number }
  | { op: 'renew'; m: string; e?: number; froms: number[]; until: number; acked: number[] }
  | { op: 'release'; m: string; e?: number; froms: number[]; acked: number[] }
  | { op: 'done'; m: string; e?: number; from: number }
  | { op: 'state'; epoch: number; next: number; leases: Lease[] };

export class GroupState {
  /** The epoch of the group's position these claims belong to; -1 before the first epoch line. */
  epoch = -1;
  /** The lowest seq never claimed in this epoch. */
  next = 1;
  /** Claimed ranges not finished yet, by their first seq. */
  readonly leases = new Map<number, Lease>();
  /** Lines applied since the last `state` line. */
  sinceSnapshot = 0;

  /** Every seq up to this is acknowledged: the group's position. */
  get floor(): number {
    let low = this.next;
    for (const from of this.leases.keys()) if (from < low) low = from;
    return low - 1;
  }

  apply(line: WorkLine): void {
    this.sinceSnapshot++;
    // Claims of another epoch are gone: what their member says of them changes nothing.
    if ('e' in line && line.e !== undefined && line.e !== this.epoch) return;
    switch (line.op) {
      case 'epoch':
        this.epoch = line.epoch;
        this.next = line.floor + 1;
        this.leases.clear();
        return;
      case 'claim': {
        const taken = this.leases.get(line.from);
        this.leases.set(line.from, { from: line.from, to: line.to, member: line.m, until: line.until, acked: taken?.acked ?? [] });
        if (line.to >= this.next) this.next = line.to + 1;
        return;
      }
      case 'renew':
      case 'release':
        // Acknowledged is acknowledged, whoever holds the range now.
        for (const seq of line.acked) {
          for (const l of this.leases.values()) if (seq >= l.from && seq <= l.to) l.acked.push(seq);
        }
        for (const from of line.froms) {
          const l = this.leases.get(from);
          // A lease taken over by another member is no longer the renewer's to extend or give back.
          if (l !== undefined && l.member === line.m) l.until = line.op === 'renew' ? line.until : 0;
        }
        return;
      case 'done':
        // Whoever finished the records, they are processed: the lease is done even if another member took it over.
        this.leases.delete(line.from);
        return;
      case 'state':
        this.epoch = line.epoch;
        this.next = line.next;
        this.leases.clear();
        for (const l of line.leases) this.leases.set(l.from, { ...l, acked: [...l.acked] });
        this.sinceSnapshot = 0;
    }
  }

  /** The lowest lease of another member that expired or was released by `now`: its records are free to take. */
  reclaimable(now: number, me: string): Lease | undefined {
    let best: Lease | undefined;
    for (const l of this.leases.values()) {
      if (l.member !== me && l.until <= now && (best === undefined || l.from < best.from)) best = l;
    }
    return best;
  }

  /** When the first lease of another member runs out, or Infinity. */
  nextExpiry(me: string): number {
    let t = Infinity;
    for (const l of this.leases.values()) if (l.member !== me && l.until < t) t = l.until;
    return t;
  }

  /** A `state` line holding everything: what the log can be compacted down to. */
  snapshot(): WorkLine {
    return { op: 'state', epoch: this.epoch, next: this.next, leases: [...this.leases.values()].map((l) => ({ ...l, acked: [...l.acked] })) };
  }
}

const nat = (v: unknown): v is number => typeof v === 'number' && Number.isSafeInteger(v) && v >= 0;
const optNat = (v: unknown): boolean => v === undefined || nat(v);
const natList = (v: unknown): v is number[] => Array.isArray(v) && v.every(nat);
const isLease = (v: unknown): v is Lease => {
  const o = v as Record<string, unknown>;
  return typeof o === 'object' && o !== null && nat(o.from) && nat(o.to) && typeof o.member === 'string' && nat(o.until) && natList(o.acked);
};

/** The work line a record of the log holds; CORRUPT if it is none (only this library writes the log). */
export function parseWorkLine(data: unknown, log: string, seq: number): WorkLine {
  const o = data as Record<string, unknown>;
  const ok = typeof o === 'object' && o !== null && (() => {
    switch (o.op) {
      case 'epoch': return nat(o.epoch) && nat(o.floor);
      case 'claim': return typeof o.m === 'string' && nat(o.from) && nat(o.to) && nat(o.until);
      case 'renew': return typeof o.m === 'string' && optNat(o.e) && natList(o.froms) && nat(o.until) && natList(o.acked);
      case 'release': return typeof o.m === 'string' && optNat(o.e) && natList(o.froms) && natList(o.acked);
      case 'done': return typeof o.m === 'string' && optNat(o.e) && nat(o.from);
      case 'state': return nat(o.epoch) && nat(o.next) && Array.isArray(o.leases) && o.leases.every(isLease);
      default: return false;
    }
  })();
  if (!ok) throw new JournalError(ErrorCode.CORRUPT, `${log}: the line of seq ${seq} is not a line of a group's work log`, { path: log });
  return o as unknown as WorkLine;
}
