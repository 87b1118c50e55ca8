/**
 * Where named consumers keep their positions: `<journal>.consumers/<name>.pos`, one framed JSON
 * line each (the journal's own line format), replaced by write-replace on every commit.
 */
import fs from 'node:fs';
import path from 'node:path';
import { ErrorCode, JournalError, ioError } from '../errors.js';
import { decodeFrame, frameJson } from '../format/frame.js';
import { makeDirDurably, writeFileDurably } from '../fs/durable.js';
import { dirOf, io } from '../fs/io.js';
import { removeStaleTemps } from '../fs/temps.js';

export interface ConsumerPosition {
  name: string;
  /** The last committed seq (0: nothing committed yet). */
  seq: number;
  /** When the position was last committed (ms since the epoch), 0 if never. */
  updated: number;
  /** The id of the journal the position belongs to. */
  journal: string | null;
}

export interface StoredPosition extends ConsumerPosition {
  /** Fingerprint of the committed record: `<ts>:<crc of its data's JSON>`. */
  fingerprint: string | null;
}

/** What a consumer name may be: it becomes a file name. */
export const CONSUMER_NAME = /^[A-Za-z0-9][A-Za-z0-9._-]{0,99}$/;

/** The directory holding a journal's consumer positions. */
export function consumersDir(journal: string): string {
  return path.join(dirOf(journal), `${path.basename(journal)}.consumers`);
}

const positionFile = (journal: string, name: string) => path.join(consumersDir(journal), `${name}.pos`);

/** The stored position of consumer `name`, or null if it has none. A damaged one is CORRUPT: it is written by write-replace, so never torn. */
export async function readPosition(journal: string, name: string): Promise<StoredPosition | null> {
  const p = positionFile(journal, name);
  let bytes: Buffer;
  try {
    bytes = await fs.promises.readFile(p);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return null;
    throw ioError('cannot read the consumer position', p, err);
  }
  const lf = bytes.indexOf(0x0a);
  const decoded = decodeFrame(bytes.subarray(0, lf < 0 ? bytes.length : lf));
  const o = typeof decoded === 'string' ? null : (decoded.value as Partial<StoredPosition> | null);
  if (o === null || typeof o !== 'object' || typeof o.seq !== 'number' || !Number.isSafeInteger(o.seq) || o.seq < 0) {
    throw new JournalError(ErrorCode.CORRUPT, `${p}: consumer position is damaged (${typeof decoded === 'string' ? decoded : 'not a position'})`, { path: p });
  }
  return { name, seq: o.seq, updated: o.updated ?? 0, journal: o.journal ?? null, fingerprint: o.fingerprint ?? null };
}

/** Stores a position durably (write-replace), creating the positions directory if needed. */
export async function writePosition(journal: string, pos: StoredPosition): Promise<void> {
  await makeDirDurably(consumersDir(journal));
  const line = frameJson(JSON.stringify({ name: pos.name, seq: pos.seq, updated: pos.updated, journal: pos.journal, fingerprint: pos.fingerprint }));
  await writeFileDurably(positionFile(journal, pos.name), line);
}

/** Removes the temp files a crash left from this consumer's commits. */
export async function removeStalePositionTemps(journal: string, name: string): Promise<void> {
  await removeStaleTemps(positionFile(journal, name));
}

/** The names of the journal's consumers, sorted. */
export async function consumerNames(journal: string): Promise<string[]> {
  let names: string[];
  try {
    names = await io.readdir(consumersDir(journal));
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return [];
    throw ioError('cannot list consumers of', journal, err);
  }
  return names.filter((n) => n.endsWith('.pos') && !n.startsWith('.')).map((n) => n.slice(0, -4)).sort();
}
