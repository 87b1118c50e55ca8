/** A Journal's options: what each means, its default, and the checks that reject a bad one up front. */
import { MAX_RECORD_BYTES } from '../format/limits.js';

export type Durability = 'always' | 'interval' | 'unsafe-nosync';

/** `T`: the type of the journal's records' data, which the retention policy's `key` is given. */
export interface JournalOptions<T = unknown> {
  /**
   * When an append resolves. 'always': after fdatasync, so an acknowledged record survives a power
   * loss. 'interval': after write(2); a background fdatasync runs every `syncIntervalMs`, so a power
   * loss can take back the acknowledged records of the last interval (a process crash cannot).
   * 'unsafe-nosync': after write(2), never synced unless flush() is called.
   * @default 'always'
   */
  durability?: Durability;
  /** Period of the background fdatasync with durability 'interval'. @default 1000 */
  syncIntervalMs?: number;
  /** Largest line one record may take in the file, framing included. @default 16 MiB */
  maxRecordBytes?: number;
  /** A batch stops taking queued appends when it reaches this size (one appendMany group is never split). @default 4 MiB */
  maxBatchBytes?: number;
  /** When this many bytes wait to be written, append waits instead of queueing more. @default 64 MiB */
  maxPendingBytes?: number;
  /** How long a batch may wait for the writers' lock before its appends reject with LOCK_TIMEOUT. @default 30000 */
  lockTimeoutMs?: number;
  /** Create the journal if it does not exist. @default true */
  create?: boolean;
  /**
   * The id and creation time a journal created by this open gets, instead of new ones: for
   * restoring a copy of another journal. Ignored when the journal exists.
   */
  identity?: { id: string; created: number };
  /**
   * Retention that runs itself: this writer compacts the journal in the background once it holds
   * half as much again as the policy allows (docs/api.md, "Retention that runs itself").
   */
  retention?: RetentionPolicy<T>;
}

export interface RetentionPolicy<T = unknown> {
  /** Keep records appended within this many ms. */
  maxAgeMs?: number;
  /** Keep the newest records that fit in a file of this many bytes. */
  maxBytes?: number;
  /** As compact's `key`: the latest record of each key is kept however old, and superseded ones go. */
  key?: (rec: { seq: number; ts: number; data: T; offset: number }) => string | undefined;
  /** Called with each compaction's result, or the error that ended one (another process compacting is not one). */
  onCompacted?: (result: unknown) => void;
  onError?: (err: unknown) => void;
}

/** JournalOptions with every default filled in, checked once at open. */
export interface JournalSettings {
  readonly durability: Durability;
  readonly syncIntervalMs: number;
  readonly maxRecordBytes: number;
  readonly maxBatchBytes: number;
  readonly maxPendingBytes: number;
  readonly lockTimeoutMs: number;
  readonly create: boolean;
  readonly identity: { id: string; created: number } | undefined;
  readonly retention: RetentionPolicy | undefined;
}

const MiB = 1024 * 1024;

export function resolveOptions(o: JournalOptions = {}): JournalSettings {
  const durability = o.durability ?? 'always';
  if (durability !== 'always' && durability !== 'interval' && durability !== 'unsafe-nosync') {
    throw new TypeError(`durability must be 'always', 'interval' or 'unsafe-nosync', not ${String(durability)}`);
  }
  if (o.syncIntervalMs !== undefined && durability !== 'interval') {
    throw new TypeError(`syncIntervalMs only applies to durability 'interval'`);
  }
  const r: JournalSettings = {
    durability,
    syncIntervalMs: positive('syncIntervalMs', o.syncIntervalMs ?? 1000),
    maxRecordBytes: positive('maxRecordBytes', o.maxRecordBytes ?? MAX_RECORD_BYTES),
    maxBatchBytes: positive('maxBatchBytes', o.maxBatchBytes ?? 4 * MiB),
    maxPendingBytes: positive('maxPendingBytes', o.maxPendingBytes ?? 64 * MiB),
    lockTimeoutMs: nonNegative('lockTimeoutMs', o.lockTimeoutMs ?? 30_000),
    create: o.create ?? true,
    identity: o.identity,
    retention: o.retention,
  };
  const ret = r.retention;
  if (ret !== undefined) {
    if (typeof ret !== 'object' || ret === null) throw new TypeError('retention must be an object');
    if (ret.maxAgeMs === undefined && ret.maxBytes === undefined) throw new TypeError('retention needs maxAgeMs or maxBytes');
    if (ret.maxAgeMs !== undefined) positive('retention.maxAgeMs', ret.maxAgeMs);
    if (ret.maxBytes !== undefined) positive('retention.maxBytes', ret.maxBytes);
    if (ret.key !== undefined && typeof ret.key !== 'function') throw new TypeError('retention.key must be a function');
  }
  if (r.identity !== undefined && (typeof r.identity.id !== 'string' || r.identity.id === '' || !Number.isSafeInteger(r.identity.created))) {
    throw new TypeError('identity must be { id: non-empty string, created: ms since the epoch }');
  }
  if (r.maxPendingBytes < r.maxRecordBytes) throw new RangeError('maxPendingBytes must be at least maxRecordBytes');
  return r;
}

function positive(name: string, v: number): number {
  if (typeof v !== 'number' || !(v > 0)) throw new RangeError(`${name} must be a positive number`);
  return v;
}

function nonNegative(name: string, v: number): number {
  if (typeof v !== 'number' || !(v >= 0)) throw new RangeError(`${name} must be zero or more`);
  return v;
}
